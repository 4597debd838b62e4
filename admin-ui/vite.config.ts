import { defineConfig } from "vite";

// Relative asset paths so dist/ works from any folder or Pages sub-path.
export default defineConfig({
  base: "./",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: { target: "es2022", outDir: "dist", emptyOutDir: true, reportCompressedSize: true, chunkSizeWarningLimit: 200 },
  server: { port: 8788, host: "127.0.0.1" },
  preview: { port: 8788, host: "127.0.0.1" },
});

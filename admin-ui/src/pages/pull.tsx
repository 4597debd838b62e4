// Model pull with live progress from the NDJSON stream the admin API relays from Ollama.
import { useRef, useState } from "preact/hooks";
import { postNdjson } from "../api";
import { Button, ErrorBox, Field, fmtBytes, inputValue } from "../ui";

interface Progress {
  status: string;
  layers: Record<string, { total: number; completed: number }>;
  error?: string;
  done: boolean;
}

function percent(p: Progress): number | null {
  const ls = Object.values(p.layers);
  const total = ls.reduce((a, l) => a + l.total, 0);
  if (!total) return null;
  return Math.min(100, (100 * ls.reduce((a, l) => a + l.completed, 0)) / total);
}

export function PullPanel({ path, onDone }: { path: string; onDone?: () => void }) {
  const [model, setModel] = useState("");
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [progress, setProgress] = useState<Record<string, Progress>>({});
  const abort = useRef<AbortController | null>(null);

  const start = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setProgress({});
    setRunning(true);
    const ctl = new AbortController();
    abort.current = ctl;
    const state: Record<string, Progress> = {};
    try {
      await postNdjson(
        path,
        { model: model.trim() },
        (line) => {
          // pull-all tags each line with its node; a single-node pull has one implicit key.
          const key = typeof line.node === "string" ? line.node : "";
          const p = (state[key] ??= { status: "starting", layers: {}, done: false });
          if (typeof line.error === "string" || (line.error && typeof line.error === "object")) {
            p.error = typeof line.error === "string" ? line.error : JSON.stringify(line.error);
            p.done = true;
          } else {
            if (typeof line.status === "string") p.status = line.status;
            if (typeof line.digest === "string" && typeof line.total === "number") {
              p.layers[line.digest] = { total: line.total, completed: typeof line.completed === "number" ? line.completed : 0 };
            }
            if (line.status === "success") p.done = true;
          }
          setProgress({ ...state });
        },
        ctl.signal,
      );
    } catch (err) {
      if ((err as Error).name !== "AbortError") setError(err);
    } finally {
      setRunning(false);
      abort.current = null;
      onDone?.();
    }
  };

  return (
    <div class="pull">
      <form class="row" onSubmit={start}>
        <Field label="Model to pull" hint="An Ollama library name, e.g. llama3.2:3b">
          <input value={model} onInput={(e) => setModel(inputValue(e))} required disabled={running} />
        </Field>
        <div class="filter-buttons">
          <Button type="submit" kind="primary" busy={running}>
            Pull
          </Button>
          {running && <Button onClick={() => abort.current?.abort()}>Stop watching</Button>}
        </div>
      </form>
      <ErrorBox error={error} />
      {Object.entries(progress).map(([node, p]) => {
        const pct = percent(p);
        const ls = Object.values(p.layers);
        return (
          <div key={node} class="pull-row" role="group" aria-label={`Pull progress${node ? ` on ${node}` : ""}`}>
            <div class="small">
              {node && <strong>{node}: </strong>}
              {p.error ? <span class="bad-text">error: {p.error}</span> : p.status === "success" ? <span class="ok-text">success</span> : p.status}
              {pct !== null && !p.error && (
                <span class="muted">
                  {" "}
                  · {fmtBytes(ls.reduce((a, l) => a + l.completed, 0))} of {fmtBytes(ls.reduce((a, l) => a + l.total, 0))}
                </span>
              )}
            </div>
            <progress max={100} value={p.done && !p.error ? 100 : (pct ?? undefined)} aria-label={`Pull progress${node ? ` on ${node}` : ""}`} />
          </div>
        );
      })}
    </div>
  );
}

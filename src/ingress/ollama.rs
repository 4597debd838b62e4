//! Ollama-native dialect (`/api/*`).

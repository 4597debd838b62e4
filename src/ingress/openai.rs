//! OpenAI dialect (`/v1/*`).

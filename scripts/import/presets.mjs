// The original's seed data as optional presets (Model Maestro's app/seeds 002 model_config and
// 003 tool_sets, behaviour.md §2), in this gateway's shapes. Applied create-only: a tool set or
// model config that already exists (imported, or edited by an admin) is never changed.
//
// Not copied: the `deepseek` seed's unsupported_params ["tools", "tool_choice"], which removed
// tool calling from every model whose name starts with "deepseek". Its context length is kept.

const EXTENDED = ["Read", "Write", "Shell", "Glob", "Grep", "StrReplace", "Delete", "TodoWrite", "WebSearch", "WebFetch", "SemanticSearch", "ReadLints"];

export const TOOL_SETS = [
  { name: "full", tools: null, description: "Every tool (no filtering)" },
  { name: "standard", tools: EXTENDED.slice(0, 9), description: "Standard coding tools" },
  { name: "extended", tools: EXTENDED, description: "Standard tools plus WebFetch, SemanticSearch, ReadLints" },
  { name: "basic", tools: ["Read", "Write", "Shell", "Glob", "Grep"], description: "Basic file and shell tools" },
  { name: "minimal", tools: ["Read", "Write"], description: "Read and write only" },
  { name: "readonly", tools: ["Read", "Glob", "Grep"], description: "Read-only tools" },
];

const config = (model_prefix, default_context_length, extra = {}) => ({
  model_prefix,
  is_exact_match: false,
  allowed_tools: null,
  unsupported_params: [],
  default_context_length,
  max_context_length: null,
  maintenance_mode: false,
  is_active: true,
  description: `${model_prefix} models (Model Maestro preset)`,
  cost_multiplier: 1,
  ...extra,
});

export const MODEL_CONFIGS = [
  config("minimax", 204800, { allowed_tools: EXTENDED }),
  config("deepseek", 163840),
  config("kimi", 262144, { unsupported_params: ["top_p"] }),
  config("gemini", 131072, { unsupported_params: ["top_p", "presence_penalty", "frequency_penalty"] }),
  config("qwen3", 262144),
  config("glm", 202752),
  config("mistral", 262144),
  config("cogito", 163840),
  config("composer", 200000),
];

// Shapes of the admin API contract (/work/contract/admin-api.md), as the UI reads them.

export interface User {
  id: number;
  username: string;
  is_active: boolean;
  is_deleted: boolean;
  has_all_models: boolean;
  can_manage_models: boolean;
  token_prefix: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
  models: string[];
  request_limit: number | null;
  token_limit: number | null;
  token?: string;
}

export interface NodeModel {
  model_name: string;
  is_available: boolean;
  is_present: boolean;
  is_loaded: boolean;
  context_length: number | null;
  capabilities: string[] | null;
  size: number | null;
  family: string | null;
  last_seen: string | null;
}

export type NodeType = "ollama" | "openai" | "anthropic";

export interface Node {
  id: number;
  name: string;
  code: string | null;
  node_type: NodeType;
  base_url: string;
  api_key_set: boolean;
  priority: number;
  weight: number;
  headers: Record<string, string> | null;
  health_url: string | null;
  warmup_enabled: boolean;
  is_active: boolean;
  health_status: "unknown" | "healthy" | "unhealthy";
  consecutive_failures: number;
  consecutive_successes: number;
  last_health_check: string | null;
  last_error: string | null;
  latency_ms: number | null;
  /** Why the last discovery kept the previous catalog, or what it dropped from the new one. */
  discovery_error?: string | null;
  discovered_at?: string | null;
  created_at: string;
  updated_at: string;
  model_count: number;
  models: NodeModel[];
}

export interface NodeLoad {
  id: number;
  name: string;
  health_status: string;
  is_active: boolean;
  latency_ms: number | null;
  active_streams: number;
  requests_today: number;
  errors_today: number;
}

export interface Mapping {
  id: number;
  display_name: string;
  real_name: string;
  context_length: number | null;
  context_length_display: string | null;
  capabilities: string[] | null;
  node_ids: number[];
  node_names: string[];
  created_at: string;
  updated_at: string;
}

export interface Member {
  id: number;
  model_name: string;
  capability_tags: string[] | null;
  weight: number;
  priority: number;
  is_fallback: boolean;
  is_fallback_413: boolean;
  is_metadata_source: boolean;
  is_active: boolean;
  preferred_node_ids: number[];
}

export interface Group {
  id: number;
  name: string;
  description: string | null;
  strategy: "priority" | "weighted" | "round_robin";
  node_strategy: null | "priority" | "weighted" | "round_robin" | "least_busy";
  is_active: boolean;
  list_in_catalog: boolean;
  priority: number;
  max_failover_retries: number | null;
  created_at: string;
  updated_at: string;
  members: Member[];
}

export interface Setting {
  key: string;
  value: unknown;
  default: unknown;
  is_default: boolean;
  description: string;
}

export interface ModelConfig {
  id: number;
  model_prefix: string;
  is_exact_match: boolean;
  allowed_tools: string[] | null;
  tool_set_id: number | null;
  tool_set_name: string | null;
  effective_allowed_tools: string[] | null;
  unsupported_params: string[] | null;
  default_context_length: number | null;
  max_context_length: number | null;
  requests_per_minute: number | null;
  tokens_per_minute: number | null;
  node_strategy: string | null;
  maintenance_mode: boolean;
  is_active: boolean;
  description: string | null;
  cost_multiplier: number | null;
  created_at: string;
  updated_at: string;
}

export interface ToolSet {
  id: number;
  name: string;
  tools: string[] | null;
  description: string | null;
  used_by: number;
  created_at: string;
  updated_at: string;
}

export type ScopeType = "user" | "node" | "group" | "model" | "mapping";

export interface SystemPrompt {
  id: number;
  scope_type: ScopeType;
  scope_value: string;
  prompt: string;
  priority: number;
  is_active: boolean;
  description: string | null;
  created_at: string;
  updated_at: string;
}

export interface AuditRow {
  id: number;
  created_at: string;
  actor: string;
  source_ip: string | null;
  action: string;
  entity_type: string;
  entity_id: string | null;
  details: unknown;
}

export interface RequestRow {
  id: string | number;
  created_at: string;
  username: string | null;
  requested_model: string | null;
  resolved_model: string | null;
  real_model: string | null;
  node_id: number | null;
  node_name: string | null;
  endpoint: string;
  dialect: string | null;
  client: string | null;
  stream: boolean;
  status: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  estimated: boolean;
  duration_ms: number | null;
  ttfb_ms: number | null;
  error: string | null;
}

export interface Paged {
  total: number;
  limit: number;
  offset: number;
}

export interface TokenTriple {
  prompt: number;
  completion: number;
  total: number;
}

export interface Stats {
  users: { total: number; active: number; active_today: number };
  requests: { today: number; week: number; month: number; total: number; errors_today: number; avg_duration_ms_today: number | null };
  tokens: { today: TokenTriple; week: TokenTriple; month: TokenTriple };
  nodes: { total: number; healthy: number; unhealthy: number };
  dependencies: Record<string, { up: boolean; latency_ms: number | null }>;
}

export interface SeriesDay {
  date: string;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface CatalogModel {
  model_name: string;
  is_available: boolean;
  mapped_as: string[];
  nodes: { node_id: number; node_name: string; node_type: NodeType; is_available: boolean; is_present: boolean; is_loaded: boolean; context_length: number | null; capabilities: string[] | null }[];
}

export const PERIODS = ["24h", "3d", "7d", "30d", "90d", "all"] as const;
export type Period = (typeof PERIODS)[number];
const PERIOD_LABELS: Record<Period, string> = { "24h": "Last 24 hours", "3d": "Last 3 days", "7d": "Last 7 days", "30d": "Last 30 days", "90d": "Last 90 days", all: "All time" };
export const PERIOD_OPTIONS = PERIODS.map((p) => [p, PERIOD_LABELS[p]] as [Period, string]);
export const CAPABILITIES = ["completion", "tools", "vision", "thinking", "embedding", "insert"] as const;

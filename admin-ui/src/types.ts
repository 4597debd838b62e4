// Shapes of the admin API as the UI reads them, taken from the gateway's OpenAPI document
// (src/admin/openapi.json) through the generated openapi.gen.ts: regenerate with `npm run types`
// when the document changes (`npm run build` fails while the generated file is stale).
import type { components } from "./openapi.gen";

type Schemas = components["schemas"];
/** An element of an array type. */
type Item<A> = A extends readonly (infer T)[] ? T : never;

export type User = Schemas["User"];
export type UserWithToken = Schemas["UserWithToken"];
export type NodeModel = Schemas["NodeModel"];
export type Node = Schemas["Node"];
export type NodeType = Node["node_type"];
export type NodeLoad = Item<Schemas["NodeLoad"]["nodes"]>;
export type DiscoveryReport = Schemas["DiscoveryReport"];
export type HealthReport = Schemas["HealthReport"];
export type Distribution = Schemas["Distribution"];
export type NodeRouting = Schemas["NodeRouting"];
export type UserNodes = Schemas["UserNodes"];
export type NodeModelRule = Schemas["NodeModelRule"];
export type Mapping = Schemas["Mapping"];
export type Member = Schemas["Member"];
export type Group = Schemas["Group"];
export type Setting = Item<Schemas["Settings"]["settings"]>;
export type ModelConfig = Schemas["ModelConfig"];
export type ToolSet = Schemas["ToolSet"];
export type SystemPrompt = Schemas["SystemPrompt"];
export type ScopeType = SystemPrompt["scope_type"];
export type AuditRow = Schemas["AuditEntry"];
export type RequestRow = Schemas["RequestRow"];
export type Stats = Schemas["DashboardStats"];
export type SeriesDay = Item<Schemas["DashboardSeries"]["days"]>;
export type TopModels = Schemas["TopModels"];
export type TopUsers = Schemas["TopUsers"];
export type CatalogModel = Schemas["CatalogModel"];
export type UserTokenUsage = Schemas["UserTokenUsage"];
export type UserModelUsage = Schemas["UserModelUsage"];
export type ApiKey = Schemas["ApiKey"];
export type ApiKeyWithKey = Schemas["ApiKeyWithKey"];
export type Team = Schemas["Team"];
export type AdminAccount = Schemas["AdminAccount"];

export interface Paged {
  total: number;
  limit: number;
  offset: number;
}

export const PERIODS = ["24h", "3d", "7d", "30d", "90d", "all"] as const;
export type Period = (typeof PERIODS)[number];
const PERIOD_LABELS: Record<Period, string> = { "24h": "Last 24 hours", "3d": "Last 3 days", "7d": "Last 7 days", "30d": "Last 30 days", "90d": "Last 90 days", all: "All time" };
export const PERIOD_OPTIONS = PERIODS.map((p) => [p, PERIOD_LABELS[p]] as [Period, string]);
export const CAPABILITIES = ["completion", "tools", "vision", "thinking", "embedding", "insert"] as const;
/** Node strategies for a group or a model rule; "" is "the routing default". */
export const NODE_STRATEGIES: [string, string][] = [["", "default"], ...["priority", "weighted", "round_robin", "least_busy"].map((s) => [s, s] as [string, string])];
export type Price = Schemas["Price"];
export type PriceList = Schemas["PriceList"];
export type Budget = Schemas["Budget"];
export type BudgetList = Schemas["BudgetList"];
export type BudgetEvent = Schemas["BudgetEvent"];
export type CostReport = Schemas["CostReport"];
export type CostRow = Schemas["CostRow"];

// Every admin page, once: the sidebar lists the entries with a label (in this order) and the
// router picks the entry whose path is the first segment of #/<path>/<param>. A page with a
// detail view (#/users/alice) gives `detail`, which gets the decoded second segment.
// To add a page: write pages/<name>.tsx (ui/lists.tsx has the list-page shape) and add a row.
import type { ComponentChildren } from "preact";
import { DashboardPage } from "./pages/dashboard";
import { UsersPage } from "./pages/users";
import { UserPage } from "./pages/user";
import { TeamsPage, TeamPage } from "./pages/teams";
import { NodesPage } from "./pages/nodes";
import { NodePage } from "./pages/node";
import { ModelsPage } from "./pages/models";
import { MappingsPage } from "./pages/mappings";
import { GroupsPage, GroupPage } from "./pages/groups";
import { ModelConfigPage } from "./pages/modelconfig";
import { ToolSetsPage } from "./pages/toolsets";
import { PromptsPage } from "./pages/prompts";
import { RequestsPage } from "./pages/requests";
import { AuditPage } from "./pages/audit";
import { SettingsPage } from "./pages/settings";
import { AdminsPage } from "./pages/admins";
import { GuidePage } from "./pages/guide";
import { CostsPage } from "./pages/costs";
import { PricesPage } from "./pages/prices";
import { BudgetsPage } from "./pages/budgets";

export interface Route {
  /** First path segment: "users" serves #/users and, with `detail`, #/users/<param>. */
  path: string;
  /** Sidebar label; entries without one are reachable by link only. */
  label?: string;
  page: () => ComponentChildren;
  detail?: (param: string) => ComponentChildren;
}

export const ROUTES: Route[] = [
  { path: "dashboard", label: "Dashboard", page: () => <DashboardPage /> },
  { path: "users", label: "Users", page: () => <UsersPage />, detail: (name) => <UserPage username={name} /> },
  { path: "teams", label: "Teams", page: () => <TeamsPage />, detail: (name) => <TeamPage name={name} /> },
  { path: "nodes", label: "Nodes", page: () => <NodesPage />, detail: (id) => <NodePage id={Number(id)} /> },
  { path: "models", label: "Models", page: () => <ModelsPage /> },
  { path: "mappings", label: "Mappings", page: () => <MappingsPage /> },
  { path: "groups", label: "Groups", page: () => <GroupsPage />, detail: (name) => <GroupPage name={name} /> },
  { path: "model-config", label: "Model config", page: () => <ModelConfigPage /> },
  { path: "tool-sets", label: "Tool sets", page: () => <ToolSetsPage /> },
  { path: "system-prompts", label: "System prompts", page: () => <PromptsPage /> },
  { path: "costs", label: "Costs", page: () => <CostsPage /> },
  { path: "prices", label: "Prices", page: () => <PricesPage /> },
  { path: "budgets", label: "Budgets", page: () => <BudgetsPage /> },
  { path: "requests", label: "Request log", page: () => <RequestsPage /> },
  { path: "audit", label: "Audit log", page: () => <AuditPage /> },
  { path: "settings", label: "Settings", page: () => <SettingsPage /> },
  { path: "admins", label: "Admin accounts", page: () => <AdminsPage /> },
  { path: "guide", label: "Guide", page: () => <GuidePage /> },
];

export const NAV = ROUTES.filter((r) => r.label).map((r) => ({ href: `/${r.path}`, label: r.label! }));

/** The page for a hash path, or null when no route serves it. */
export function pageFor(path: string): ComponentChildren | null {
  const [, first, second] = path.split("/").map(decodeURIComponent);
  const route = ROUTES.find((r) => r.path === first);
  if (!route) return null;
  if (second) return route.detail ? route.detail(second) : null;
  return route.page();
}

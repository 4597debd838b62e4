import { useState } from "preact/hooks";
import { del, get, patch, post } from "../api";
import type { DiscoveryReport, Distribution, HealthReport, Node, NodeLoad } from "../types";
import type { Loaded } from "../ui";
import { Async, Badge, Button, Card, Empty, ErrorBox, fmtDate, fmtMs, HealthBadge, Notice, PageHead, RowActions, SavingSwitch, Section, SortableList, Table, Tabs, useAction, useLoad } from "../ui";
import { NodeForm, useNodeProbe } from "./nodeform";
import { PullPanel } from "./pull";

export function NodesPage() {
  const [tab, setTab] = useState("nodes");
  const [adding, setAdding] = useState(false);
  const nodes = useLoad(() => get<{ nodes: Node[]; total: number }>("/nodes"));
  const [runAll, busyAll, errAll] = useAction();
  const [allResult, setAllResult] = useState<string | null>(null);

  return (
    <>
      <PageHead title="Nodes">
        <Button
          busy={busyAll}
          onClick={() =>
            runAll(async () => {
              const r = await post<{ results: HealthReport[] }>("/nodes/health-check");
              setAllResult(`Health checked ${r.results.length} nodes: ${r.results.filter((x) => x.ok).length} answered.`);
              nodes.reload();
            })
          }
        >
          Health check all
        </Button>
        <Button
          busy={busyAll}
          onClick={() =>
            runAll(async () => {
              const r = await post<{ results: DiscoveryReport[] }>("/nodes/sync-all");
              const failed = r.results.filter((x) => x.error);
              setAllResult(`Discovered models on ${r.results.length} nodes${failed.length ? `; failed: ${failed.map((f) => `${f.node_name} (${f.error})`).join(", ")}` : ""}.`);
              nodes.reload();
            })
          }
        >
          Discover all
        </Button>
        <Button kind="primary" onClick={() => setAdding(true)}>
          Add node
        </Button>
      </PageHead>
      <ErrorBox error={errAll} />
      <Notice>{allResult}</Notice>
      <Tabs
        label="Node views"
        value={tab}
        onChange={setTab}
        tabs={[
          ["nodes", "Nodes"],
          ["distribution", "Model distribution"],
          ["load", "Load"],
          ["pull", "Pull to all"],
        ]}
      />
      {tab === "nodes" && <NodeList state={nodes} />}
      {tab === "distribution" && <Distribution />}
      {tab === "load" && <LoadView />}
      {tab === "pull" && (
        <Section title="Pull a model to every Ollama node">
          <PullPanel path="/nodes/pull-all" onDone={nodes.reload} />
        </Section>
      )}
      {adding && (
        <NodeForm
          onClose={() => setAdding(false)}
          onSaved={() => {
            setAdding(false);
            nodes.reload();
          }}
        />
      )}
    </>
  );
}

function NodeList({ state }: { state: Loaded<{ nodes: Node[]; total: number }> }) {
  const [editing, setEditing] = useState<Node | null>(null);
  return (
    <Section title="Nodes by priority" actions={<span class="muted small">Drag (or use the arrows) to change priority; the top node is tried first.</span>}>
      <Async state={state} what="Loading nodes">
        {(d) =>
          d.nodes.length === 0 ? (
            <Empty>No nodes yet. Add an Ollama or OpenAI-compatible server with “Add node”, then discover its models.</Empty>
          ) : (
            <SortableList
              items={d.nodes}
              keyOf={(n) => n.id}
              nameOf={(n) => n.name}
              save={(items) => patch("/nodes/batch/priority", { priorities: items.map((n, i) => ({ node_id: n.id, priority: i + 1 })) })}
              onSaved={state.reload}
              render={(n) => <NodeCard node={n} onChanged={state.reload} onEdit={() => setEditing(n)} />}
            />
          )
        }
      </Async>
      {editing && (
        <NodeForm
          node={editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            state.reload();
          }}
        />
      )}
    </Section>
  );
}

function NodeCard({ node: n, onChanged, onEdit }: { node: Node; onChanged: () => void; onEdit: () => void }) {
  const probe = useNodeProbe(n.id, onChanged);
  return (
    <Card
      label={`Node ${n.name}`}
      title={
        <>
          <a href={`#/nodes/${n.id}`}>
            <strong>{n.name}</strong>
          </a>
          <Badge kind="info">{n.node_type}</Badge>
          <HealthBadge status={n.health_status} />
          {!n.warmup_enabled && <Badge kind="muted">warmup off</Badge>}
          <span class="muted small">
            priority {n.priority} · weight {n.weight}
          </span>
        </>
      }
      actions={
        <RowActions
          name={n.name}
          onEdit={onEdit}
          question={`Delete node ${n.name}? Requests stop going there at once.`}
          remove={async () => {
            await del(`/nodes/${n.id}`);
            onChanged();
          }}
        >
          <SavingSwitch label={`Active ${n.name}`} checked={n.is_active} save={() => patch(`/nodes/${n.id}/toggle`)} onSaved={onChanged} />
          <Button kind="small" busy={probe.busy} label={`Health check ${n.name}`} onClick={probe.check}>
            Health check
          </Button>
          <Button kind="small" busy={probe.busy} label={`Discover models on ${n.name}`} onClick={probe.discover}>
            Discover
          </Button>
        </RowActions>
      }
    >
      <div class="mono small">{n.base_url}</div>
      <div class="small muted">
        {n.model_count} models · latency {fmtMs(n.latency_ms)} · checked {fmtDate(n.last_health_check)}
      </div>
      {n.last_error && <div class="small bad-text">Last error: {n.last_error}</div>}
      <Notice small>{probe.result}</Notice>
      <ErrorBox error={probe.error} />
    </Card>
  );
}

function Distribution() {
  const dist = useLoad(() => get<Distribution>("/nodes/models/distribution"));
  return (
    <Section title="Model distribution">
      <Async state={dist} what="Loading distribution">
        {(d) =>
          d.models.length === 0 ? (
            <Empty>No models discovered yet. Use “Discover” on a node.</Empty>
          ) : (
            <Table
              label="Model distribution"
              rows={d.models}
              keyOf={(m) => m.model_name}
              columns={[
                ["Model", (m) => m.model_name, "mono"],
                ["Nodes", (m) => <Badge kind={m.node_count >= 2 ? "ok" : "warn"}>{m.node_count}</Badge>, "num"],
                [
                  "Where",
                  (m) =>
                    m.nodes.map((n) => (
                      <a key={n.node_id} href={`#/nodes/${n.node_id}`} class={`chip ${n.is_available ? "" : "off"}`} title={n.is_available ? (n.is_loaded ? "available, loaded" : "available") : "disabled on this node"}>
                        {n.node_name}
                        {n.is_loaded ? " ●" : ""}
                      </a>
                    )),
                ],
              ]}
            />
          )
        }
      </Async>
    </Section>
  );
}

export function LoadView({ nodeId }: { nodeId?: number }) {
  const load = useLoad(() => get<{ nodes: NodeLoad[] }>("/nodes/load"));
  return (
    <Section title="Load" actions={<Button onClick={load.reload}>Refresh</Button>}>
      <Async state={load} what="Loading node load">
        {(d) => {
          const rows = nodeId ? d.nodes.filter((n) => n.id === nodeId) : d.nodes;
          return rows.length === 0 ? (
            <Empty>No nodes.</Empty>
          ) : (
            <Table
              label="Node load"
              rows={rows}
              keyOf={(n) => n.id}
              columns={[
                ["Node", (n) => <a href={`#/nodes/${n.id}`}>{n.name}</a>],
                ["Health", (n) => <HealthBadge status={n.health_status} />],
                ["Active", (n) => (n.is_active ? "yes" : "no")],
                ["Latency", (n) => fmtMs(n.latency_ms), "num"],
                ["Active streams", (n) => n.active_streams, "num"],
                ["Requests today", (n) => n.requests_today, "num"],
                ["Errors today", (n) => n.errors_today, "num"],
              ]}
            />
          );
        }}
      </Async>
    </Section>
  );
}

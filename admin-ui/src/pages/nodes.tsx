import { useState } from "preact/hooks";
import { del, get, patch, post } from "../api";
import type { Node, NodeLoad, NodeType } from "../types";
import { Async, Badge, Button, Confirm, Empty, ErrorBox, Field, fieldError, fmtDate, fmtMs, HealthBadge, inputChecked, inputValue, Modal, PageHead, SavingSwitch, Section, SortableList, Tabs, useAction, useLoad } from "../ui";
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
              const r = await post<{ results: { node_name: string; ok: boolean; error: string | null }[] }>("/nodes/health-check");
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
              const r = await post<{ results: { node_name: string; models: number | unknown[]; error: string | null }[] }>("/nodes/sync-all");
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
      {allResult && (
        <div class="notice" role="status">
          {allResult}
        </div>
      )}
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

function NodeList({ state }: { state: ReturnType<typeof useLoad<{ nodes: Node[]; total: number }>> }) {
  const [run, busy, error] = useAction();
  const [editing, setEditing] = useState<Node | null>(null);
  return (
    <Section title="Nodes by priority" actions={<span class="muted small">Drag (or use the arrows) to change priority; the top node is tried first.</span>}>
      <ErrorBox error={error} label="Saving the new order failed" />
      <Async state={state} what="Loading nodes">
        {(d) =>
          d.nodes.length === 0 ? (
            <Empty>No nodes yet. Add an Ollama or OpenAI-compatible server with “Add node”, then discover its models.</Empty>
          ) : (
            <SortableList
              items={d.nodes}
              keyOf={(n) => n.id}
              nameOf={(n) => n.name}
              busy={busy}
              onReorder={(items) => {
                state.setData({ ...d, nodes: items });
                run(async () => {
                  const r = await patch<{ nodes: Node[]; total: number }>("/nodes/batch/priority", { priorities: items.map((n, i) => ({ node_id: n.id, priority: i + 1 })) });
                  state.setData(r);
                }).then((ok) => {
                  if (!ok) state.reload();
                });
              }}
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
  const [run, busy, error] = useAction();
  const [result, setResult] = useState<string | null>(null);
  return (
    <div class="node-card" aria-label={`Node ${n.name}`} role="group">
      <div class="node-main">
        <div class="node-title">
          <a href={`#/nodes/${n.id}`}>
            <strong>{n.name}</strong>
          </a>
          <Badge kind="info">{n.node_type}</Badge>
          <HealthBadge status={n.health_status} />
          {!n.warmup_enabled && <Badge kind="muted">warmup off</Badge>}
          <span class="muted small">priority {n.priority} · weight {n.weight}</span>
        </div>
        <div class="mono small">{n.base_url}</div>
        <div class="small muted">
          {n.model_count} models · latency {fmtMs(n.latency_ms)} · checked {fmtDate(n.last_health_check)}
        </div>
        {n.last_error && <div class="small bad-text">Last error: {n.last_error}</div>}
        {result && (
          <div class="small ok-text" role="status">
            {result}
          </div>
        )}
        <ErrorBox error={error} />
      </div>
      <div class="node-actions">
        <SavingSwitch label={`Active ${n.name}`} checked={n.is_active} save={() => patch(`/nodes/${n.id}/toggle`)} onSaved={onChanged} />
        <Button
          kind="small"
          busy={busy}
          label={`Health check ${n.name}`}
          onClick={() =>
            run(async () => {
              const r = await post<{ ok: boolean; health_status: string; latency_ms: number | null; error: string | null }>(`/nodes/${n.id}/health-check`);
              setResult(r.ok ? `Healthy answer in ${fmtMs(r.latency_ms)} (now ${r.health_status})` : `Probe failed: ${r.error} (now ${r.health_status})`);
              onChanged();
            })
          }
        >
          Health check
        </Button>
        <Button
          kind="small"
          busy={busy}
          label={`Discover models on ${n.name}`}
          onClick={() =>
            run(async () => {
              const r = await post<{ models: number | unknown[]; added: string[]; vanished: string[]; error: string | null }>(`/nodes/${n.id}/discover`);
              setResult(r.error ? `Discovery failed: ${r.error}` : `Discovered ${modelCount(r.models)} models${r.added.length ? `; new: ${r.added.join(", ")}` : ""}${r.vanished.length ? `; gone: ${r.vanished.join(", ")}` : ""}`);
              onChanged();
            })
          }
        >
          Discover
        </Button>
        <Button kind="small" label={`Edit ${n.name}`} onClick={onEdit}>
          Edit
        </Button>
        <Confirm
          label={`Delete ${n.name}`}
          question={`Delete node ${n.name}? Requests stop going there at once.`}
          onConfirm={async () => {
            await del(`/nodes/${n.id}`);
            onChanged();
          }}
        >
          Delete
        </Confirm>
      </div>
    </div>
  );
}

/** Discovery reports how many models it found (a count; older builds sent the list). */
export const modelCount = (m: number | unknown[]) => (Array.isArray(m) ? m.length : m);

function headersText(h: Record<string, string> | null | undefined): string {
  return Object.entries(h ?? {})
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n");
}

export function NodeForm({ node, onClose, onSaved }: { node?: Node; onClose: () => void; onSaved: (n: Node) => void }) {
  const [f, setF] = useState({
    name: node?.name ?? "",
    code: node?.code ?? "",
    node_type: (node?.node_type ?? "ollama") as NodeType,
    base_url: node?.base_url ?? "",
    api_key: "",
    clear_key: false,
    priority: String(node?.priority ?? ""),
    weight: String(node?.weight ?? ""),
    headers: headersText(node?.headers),
    health_url: node?.health_url ?? "",
    warmup_enabled: node?.warmup_enabled ?? true,
    is_active: node?.is_active ?? true,
  });
  const [headersTouched, setHeadersTouched] = useState(false);
  const [run, busy, error] = useAction();
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: inputValue(e) });
  const setB = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: inputChecked(e) });

  const submit = (e: Event) => {
    e.preventDefault();
    run(async () => {
      const body: Record<string, unknown> = {
        name: f.name.trim(),
        node_type: f.node_type,
        base_url: f.base_url.trim(),
        health_url: f.health_url.trim() || null,
        warmup_enabled: f.warmup_enabled,
        is_active: f.is_active,
      };
      if (f.code.trim() || node) body.code = f.code.trim() || null;
      if (f.priority.trim()) body.priority = Number(f.priority);
      if (f.weight.trim()) body.weight = Number(f.weight);
      // Header values are write-only and come back as "[redacted]"; only send the field when
      // the admin edited it. A line still reading "[redacted]" keeps its stored value.
      if (!node || headersTouched) {
        const h: Record<string, string> = {};
        for (const line of f.headers.split("\n")) {
          const i = line.indexOf(":");
          if (line.trim() && i > 0) h[line.slice(0, i).trim()] = line.slice(i + 1).trim();
          else if (line.trim()) h[line.trim()] = "";
        }
        body.headers = h;
      }
      // The API key is write-only: absent keeps it, null clears it.
      if (f.api_key) body.api_key = f.api_key;
      else if (node && f.clear_key) body.api_key = null;
      const saved = node ? await patch<Node>(`/nodes/${node.id}`, body) : await post<Node>("/nodes", body);
      onSaved(saved);
    });
  };

  return (
    <Modal title={node ? `Edit node ${node.name}` : "Add node"} open onClose={onClose} wide>
      <form onSubmit={submit}>
        <div class="row">
          <Field label="Name" error={fieldError(error, "name")}>
            <input value={f.name} onInput={set("name")} required />
          </Field>
          <Field label="Type" error={fieldError(error, "node_type")}>
            <select value={f.node_type} onChange={set("node_type")}>
              <option value="ollama">ollama</option>
              <option value="openai">openai (vLLM, OpenAI, any /v1 server)</option>
              <option value="anthropic">anthropic</option>
            </select>
          </Field>
          <Field label="Code" hint="Optional short id" error={fieldError(error, "code")}>
            <input value={f.code} onInput={set("code")} />
          </Field>
        </div>
        <Field label="Base URL" hint={f.node_type === "ollama" ? "e.g. http://10.0.0.5:11434" : "e.g. https://vllm.internal/v1"} error={fieldError(error, "base_url")}>
          <input type="url" value={f.base_url} onInput={set("base_url")} required />
        </Field>
        <Field label="API key" hint={node ? (node.api_key_set ? "A key is set. Leave blank to keep it." : "No key set.") : "Optional. Stored sealed; never shown again."} error={fieldError(error, "api_key")}>
          <input type="password" autocomplete="new-password" value={f.api_key} onInput={set("api_key")} />
        </Field>
        {node?.api_key_set && (
          <label class="check">
            <input type="checkbox" checked={f.clear_key} onChange={setB("clear_key")} /> Remove the stored API key
          </label>
        )}
        <div class="row">
          <Field label="Priority" hint="Lower is tried first" error={fieldError(error, "priority")}>
            <input inputMode="numeric" value={f.priority} onInput={set("priority")} />
          </Field>
          <Field label="Weight" hint="For weighted strategies" error={fieldError(error, "weight")}>
            <input inputMode="numeric" value={f.weight} onInput={set("weight")} />
          </Field>
        </div>
        <Field label="Health URL" hint="Optional; default probe is the API's own version/models endpoint" error={fieldError(error, "health_url")}>
          <input type="url" value={f.health_url} onInput={set("health_url")} />
        </Field>
        <Field label="Extra headers" hint={node ? "One “Name: value” per line. Values are write-only and show as [redacted]: leave a line as it is to keep its value, type a new value to replace it, delete the line to remove the header." : "One “Name: value” per line. Values are stored sealed and never shown again."} error={fieldError(error, "headers")}>
          <textarea
            rows={3}
            value={f.headers}
            onInput={(e) => {
              setHeadersTouched(true);
              set("headers")(e);
            }}
          />
        </Field>
        <div class="row">
          <label class="check">
            <input type="checkbox" checked={f.warmup_enabled} onChange={setB("warmup_enabled")} /> Warm-up enabled
          </label>
          <label class="check">
            <input type="checkbox" checked={f.is_active} onChange={setB("is_active")} /> Active
          </label>
        </div>
        <ErrorBox error={error} />
        <div class="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" kind="primary" busy={busy}>
            {node ? "Save node" : "Add node"}
          </Button>
        </div>
      </form>
    </Modal>
  );
}

function Distribution() {
  const dist = useLoad(() => get<{ models: { model_name: string; node_count: number; nodes: { node_id: number; node_name: string; is_available: boolean; is_loaded: boolean }[] }[] }>("/nodes/models/distribution"));
  return (
    <Section title="Model distribution">
      <Async state={dist} what="Loading distribution">
        {(d) =>
          d.models.length === 0 ? (
            <Empty>No models discovered yet. Use “Discover” on a node.</Empty>
          ) : (
            <table aria-label="Model distribution">
              <thead>
                <tr>
                  <th>Model</th>
                  <th class="num">Nodes</th>
                  <th>Where</th>
                </tr>
              </thead>
              <tbody>
                {d.models.map((m) => (
                  <tr key={m.model_name}>
                    <td class="mono">{m.model_name}</td>
                    <td class="num">
                      <Badge kind={m.node_count >= 2 ? "ok" : "warn"}>{m.node_count}</Badge>
                    </td>
                    <td>
                      {m.nodes.map((n) => (
                        <a key={n.node_id} href={`#/nodes/${n.node_id}`} class={`chip ${n.is_available ? "" : "off"}`} title={n.is_available ? (n.is_loaded ? "available, loaded" : "available") : "disabled on this node"}>
                          {n.node_name}
                          {n.is_loaded ? " ●" : ""}
                        </a>
                      ))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
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
            <table aria-label="Node load">
              <thead>
                <tr>
                  <th>Node</th>
                  <th>Health</th>
                  <th>Active</th>
                  <th class="num">Latency</th>
                  <th class="num">Active streams</th>
                  <th class="num">Requests today</th>
                  <th class="num">Errors today</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((n) => (
                  <tr key={n.id}>
                    <td>
                      <a href={`#/nodes/${n.id}`}>{n.name}</a>
                    </td>
                    <td>
                      <HealthBadge status={n.health_status} />
                    </td>
                    <td>{n.is_active ? "yes" : "no"}</td>
                    <td class="num">{fmtMs(n.latency_ms)}</td>
                    <td class="num">{n.active_streams}</td>
                    <td class="num">{n.requests_today}</td>
                    <td class="num">{n.errors_today}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          );
        }}
      </Async>
    </Section>
  );
}

import { useState } from "preact/hooks";
import { del, enc, get, patch } from "../api";
import type { Node, NodeRouting } from "../types";
import { Async, Badge, Button, Confirm, Empty, ErrorBox, fmtBytes, fmtCtx, fmtDate, fmtMs, HealthBadge, navigate, Notice, PageHead, SavingSwitch, Section, Table, Tags, useLoad } from "../ui";
import { NodeForm, useNodeProbe } from "./nodeform";
import { LoadView } from "./nodes";
import { PullPanel } from "./pull";

export function NodePage({ id }: { id: number }) {
  const node = useLoad(() => get<Node>(`/nodes/${id}`), [id]);
  const [editing, setEditing] = useState(false);
  const routing = useLoad(() => get<NodeRouting>(`/nodes/${id}/routing`), [id]);
  const probe = useNodeProbe(id, node.reload);

  return (
    <>
      <PageHead title={node.data ? `Node ${node.data.name}` : `Node #${id}`}>
        <a class="btn" href="#/nodes">
          ← All nodes
        </a>
        <Button busy={probe.busy} onClick={probe.check}>
          Health check now
        </Button>
        <Button busy={probe.busy} onClick={probe.discover}>
          Discover now
        </Button>
        {node.data && <Button onClick={() => setEditing(true)}>Edit</Button>}
        {node.data && (
          <Confirm
            label="Delete node"
            size=""
            question={`Delete node ${node.data.name}?`}
            onConfirm={async () => {
              await del(`/nodes/${id}`);
              navigate("/nodes");
            }}
          />
        )}
      </PageHead>
      <ErrorBox error={probe.error} />
      <Notice>{probe.result}</Notice>
      <Async state={node} what="Loading node">
        {(n) => (
          <>
            <Section title="Overview">
              <dl class="facts">
                <dt>Type</dt>
                <dd>
                  <Badge kind="info">{n.node_type}</Badge>
                </dd>
                <dt>Health</dt>
                <dd>
                  <HealthBadge status={n.health_status} />{" "}
                  <span class="muted small">
                    {n.consecutive_failures} failures / {n.consecutive_successes} successes in a row · checked {fmtDate(n.last_health_check)}
                  </span>
                </dd>
                <dt>Active</dt>
                <dd>
                  <SavingSwitch label="Node active" checked={n.is_active} save={() => patch(`/nodes/${id}/toggle`)} onSaved={node.reload} />
                </dd>
                <dt>Base URL</dt>
                <dd class="mono">{n.base_url}</dd>
                <dt>API key</dt>
                <dd>{n.api_key_set ? "set (write-only)" : "none"}</dd>
                <dt>Priority / weight</dt>
                <dd>
                  {n.priority} / {n.weight}
                </dd>
                <dt>Latency</dt>
                <dd>{fmtMs(n.latency_ms)}</dd>
                <dt>Warm-up</dt>
                <dd>{n.warmup_enabled ? "on" : "off"}</dd>
                {n.code && (
                  <>
                    <dt>Code</dt>
                    <dd class="mono">{n.code}</dd>
                  </>
                )}
                {n.health_url && (
                  <>
                    <dt>Health URL</dt>
                    <dd class="mono">{n.health_url}</dd>
                  </>
                )}
                {n.headers && Object.keys(n.headers).length > 0 && (
                  <>
                    <dt>Headers</dt>
                    <dd class="mono small">
                      {Object.entries(n.headers).map(([k, v]) => (
                        <div key={k}>
                          {k}: {v}
                        </div>
                      ))}
                    </dd>
                  </>
                )}
                {n.last_error && (
                  <>
                    <dt>Last error</dt>
                    <dd class="bad-text">{n.last_error}</dd>
                  </>
                )}
                {n.discovery_error && (
                  <>
                    <dt>Discovery</dt>
                    <dd class="bad-text">{n.discovery_error}</dd>
                  </>
                )}
              </dl>
            </Section>
            <Section title="Routing">
              <Async state={routing} what="Loading routing options">
                {(r) => <RoutingFacts r={r} />}
              </Async>
            </Section>
            <NodeModels node={n} onChanged={node.reload} />
            <LoadView nodeId={id} />
            {n.node_type === "ollama" && (
              <Section title="Pull a model to this node">
                <PullPanel path={`/nodes/${id}/pull`} onDone={node.reload} />
              </Section>
            )}
            {editing && (
              <NodeForm
                node={n}
                onClose={() => setEditing(false)}
                onSaved={() => {
                  setEditing(false);
                  node.reload();
                  routing.reload();
                }}
              />
            )}
          </>
        )}
      </Async>
    </>
  );
}

function NodeModels({ node: n, onChanged }: { node: Node; onChanged: () => void }) {
  return (
    <Section title={`Models (${n.models.length})`}>
      {n.models.length === 0 ? (
        <Empty>No models discovered. Press “Discover now”{n.node_type === "ollama" ? " or pull one below" : ""}.</Empty>
      ) : (
        <Table
          label="Node models"
          wrap
          rows={n.models}
          keyOf={(m) => m.model_name}
          columns={[
            ["Model", (m) => m.model_name, "mono"],
            ["Available", (m) => <SavingSwitch label={`Available ${m.model_name}`} checked={m.is_available} save={(v) => patch(`/nodes/${n.id}/models/${enc(m.model_name)}/available`, { is_available: v })} onSaved={onChanged} />],
            [
              "State",
              (m) => (
                <>
                  {m.is_loaded && <Badge kind="ok">loaded</Badge>}
                  {!m.is_present && <Badge kind="warn">missing</Badge>}
                </>
              ),
            ],
            ["Context", (m) => fmtCtx(m.context_length)],
            ["Capabilities", (m) => <Tags items={m.capabilities} />],
            ["Size", (m) => fmtBytes(m.size), "num"],
            ["Last seen", (m) => fmtDate(m.last_seen), "small"],
            n.node_type === "ollama" && [
              "Actions",
              (m) => (
                <Confirm
                  label={`Delete ${m.model_name} from ${n.name}`}
                  question={`Delete ${m.model_name} from the Ollama server ${n.name}? This removes the files there.`}
                  onConfirm={async () => {
                    await del(`/nodes/${n.id}/models/${enc(m.model_name)}`);
                    onChanged();
                  }}
                >
                  Delete
                </Confirm>
              ),
            ],
          ]}
        />
      )}
    </Section>
  );
}

function RoutingFacts({ r }: { r: NodeRouting }) {
  const rules = r.request_rules;
  return (
    <dl class="facts" aria-label="Routing options">
      <dt>Pinned requests only</dt>
      <dd>
        {r.pinned_only ? (
          <>
            yes: only <code>node:{r.code ?? "<code>"}:…</code> names, members preferring it, mappings restricted to it
          </>
        ) : (
          "no"
        )}
      </dd>
      <dt>Unknown models</dt>
      <dd>{r.route_unknown_models ? "tried here until discovery lists them" : "404 until discovered"}</dd>
      <dt>Default max_tokens</dt>
      <dd>{rules.default_max_tokens ?? <span class="muted">none</span>}</dd>
      <dt>Parameters dropped</dt>
      <dd class="mono">{rules.drop_params.length ? rules.drop_params.join(", ") : <span class="muted">none</span>}</dd>
    </dl>
  );
}

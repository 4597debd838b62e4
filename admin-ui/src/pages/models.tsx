import { useState } from "preact/hooks";
import { enc, get, patch } from "../api";
import type { CatalogModel } from "../types";
import { Async, Badge, Button, Empty, fmtCtx, inputValue, PageHead, SavingSwitch, Section, useLoad } from "../ui";

export function ModelsPage() {
  const cat = useLoad(() => get<{ models: CatalogModel[] }>("/models"));
  const [q, setQ] = useState("");
  const [node, setNode] = useState("");

  return (
    <>
      <PageHead title="Models">
        <Button onClick={cat.reload}>Refresh</Button>
      </PageHead>
      <Section
        title="Catalog"
        actions={
          <>
            <input type="search" aria-label="Search models" placeholder="Search…" value={q} onInput={(e) => setQ(inputValue(e))} />
            {cat.data && (
              <select aria-label="Node" value={node} onChange={(e) => setNode(inputValue(e))}>
                <option value="">All nodes</option>
                {[...new Map(cat.data.models.flatMap((m) => m.nodes.map((n) => [String(n.node_id), n.node_name] as const))).entries()].map(([id, name]) => (
                  <option key={id} value={id}>
                    {name}
                  </option>
                ))}
              </select>
            )}
          </>
        }
      >
        <p class="muted small">
          “Available” on a model switches it on every node at once; the per-node switches override one node. Discovery keeps the list current (every few minutes, or “Discover” on the Nodes page).
        </p>
        <Async state={cat} what="Loading catalog">
          {(d) => {
            const rows = d.models
              .filter((m) => !q || m.model_name.toLowerCase().includes(q.toLowerCase()) || m.mapped_as.some((x) => x.toLowerCase().includes(q.toLowerCase())))
              .filter((m) => !node || m.nodes.some((n) => String(n.node_id) === node));
            if (d.models.length === 0) return <Empty>No models discovered yet. Add a node on the Nodes page and press “Discover”.</Empty>;
            if (rows.length === 0) return <Empty>No model matches this search.</Empty>;
            return (
              <div class="table-wrap">
                <table aria-label="Model catalog">
                  <thead>
                    <tr>
                      <th>Model</th>
                      <th>Mapped as</th>
                      <th>Available</th>
                      <th>Nodes</th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((m) => (
                      <tr key={m.model_name}>
                        <td class="mono">{m.model_name}</td>
                        <td>{m.mapped_as.length ? m.mapped_as.map((x) => <Badge key={x} kind="info">{x}</Badge>) : <a href="#/mappings" class="small">Map →</a>}</td>
                        <td>
                          <SavingSwitch label={`Available everywhere ${m.model_name}`} checked={m.is_available} save={(v) => patch(`/models/${enc(m.model_name)}/available`, { is_available: v })} onSaved={cat.reload} />
                        </td>
                        <td>
                          <ul class="node-models">
                            {m.nodes
                              .filter((n) => !node || String(n.node_id) === node)
                              .map((n) => (
                                <li key={n.node_id}>
                                  <SavingSwitch label={`Available on ${n.node_name} ${m.model_name}`} checked={n.is_available} save={(v) => patch(`/nodes/${n.node_id}/models/${enc(m.model_name)}/available`, { is_available: v })} onSaved={cat.reload} />
                                  <a href={`#/nodes/${n.node_id}`}>{n.node_name}</a> <Badge kind="muted">{n.node_type}</Badge>
                                  {n.is_loaded && <Badge kind="ok">loaded</Badge>}
                                  {!n.is_present && <Badge kind="warn">missing</Badge>}
                                  <span class="muted small"> ctx {fmtCtx(n.context_length)}</span>
                                  {(n.capabilities ?? []).map((c) => (
                                    <Badge key={c} kind="muted">
                                      {c}
                                    </Badge>
                                  ))}
                                </li>
                              ))}
                          </ul>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            );
          }}
        </Async>
      </Section>
    </>
  );
}

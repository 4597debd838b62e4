import { useState } from "preact/hooks";
import { del, enc, get, post, put } from "../api";
import type { Mapping, Node } from "../types";
import { CAPABILITIES } from "../types";
import { Async, Badge, Button, Confirm, Empty, ErrorBox, Field, fieldError, inputValue, Modal, PageHead, Section, useAction, useLoad } from "../ui";

export function MappingsPage() {
  const maps = useLoad(() => get<{ mappings: Mapping[]; total: number }>("/model-mappings"));
  const [editing, setEditing] = useState<Mapping | "new" | null>(null);

  return (
    <>
      <PageHead title="Mappings">
        <Button kind="primary" onClick={() => setEditing("new")}>
          Add mapping
        </Button>
      </PageHead>
      <Section title="Display name → real model">
        <p class="muted small">Clients call the display name; the gateway sends the real name to a node that has it (optionally only the nodes listed).</p>
        <Async state={maps} what="Loading mappings">
          {(d) =>
            d.mappings.length === 0 ? (
              <Empty>No mappings. Add one to give a model a stable public name (e.g. “coder” → “qwen2.5-coder:32b”).</Empty>
            ) : (
              <table aria-label="Mappings">
                <thead>
                  <tr>
                    <th>Display name</th>
                    <th>Real name</th>
                    <th>Nodes</th>
                    <th>Context</th>
                    <th>Capabilities</th>
                    <th>Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {d.mappings.map((m) => (
                    <tr key={m.id}>
                      <td>
                        <strong>{m.display_name}</strong>
                      </td>
                      <td class="mono">{m.real_name}</td>
                      <td>{m.node_names.length ? m.node_names.join(", ") : <span class="muted">any node</span>}</td>
                      <td>{m.context_length_display ?? <span class="muted">—</span>}</td>
                      <td>
                        {(m.capabilities ?? []).map((c) => (
                          <Badge key={c} kind="muted">
                            {c}
                          </Badge>
                        ))}
                      </td>
                      <td class="actions-cell">
                        <Button kind="small" label={`Edit ${m.display_name}`} onClick={() => setEditing(m)}>
                          Edit
                        </Button>
                        <Confirm
                          label={`Delete ${m.display_name}`}
                          question={`Delete mapping ${m.display_name}? Clients using that name get 404.`}
                          onConfirm={async () => {
                            await del(`/model-mappings/${enc(m.display_name)}`);
                            maps.reload();
                          }}
                        >
                          Delete
                        </Confirm>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          }
        </Async>
      </Section>
      {editing && (
        <MappingForm
          mapping={editing === "new" ? undefined : editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            maps.reload();
          }}
        />
      )}
    </>
  );
}

function MappingForm({ mapping, onClose, onSaved }: { mapping?: Mapping; onClose: () => void; onSaved: () => void }) {
  const nodes = useLoad(() => get<{ nodes: Node[] }>("/nodes"));
  const [display, setDisplay] = useState(mapping?.display_name ?? "");
  const [real, setReal] = useState(mapping?.real_name ?? "");
  const [nodeIds, setNodeIds] = useState<number[]>(mapping?.node_ids ?? []);
  const [ctx, setCtx] = useState(mapping?.context_length_display ?? "");
  const [caps, setCaps] = useState<string[]>(mapping?.capabilities ?? []);
  const [run, busy, error] = useAction();
  const realNames = [...new Set((nodes.data?.nodes ?? []).flatMap((n) => n.models.map((m) => m.model_name)))].sort();

  const submit = (e: Event) => {
    e.preventDefault();
    run(async () => {
      const body: Record<string, unknown> = { display_name: display.trim(), real_name: real.trim(), node_ids: nodeIds, capabilities: caps, context_length: ctx.trim() ? (/^\d+$/.test(ctx.trim()) ? Number(ctx.trim()) : ctx.trim()) : null };
      if (mapping) await put(`/model-mappings/${enc(mapping.display_name)}`, body);
      else await post("/model-mappings", body);
      onSaved();
    });
  };

  return (
    <Modal title={mapping ? `Edit mapping ${mapping.display_name}` : "Add mapping"} open onClose={onClose} wide>
      <form onSubmit={submit}>
        <div class="row">
          <Field label="Display name" hint={mapping ? "What clients call; changing it renames the mapping" : "What clients call"} error={fieldError(error, "display_name")}>
            <input value={display} onInput={(e) => setDisplay(inputValue(e))} required />
          </Field>
          <Field label="Real name" hint="The model name on the node" error={fieldError(error, "real_name")}>
            <input value={real} onInput={(e) => setReal(inputValue(e))} required list="real-names" />
            <datalist id="real-names">
              {realNames.map((n) => (
                <option key={n} value={n} />
              ))}
            </datalist>
          </Field>
        </div>
        <Field label="Context length" hint="Optional: 32768, 128K or 1M" error={fieldError(error, "context_length")}>
          <input value={ctx} onInput={(e) => setCtx(inputValue(e))} />
        </Field>
        <fieldset class="picker">
          <legend>Capabilities</legend>
          {CAPABILITIES.map((c) => (
            <label key={c} class="check inline">
              <input type="checkbox" checked={caps.includes(c)} onChange={(e) => setCaps((e.target as HTMLInputElement).checked ? [...caps, c] : caps.filter((x) => x !== c))} /> {c}
            </label>
          ))}
          {fieldError(error, "capabilities") && <span class="field-error">{fieldError(error, "capabilities")}</span>}
        </fieldset>
        <fieldset class="picker">
          <legend>Only on these nodes (none checked = any node that has the model)</legend>
          <ErrorBox error={nodes.error} />
          {(nodes.data?.nodes ?? []).map((n) => (
            <label key={n.id} class="check inline">
              <input type="checkbox" checked={nodeIds.includes(n.id)} onChange={(e) => setNodeIds((e.target as HTMLInputElement).checked ? [...nodeIds, n.id] : nodeIds.filter((x) => x !== n.id))} /> {n.name}
            </label>
          ))}
          {fieldError(error, "node_ids") && <span class="field-error">{fieldError(error, "node_ids")}</span>}
        </fieldset>
        <ErrorBox error={error} />
        <div class="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" kind="primary" busy={busy}>
            {mapping ? "Save mapping" : "Add mapping"}
          </Button>
        </div>
      </form>
    </Modal>
  );
}

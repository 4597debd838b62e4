import { useState } from "preact/hooks";
import { del, enc, get, post, put } from "../api";
import type { Mapping, Node } from "../types";
import { CAPABILITIES } from "../types";
import { CheckList, ErrorBox, Field, FormDialog, ListPage, RowActions, Table, Tags, useForm, useLoad } from "../ui";

export function MappingsPage() {
  const maps = useLoad(() => get<{ mappings: Mapping[]; total: number }>("/model-mappings"));
  return (
    <ListPage
      title="Mappings"
      addLabel="Add mapping"
      state={maps}
      items={(d) => d.mappings}
      section="Display name → real model"
      note={<p class="muted small">Clients call the display name; the gateway sends the real name to a node that has it (optionally only the nodes listed).</p>}
      what="Loading mappings"
      empty="No mappings. Add one to give a model a stable public name (e.g. “coder” → “qwen2.5-coder:32b”)."
      form={(m, close, saved) => <MappingForm mapping={m} onClose={close} onSaved={saved} />}
    >
      {(rows, edit) => (
        <Table
          label="Mappings"
          rows={rows}
          keyOf={(m) => m.id}
          columns={[
            ["Display name", (m) => <strong>{m.display_name}</strong>],
            ["Real name", (m) => m.real_name, "mono"],
            ["Nodes", (m) => (m.node_names.length ? m.node_names.join(", ") : <span class="muted">any node</span>)],
            ["Context", (m) => m.context_length_display ?? <span class="muted">—</span>],
            ["Capabilities", (m) => <Tags items={m.capabilities} />],
            [
              "Actions",
              (m) => (
                <RowActions
                  name={m.display_name}
                  onEdit={() => edit(m)}
                  question={`Delete mapping ${m.display_name}? Clients using that name get 404.`}
                  remove={async () => {
                    await del(`/model-mappings/${enc(m.display_name)}`);
                    maps.reload();
                  }}
                />
              ),
              "actions-cell",
            ],
          ]}
        />
      )}
    </ListPage>
  );
}

function MappingForm({ mapping, onClose, onSaved }: { mapping?: Mapping; onClose: () => void; onSaved: () => void }) {
  const nodes = useLoad(() => get<{ nodes: Node[] }>("/nodes"));
  const { values: f, text } = useForm({ display: mapping?.display_name ?? "", real: mapping?.real_name ?? "", ctx: mapping?.context_length_display ?? "" });
  const [nodeIds, setNodeIds] = useState<number[]>(mapping?.node_ids ?? []);
  const [caps, setCaps] = useState<string[]>(mapping?.capabilities ?? []);
  const all = nodes.data?.nodes ?? [];
  const realNames = [...new Set(all.flatMap((n) => n.models.map((m) => m.model_name)))].sort();
  const ctx = f.ctx.trim();
  return (
    <FormDialog
      title={mapping ? `Edit mapping ${mapping.display_name}` : "Add mapping"}
      submitLabel={mapping ? "Save mapping" : "Add mapping"}
      onClose={onClose}
      wide
      submit={async () => {
        const body = { display_name: f.display.trim(), real_name: f.real.trim(), node_ids: nodeIds, capabilities: caps, context_length: ctx ? (/^\d+$/.test(ctx) ? Number(ctx) : ctx) : null };
        if (mapping) await put(`/model-mappings/${enc(mapping.display_name)}`, body);
        else await post("/model-mappings", body);
        onSaved();
      }}
    >
      <div class="row">
        <Field label="Display name" hint={mapping ? "What clients call; changing it renames the mapping" : "What clients call"} name="display_name">
          <input {...text("display")} required />
        </Field>
        <Field label="Real name" hint="The model name on the node" name="real_name">
          <input {...text("real")} required list="real-names" />
          <datalist id="real-names">
            {realNames.map((n) => (
              <option key={n} value={n} />
            ))}
          </datalist>
        </Field>
      </div>
      <Field label="Context length" hint="Optional: 32768, 128K or 1M" name="context_length">
        <input {...text("ctx")} />
      </Field>
      <CheckList legend="Capabilities" options={CAPABILITIES} value={caps as (typeof CAPABILITIES)[number][]} onChange={setCaps} field="capabilities" />
      <ErrorBox error={nodes.error} />
      <CheckList legend="Only on these nodes (none checked = any node that has the model)" options={all.map((n) => n.id)} value={nodeIds} onChange={setNodeIds} field="node_ids" label={(id) => all.find((n) => n.id === id)?.name ?? `#${id}`} />
    </FormDialog>
  );
}

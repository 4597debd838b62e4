import { del, get, patch, post } from "../api";
import type { ToolSet } from "../types";
import { Badge, Check, Field, FormDialog, fmtDate, ListPage, parseList, RowActions, Table, Tags, useForm, useLoad } from "../ui";

export function ToolSetsPage() {
  const sets = useLoad(() => get<{ tool_sets: ToolSet[]; total: number }>("/tool-sets"));
  return (
    <ListPage
      title="Tool sets"
      addLabel="Add tool set"
      state={sets}
      items={(d) => d.tool_sets}
      section="Named tool lists"
      note={<p class="muted small">A tool set is a reusable list of allowed tool names that model config rules can point at.</p>}
      what="Loading tool sets"
      empty="No tool sets. Add one (e.g. “read-only”: read_file, search) and pick it in a Model config rule."
      form={(s, close, saved) => <ToolSetForm set={s} onClose={close} onSaved={saved} />}
    >
      {(rows, edit) => (
        <Table
          label="Tool sets"
          rows={rows}
          keyOf={(s) => s.id}
          columns={[
            [
              "Name",
              (s) => (
                <>
                  <strong>{s.name}</strong>
                  {s.description && <div class="small muted">{s.description}</div>}
                </>
              ),
            ],
            ["Tools", (s) => (s.tools === null ? <Badge kind="info">every tool</Badge> : s.tools.length ? <Tags items={s.tools} /> : <span class="muted">no tools</span>), "small"],
            ["Used by", (s) => `${s.used_by} rules`],
            ["Updated", (s) => fmtDate(s.updated_at), "small"],
            [
              "Actions",
              (s) => (
                <RowActions
                  name={s.name}
                  onEdit={() => edit(s)}
                  question={`Delete tool set ${s.name}?`}
                  remove={async () => {
                    await del(`/tool-sets/${s.id}`);
                    sets.reload();
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

function ToolSetForm({ set: s, onClose, onSaved }: { set?: ToolSet; onClose: () => void; onSaved: () => void }) {
  const { values: f, text, check } = useForm({ name: s?.name ?? "", every: s ? s.tools === null : false, tools: (s?.tools ?? []).join("\n"), description: s?.description ?? "" });
  return (
    <FormDialog
      title={s ? `Edit tool set ${s.name}` : "Add tool set"}
      submitLabel={s ? "Save tool set" : "Add tool set"}
      onClose={onClose}
      submit={async () => {
        const body = { name: f.name.trim(), tools: f.every ? null : parseList(f.tools), description: f.description };
        if (s) await patch(`/tool-sets/${s.id}`, body);
        else await post("/tool-sets", body);
        onSaved();
      }}
    >
      <Field label="Name" name="name">
        <input {...text("name")} required />
      </Field>
      <Check {...check("every")}>Every tool (no restriction)</Check>
      {!f.every && (
        <Field label="Tools" hint="One tool name per line" name="tools">
          <textarea rows={6} {...text("tools")} />
        </Field>
      )}
      <Field label="Description" name="description">
        <input {...text("description")} />
      </Field>
    </FormDialog>
  );
}

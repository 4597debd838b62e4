import { useState } from "preact/hooks";
import { del, get, patch, post } from "../api";
import type { ToolSet } from "../types";
import { Async, Badge, Button, Confirm, Empty, ErrorBox, Field, fieldError, fmtDate, inputChecked, inputValue, Modal, PageHead, parseList, Section, useAction, useLoad } from "../ui";

export function ToolSetsPage() {
  const sets = useLoad(() => get<{ tool_sets: ToolSet[]; total: number }>("/tool-sets"));
  const [editing, setEditing] = useState<ToolSet | "new" | null>(null);

  return (
    <>
      <PageHead title="Tool sets">
        <Button kind="primary" onClick={() => setEditing("new")}>
          Add tool set
        </Button>
      </PageHead>
      <Section title="Named tool lists">
        <p class="muted small">A tool set is a reusable list of allowed tool names that model config rules can point at.</p>
        <Async state={sets} what="Loading tool sets">
          {(d) =>
            d.tool_sets.length === 0 ? (
              <Empty>No tool sets. Add one (e.g. “read-only”: read_file, search) and pick it in a Model config rule.</Empty>
            ) : (
              <table aria-label="Tool sets">
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Tools</th>
                    <th>Used by</th>
                    <th>Updated</th>
                    <th>Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {d.tool_sets.map((s) => (
                    <tr key={s.id}>
                      <td>
                        <strong>{s.name}</strong>
                        {s.description && <div class="small muted">{s.description}</div>}
                      </td>
                      <td class="small">
                        {s.tools === null ? (
                          <Badge kind="info">every tool</Badge>
                        ) : s.tools.length ? (
                          s.tools.map((t) => (
                            <Badge key={t} kind="muted">
                              {t}
                            </Badge>
                          ))
                        ) : (
                          <span class="muted">no tools</span>
                        )}
                      </td>
                      <td>{s.used_by} rules</td>
                      <td class="small">{fmtDate(s.updated_at)}</td>
                      <td class="actions-cell">
                        <Button kind="small" label={`Edit ${s.name}`} onClick={() => setEditing(s)}>
                          Edit
                        </Button>
                        <Confirm
                          label={`Delete ${s.name}`}
                          question={`Delete tool set ${s.name}?`}
                          onConfirm={async () => {
                            await del(`/tool-sets/${s.id}`);
                            sets.reload();
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
        <ToolSetForm
          set={editing === "new" ? undefined : editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            sets.reload();
          }}
        />
      )}
    </>
  );
}

function ToolSetForm({ set: s, onClose, onSaved }: { set?: ToolSet; onClose: () => void; onSaved: () => void }) {
  const [name, setName] = useState(s?.name ?? "");
  const [every, setEvery] = useState(s ? s.tools === null : false);
  const [tools, setTools] = useState((s?.tools ?? []).join("\n"));
  const [description, setDescription] = useState(s?.description ?? "");
  const [run, busy, error] = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    run(async () => {
      const body = { name: name.trim(), tools: every ? null : parseList(tools), description };
      if (s) await patch(`/tool-sets/${s.id}`, body);
      else await post("/tool-sets", body);
      onSaved();
    });
  };
  return (
    <Modal title={s ? `Edit tool set ${s.name}` : "Add tool set"} open onClose={onClose}>
      <form onSubmit={submit}>
        <Field label="Name" error={fieldError(error, "name")}>
          <input value={name} onInput={(e) => setName(inputValue(e))} required />
        </Field>
        <label class="check">
          <input type="checkbox" checked={every} onChange={(e) => setEvery(inputChecked(e))} /> Every tool (no restriction)
        </label>
        {!every && (
          <Field label="Tools" hint="One tool name per line" error={fieldError(error, "tools")}>
            <textarea rows={6} value={tools} onInput={(e) => setTools(inputValue(e))} />
          </Field>
        )}
        <Field label="Description" error={fieldError(error, "description")}>
          <input value={description} onInput={(e) => setDescription(inputValue(e))} />
        </Field>
        <ErrorBox error={error} />
        <div class="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" kind="primary" busy={busy}>
            {s ? "Save tool set" : "Add tool set"}
          </Button>
        </div>
      </form>
    </Modal>
  );
}

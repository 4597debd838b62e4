import { useState } from "preact/hooks";
import { del, get, patch, post, put } from "../api";
import { loadNames } from "../shared";
import type { ScopeType, SystemPrompt, User } from "../types";
import { Async, Badge, Button, Confirm, Empty, ErrorBox, Field, fieldError, inputChecked, inputValue, Modal, optInt, PageHead, SavingSwitch, Section, SortableList, useAction, useLoad } from "../ui";

const SCOPES: [ScopeType, string][] = [
  ["user", "User"],
  ["node", "Node"],
  ["group", "Group"],
  ["model", "Model (real name)"],
  ["mapping", "Mapping (display name)"],
];

export function PromptsPage() {
  const prompts = useLoad(() => get<{ prompts: SystemPrompt[]; total: number }>("/system-prompts"));
  const [editing, setEditing] = useState<SystemPrompt | "new" | null>(null);
  const [run, busy, error] = useAction();

  return (
    <>
      <PageHead title="System prompts">
        <Button kind="primary" onClick={() => setEditing("new")}>
          Add system prompt
        </Button>
      </PageHead>
      <Section title="Prompts by priority" actions={<span class="muted small">Higher priority first; drag to reorder.</span>}>
        <ErrorBox error={error} label="Saving the new order failed" />
        <Async state={prompts} what="Loading system prompts">
          {(d) => {
            const items = [...d.prompts].sort((a, b) => b.priority - a.priority || a.id - b.id);
            return items.length === 0 ? (
              <Empty>No system prompts. Add one to prepend instructions for a user, node, group, model or mapping.</Empty>
            ) : (
              <SortableList
                items={items}
                keyOf={(p) => p.id}
                nameOf={(p) => `${p.scope_type} ${p.scope_value}`}
                busy={busy}
                onReorder={(next) => {
                  // The first row gets the highest number so "higher first" matches what is shown.
                  const n = next.length;
                  const withPrio = next.map((p, i) => ({ ...p, priority: n - i }));
                  prompts.setData({ ...d, prompts: withPrio });
                  run(() => put("/system-prompts/reorder", { prompts: withPrio.map((p) => ({ id: p.id, priority: p.priority })) })).then(() => prompts.reload());
                }}
                render={(p) => (
                  <div class="node-card" role="group" aria-label={`Prompt for ${p.scope_type} ${p.scope_value}`}>
                    <div class="node-main">
                      <div class="node-title">
                        <Badge kind="info">{p.scope_type}</Badge>
                        <strong class="mono">{p.scope_value}</strong>
                        <span class="muted small">priority {p.priority}</span>
                      </div>
                      <div class="small prompt-excerpt">{p.prompt.length > 200 ? p.prompt.slice(0, 200) + "…" : p.prompt}</div>
                      {p.description && <div class="small muted">{p.description}</div>}
                    </div>
                    <div class="node-actions">
                      <SavingSwitch label={`Active prompt ${p.id}`} checked={p.is_active} save={(v) => patch(`/system-prompts/${p.id}`, { is_active: v })} onSaved={prompts.reload} />
                      <Button kind="small" label={`Edit prompt ${p.id}`} onClick={() => setEditing(p)}>
                        Edit
                      </Button>
                      <Confirm
                        label={`Delete prompt ${p.id}`}
                        question="Delete this system prompt?"
                        onConfirm={async () => {
                          await del(`/system-prompts/${p.id}`);
                          prompts.reload();
                        }}
                      >
                        Delete
                      </Confirm>
                    </div>
                  </div>
                )}
              />
            );
          }}
        </Async>
      </Section>
      {editing && (
        <PromptForm
          prompt={editing === "new" ? undefined : editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            prompts.reload();
          }}
        />
      )}
    </>
  );
}

function PromptForm({ prompt: p, onClose, onSaved }: { prompt?: SystemPrompt; onClose: () => void; onSaved: () => void }) {
  const names = useLoad(loadNames);
  const users = useLoad(() => get<{ users: User[] }>("/users"));
  const [f, setF] = useState({
    scope_type: (p?.scope_type ?? "mapping") as ScopeType,
    scope_value: p?.scope_value ?? "",
    prompt: p?.prompt ?? "",
    priority: p?.priority?.toString() ?? "",
    is_active: p?.is_active ?? true,
    description: p?.description ?? "",
  });
  const [run, busy, error] = useAction();
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: inputValue(e) });
  const n = names.data;
  const suggestions: string[] =
    f.scope_type === "user"
      ? (users.data?.users ?? []).map((u) => u.username)
      : f.scope_type === "node"
        ? (n?.nodes ?? []).flatMap((x) => [x.name, ...(x.code ? [x.code] : [])])
        : f.scope_type === "group"
          ? (n?.groups ?? [])
          : f.scope_type === "model"
            ? (n?.models ?? [])
            : (n?.mappings ?? []);

  const submit = (e: Event) => {
    e.preventDefault();
    run(async () => {
      const body: Record<string, unknown> = { scope_type: f.scope_type, scope_value: f.scope_value.trim(), prompt: f.prompt, is_active: f.is_active, description: f.description };
      if (f.priority.trim()) body.priority = optInt(f.priority);
      if (p) await patch(`/system-prompts/${p.id}`, body);
      else await post("/system-prompts", body);
      onSaved();
    });
  };

  return (
    <Modal title={p ? "Edit system prompt" : "Add system prompt"} open onClose={onClose} wide>
      <form onSubmit={submit}>
        <div class="row">
          <Field label="Scope" error={fieldError(error, "scope_type")}>
            <select value={f.scope_type} onChange={set("scope_type")}>
              {SCOPES.map(([v, t]) => (
                <option key={v} value={v}>
                  {t}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Target" hint="Pick a suggestion or type a name" error={fieldError(error, "scope_value")}>
            <input value={f.scope_value} onInput={set("scope_value")} required list="scope-values" />
            <datalist id="scope-values">
              {suggestions.map((s) => (
                <option key={s} value={s} />
              ))}
            </datalist>
          </Field>
          <Field label="Priority" hint="Higher first" error={fieldError(error, "priority")}>
            <input inputMode="numeric" value={f.priority} onInput={set("priority")} />
          </Field>
        </div>
        <Field label="Prompt" error={fieldError(error, "prompt")}>
          <textarea rows={8} value={f.prompt} onInput={set("prompt")} required />
        </Field>
        <Field label="Description" error={fieldError(error, "description")}>
          <input value={f.description} onInput={set("description")} />
        </Field>
        <label class="check">
          <input type="checkbox" checked={f.is_active} onChange={(e) => setF({ ...f, is_active: inputChecked(e) })} /> Active
        </label>
        <ErrorBox error={error} />
        <div class="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" kind="primary" busy={busy}>
            {p ? "Save prompt" : "Add prompt"}
          </Button>
        </div>
      </form>
    </Modal>
  );
}

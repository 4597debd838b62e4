import { del, get, patch, post, put } from "../api";
import { loadNames } from "../shared";
import type { ScopeType, SystemPrompt, User } from "../types";
import { Badge, Card, Check, Field, FormDialog, ListPage, optInt, Options, RowActions, SavingSwitch, SortableList, useForm, useLoad } from "../ui";

const SCOPES: [ScopeType, string][] = [
  ["user", "User"],
  ["node", "Node"],
  ["group", "Group"],
  ["model", "Model (real name)"],
  ["mapping", "Mapping (display name)"],
];

export function PromptsPage() {
  const prompts = useLoad(() => get<{ prompts: SystemPrompt[]; total: number }>("/system-prompts"));
  return (
    <ListPage
      title="System prompts"
      addLabel="Add system prompt"
      state={prompts}
      items={(d) => [...d.prompts].sort((a, b) => b.priority - a.priority || a.id - b.id)}
      section="Prompts by priority"
      sectionActions={<span class="muted small">Higher priority first; drag to reorder.</span>}
      what="Loading system prompts"
      empty="No system prompts. Add one to prepend instructions for a user, node, group, model or mapping."
      form={(p, close, saved) => <PromptForm prompt={p} onClose={close} onSaved={saved} />}
    >
      {(items, edit) => (
        <SortableList
          items={items}
          keyOf={(p) => p.id}
          nameOf={(p) => `${p.scope_type} ${p.scope_value}`}
          // The first row gets the highest number so "higher first" matches what is shown.
          save={(next) => put("/system-prompts/reorder", { prompts: next.map((p, i) => ({ id: p.id, priority: next.length - i })) })}
          onSaved={prompts.reload}
          render={(p) => (
            <Card
              label={`Prompt for ${p.scope_type} ${p.scope_value}`}
              title={
                <>
                  <Badge kind="info">{p.scope_type}</Badge>
                  <strong class="mono">{p.scope_value}</strong>
                  <span class="muted small">priority {p.priority}</span>
                </>
              }
              actions={
                <RowActions
                  name={`prompt ${p.id}`}
                  onEdit={() => edit(p)}
                  question="Delete this system prompt?"
                  remove={async () => {
                    await del(`/system-prompts/${p.id}`);
                    prompts.reload();
                  }}
                >
                  <SavingSwitch label={`Active prompt ${p.id}`} checked={p.is_active} save={(v) => patch(`/system-prompts/${p.id}`, { is_active: v })} onSaved={prompts.reload} />
                </RowActions>
              }
            >
              <div class="small prompt-excerpt">{p.prompt.length > 200 ? p.prompt.slice(0, 200) + "…" : p.prompt}</div>
              {p.description && <div class="small muted">{p.description}</div>}
            </Card>
          )}
        />
      )}
    </ListPage>
  );
}

function PromptForm({ prompt: p, onClose, onSaved }: { prompt?: SystemPrompt; onClose: () => void; onSaved: () => void }) {
  const names = useLoad(loadNames);
  const users = useLoad(() => get<{ users: User[] }>("/users"));
  const {
    values: f,
    text,
    check,
  } = useForm({
    scope_type: (p?.scope_type ?? "mapping") as string,
    scope_value: p?.scope_value ?? "",
    prompt: p?.prompt ?? "",
    priority: p?.priority?.toString() ?? "",
    is_active: p?.is_active ?? true,
    description: p?.description ?? "",
  });
  const n = names.data;
  const suggestions: Record<string, string[]> = {
    user: (users.data?.users ?? []).map((u) => u.username),
    node: (n?.nodes ?? []).flatMap((x) => [x.name, ...(x.code ? [x.code] : [])]),
    group: n?.groups ?? [],
    model: n?.models ?? [],
    mapping: n?.mappings ?? [],
  };
  return (
    <FormDialog
      title={p ? "Edit system prompt" : "Add system prompt"}
      submitLabel={p ? "Save prompt" : "Add prompt"}
      onClose={onClose}
      wide
      submit={async () => {
        const body: Record<string, unknown> = { scope_type: f.scope_type, scope_value: f.scope_value.trim(), prompt: f.prompt, is_active: f.is_active, description: f.description };
        if (f.priority.trim()) body.priority = optInt(f.priority);
        if (p) await patch(`/system-prompts/${p.id}`, body);
        else await post("/system-prompts", body);
        onSaved();
      }}
    >
      <div class="row">
        <Field label="Scope" name="scope_type">
          <select {...text("scope_type")}>
            <Options options={SCOPES} />
          </select>
        </Field>
        <Field label="Target" hint="Pick a suggestion or type a name" name="scope_value">
          <input {...text("scope_value")} required list="scope-values" />
          <datalist id="scope-values">
            {(suggestions[f.scope_type] ?? []).map((s) => (
              <option key={s} value={s} />
            ))}
          </datalist>
        </Field>
        <Field label="Priority" hint="Higher first" name="priority">
          <input inputMode="numeric" {...text("priority")} />
        </Field>
      </div>
      <Field label="Prompt" name="prompt">
        <textarea rows={8} {...text("prompt")} required />
      </Field>
      <Field label="Description" name="description">
        <input {...text("description")} />
      </Field>
      <Check {...check("is_active")}>Active</Check>
    </FormDialog>
  );
}

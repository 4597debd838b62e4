import { useState } from "preact/hooks";
import { del, get, patch, post } from "../api";
import type { ModelConfig, ToolSet } from "../types";
import { Async, Badge, Button, Confirm, Empty, ErrorBox, Field, fieldError, fmtCtx, inputChecked, inputValue, Modal, optInt, PageHead, parseList, SavingSwitch, Section, useAction, useLoad } from "../ui";

export function ModelConfigPage() {
  const configs = useLoad(() => get<{ configs: ModelConfig[]; total: number }>("/model-config"));
  const [editing, setEditing] = useState<ModelConfig | "new" | null>(null);

  return (
    <>
      <PageHead title="Model config">
        <Button kind="primary" onClick={() => setEditing("new")}>
          Add model config
        </Button>
      </PageHead>
      <Section title="Per-model rules">
        <p class="muted small">Rules match a model name by prefix (or exactly) and set allowed tools, removed parameters, context lengths, rate limits and maintenance mode.</p>
        <Async state={configs} what="Loading model config">
          {(d) =>
            d.configs.length === 0 ? (
              <Empty>No model rules. Add one to limit tools or set context lengths for models starting with a prefix (e.g. “qwen”).</Empty>
            ) : (
              <div class="table-wrap">
                <table aria-label="Model config">
                  <thead>
                    <tr>
                      <th>Prefix</th>
                      <th>Tools</th>
                      <th>Removed params</th>
                      <th>Context</th>
                      <th>Rate limits</th>
                      <th>Node strategy</th>
                      <th>Flags</th>
                      <th>Active</th>
                      <th>Actions</th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.configs.map((c) => (
                      <tr key={c.id}>
                        <td>
                          <span class="mono">{c.model_prefix}</span> {c.is_exact_match && <Badge kind="muted">exact</Badge>}
                          {c.description && <div class="small muted">{c.description}</div>}
                        </td>
                        <td class="small">
                          {c.tool_set_name && <Badge kind="info">set: {c.tool_set_name}</Badge>}
                          {c.effective_allowed_tools === null ? <span class="muted">all tools</span> : <span title={c.effective_allowed_tools.join(", ")}>{c.effective_allowed_tools.length} tools</span>}
                        </td>
                        <td class="small">{c.unsupported_params?.length ? c.unsupported_params.join(", ") : <span class="muted">—</span>}</td>
                        <td class="small">
                          default {fmtCtx(c.default_context_length)} · max {fmtCtx(c.max_context_length)}
                        </td>
                        <td class="small">
                          {c.requests_per_minute === null && c.tokens_per_minute === null ? (
                            <span class="muted">unlimited</span>
                          ) : (
                            <>
                              {c.requests_per_minute ?? "∞"} rpm · {c.tokens_per_minute ?? "∞"} tpm
                            </>
                          )}
                        </td>
                        <td class="small">{c.node_strategy ?? "default"}</td>
                        <td>
                          {c.maintenance_mode && <Badge kind="warn">maintenance</Badge>}
                          {c.cost_multiplier !== null && c.cost_multiplier !== 1 && <Badge kind="muted">×{c.cost_multiplier}</Badge>}
                        </td>
                        <td>
                          <SavingSwitch label={`Active ${c.model_prefix}`} checked={c.is_active} save={(v) => patch(`/model-config/${c.id}`, { is_active: v })} onSaved={configs.reload} />
                        </td>
                        <td class="actions-cell">
                          <Button kind="small" label={`Edit ${c.model_prefix}`} onClick={() => setEditing(c)}>
                            Edit
                          </Button>
                          <Confirm
                            label={`Delete ${c.model_prefix}`}
                            question={`Delete the rule for ${c.model_prefix}?`}
                            onConfirm={async () => {
                              await del(`/model-config/${c.id}`);
                              configs.reload();
                            }}
                          >
                            Delete
                          </Confirm>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )
          }
        </Async>
      </Section>
      {editing && (
        <ConfigForm
          config={editing === "new" ? undefined : editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            configs.reload();
          }}
        />
      )}
    </>
  );
}

function ConfigForm({ config: c, onClose, onSaved }: { config?: ModelConfig; onClose: () => void; onSaved: () => void }) {
  const sets = useLoad(() => get<{ tool_sets: ToolSet[] }>("/tool-sets"));
  const [f, setF] = useState({
    model_prefix: c?.model_prefix ?? "",
    is_exact_match: c?.is_exact_match ?? false,
    all_tools: c ? c.allowed_tools === null : true,
    allowed_tools: (c?.allowed_tools ?? []).join("\n"),
    tool_set_id: c?.tool_set_id?.toString() ?? "",
    unsupported_params: (c?.unsupported_params ?? []).join("\n"),
    default_context_length: c?.default_context_length?.toString() ?? "",
    max_context_length: c?.max_context_length?.toString() ?? "",
    requests_per_minute: c?.requests_per_minute?.toString() ?? "",
    tokens_per_minute: c?.tokens_per_minute?.toString() ?? "",
    node_strategy: c?.node_strategy ?? "",
    maintenance_mode: c?.maintenance_mode ?? false,
    is_active: c?.is_active ?? true,
    description: c?.description ?? "",
    cost_multiplier: c?.cost_multiplier?.toString() ?? "",
  });
  const [run, busy, error] = useAction();
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: inputValue(e) });
  const setB = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: inputChecked(e) });
  const fe = (k: string) => fieldError(error, k);

  const submit = (e: Event) => {
    e.preventDefault();
    run(async () => {
      const params = parseList(f.unsupported_params);
      const body = {
        model_prefix: f.model_prefix.trim(),
        is_exact_match: f.is_exact_match,
        allowed_tools: f.all_tools ? null : parseList(f.allowed_tools),
        tool_set_id: f.tool_set_id ? Number(f.tool_set_id) : null,
        unsupported_params: params.length ? params : null,
        default_context_length: optInt(f.default_context_length),
        max_context_length: optInt(f.max_context_length),
        requests_per_minute: optInt(f.requests_per_minute),
        tokens_per_minute: optInt(f.tokens_per_minute),
        node_strategy: f.node_strategy || null,
        maintenance_mode: f.maintenance_mode,
        is_active: f.is_active,
        description: f.description,
        cost_multiplier: f.cost_multiplier.trim() ? Number(f.cost_multiplier) : null,
      };
      if (c) await patch(`/model-config/${c.id}`, body);
      else await post("/model-config", body);
      onSaved();
    });
  };

  return (
    <Modal title={c ? `Edit rule ${c.model_prefix}` : "Add model config"} open onClose={onClose} wide>
      <form onSubmit={submit}>
        <div class="row">
          <Field label="Model prefix" hint="Matches model names starting with this" error={fe("model_prefix")}>
            <input value={f.model_prefix} onInput={set("model_prefix")} required />
          </Field>
          <label class="check">
            <input type="checkbox" checked={f.is_exact_match} onChange={setB("is_exact_match")} /> Exact match only
          </label>
        </div>
        <fieldset class="picker">
          <legend>Allowed tools</legend>
          <div class="row">
            <Field label="Tool set" hint="Fills the allowed tools from a named set" error={fe("tool_set_id")}>
              <select value={f.tool_set_id} onChange={set("tool_set_id")}>
                <option value="">none</option>
                {(sets.data?.tool_sets ?? []).map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.name}
                  </option>
                ))}
              </select>
            </Field>
            <label class="check">
              <input type="checkbox" checked={f.all_tools} onChange={setB("all_tools")} /> All tools (no own list)
            </label>
          </div>
          <ErrorBox error={sets.error} label="Tool sets" />
          {!f.all_tools && (
            <Field label="Allowed tool names" hint="One per line; tools not listed are removed from requests" error={fe("allowed_tools")}>
              <textarea rows={4} value={f.allowed_tools} onInput={set("allowed_tools")} />
            </Field>
          )}
        </fieldset>
        <Field label="Unsupported parameters" hint="One per line; removed from requests to these models" error={fe("unsupported_params")}>
          <textarea rows={2} value={f.unsupported_params} onInput={set("unsupported_params")} />
        </Field>
        <div class="row">
          <Field label="Default context length" hint="Blank = not set" error={fe("default_context_length")}>
            <input inputMode="numeric" value={f.default_context_length} onInput={set("default_context_length")} />
          </Field>
          <Field label="Max context length" error={fe("max_context_length")}>
            <input inputMode="numeric" value={f.max_context_length} onInput={set("max_context_length")} />
          </Field>
        </div>
        <div class="row">
          <Field label="Requests per minute" hint="Blank = unlimited" error={fe("requests_per_minute")}>
            <input inputMode="numeric" value={f.requests_per_minute} onInput={set("requests_per_minute")} />
          </Field>
          <Field label="Tokens per minute" hint="Blank = unlimited" error={fe("tokens_per_minute")}>
            <input inputMode="numeric" value={f.tokens_per_minute} onInput={set("tokens_per_minute")} />
          </Field>
          <Field label="Cost multiplier" hint="Blank = 1" error={fe("cost_multiplier")}>
            <input inputMode="decimal" value={f.cost_multiplier} onInput={set("cost_multiplier")} />
          </Field>
        </div>
        <div class="row">
          <Field label="Node strategy" error={fe("node_strategy")}>
            <select value={f.node_strategy} onChange={set("node_strategy")}>
              {["", "priority", "weighted", "round_robin", "least_busy"].map((s) => (
                <option key={s} value={s}>
                  {s || "default"}
                </option>
              ))}
            </select>
          </Field>
          <label class="check">
            <input type="checkbox" checked={f.maintenance_mode} onChange={setB("maintenance_mode")} /> Maintenance mode
          </label>
          <label class="check">
            <input type="checkbox" checked={f.is_active} onChange={setB("is_active")} /> Active
          </label>
        </div>
        <Field label="Description" error={fe("description")}>
          <input value={f.description} onInput={set("description")} />
        </Field>
        <ErrorBox error={error} />
        <div class="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" kind="primary" busy={busy}>
            {c ? "Save rule" : "Add rule"}
          </Button>
        </div>
      </form>
    </Modal>
  );
}

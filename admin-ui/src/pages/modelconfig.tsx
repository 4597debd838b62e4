import { del, get, patch, post } from "../api";
import type { ModelConfig, ToolSet } from "../types";
import { NODE_STRATEGIES } from "../types";
import { Badge, Check, ErrorBox, Field, FormDialog, fmtCtx, ListPage, optInt, Options, parseList, RowActions, SavingSwitch, Table, useForm, useLoad } from "../ui";

export function ModelConfigPage() {
  const configs = useLoad(() => get<{ configs: ModelConfig[]; total: number }>("/model-config"));
  return (
    <ListPage
      title="Model config"
      addLabel="Add model config"
      state={configs}
      items={(d) => d.configs}
      section="Per-model rules"
      note={<p class="muted small">Rules match a model name by prefix (or exactly) and set allowed tools, removed parameters, context lengths, rate limits and maintenance mode.</p>}
      what="Loading model config"
      empty="No model rules. Add one to limit tools or set context lengths for models starting with a prefix (e.g. “qwen”)."
      form={(c, close, saved) => <ConfigForm config={c} onClose={close} onSaved={saved} />}
    >
      {(rows, edit) => (
        <Table
          label="Model config"
          wrap
          rows={rows}
          keyOf={(c) => c.id}
          columns={[
            [
              "Prefix",
              (c) => (
                <>
                  <span class="mono">{c.model_prefix}</span> {c.is_exact_match && <Badge kind="muted">exact</Badge>}
                  {c.description && <div class="small muted">{c.description}</div>}
                </>
              ),
            ],
            [
              "Tools",
              (c) => (
                <>
                  {c.tool_set_name && <Badge kind="info">set: {c.tool_set_name}</Badge>}
                  {c.effective_allowed_tools === null ? <span class="muted">all tools</span> : <span title={c.effective_allowed_tools.join(", ")}>{c.effective_allowed_tools.length} tools</span>}
                </>
              ),
              "small",
            ],
            ["Removed params", (c) => (c.unsupported_params?.length ? c.unsupported_params.join(", ") : <span class="muted">—</span>), "small"],
            ["Context", (c) => `default ${fmtCtx(c.default_context_length)} · max ${fmtCtx(c.max_context_length)}`, "small"],
            ["Rate limits", (c) => (c.requests_per_minute === null && c.tokens_per_minute === null ? <span class="muted">unlimited</span> : `${c.requests_per_minute ?? "∞"} rpm · ${c.tokens_per_minute ?? "∞"} tpm`), "small"],
            ["Node strategy", (c) => c.node_strategy ?? "default", "small"],
            [
              "Flags",
              (c) => (
                <>
                  {c.maintenance_mode && <Badge kind="warn">maintenance</Badge>}
                  {c.cost_multiplier !== null && c.cost_multiplier !== 1 && <Badge kind="muted">×{c.cost_multiplier}</Badge>}
                </>
              ),
            ],
            ["Active", (c) => <SavingSwitch label={`Active ${c.model_prefix}`} checked={c.is_active} save={(v) => patch(`/model-config/${c.id}`, { is_active: v })} onSaved={configs.reload} />],
            [
              "Actions",
              (c) => (
                <RowActions
                  name={c.model_prefix}
                  onEdit={() => edit(c)}
                  question={`Delete the rule for ${c.model_prefix}?`}
                  remove={async () => {
                    await del(`/model-config/${c.id}`);
                    configs.reload();
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

function ConfigForm({ config: c, onClose, onSaved }: { config?: ModelConfig; onClose: () => void; onSaved: () => void }) {
  const sets = useLoad(() => get<{ tool_sets: ToolSet[] }>("/tool-sets"));
  const {
    values: f,
    text,
    check,
  } = useForm({
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
  const submit = async () => {
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
  };

  return (
    <FormDialog title={c ? `Edit rule ${c.model_prefix}` : "Add model config"} submitLabel={c ? "Save rule" : "Add rule"} onClose={onClose} submit={submit} wide>
      <div class="row">
        <Field label="Model prefix" hint="Matches model names starting with this" name="model_prefix">
          <input {...text("model_prefix")} required />
        </Field>
        <Check {...check("is_exact_match")}>Exact match only</Check>
      </div>
      <fieldset class="picker">
        <legend>Allowed tools</legend>
        <div class="row">
          <Field label="Tool set" hint="Fills the allowed tools from a named set" name="tool_set_id">
            <select {...text("tool_set_id")}>
              <option value="">none</option>
              {(sets.data?.tool_sets ?? []).map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
          </Field>
          <Check {...check("all_tools")}>All tools (no own list)</Check>
        </div>
        <ErrorBox error={sets.error} label="Tool sets" />
        {!f.all_tools && (
          <Field label="Allowed tool names" hint="One per line; tools not listed are removed from requests" name="allowed_tools">
            <textarea rows={4} {...text("allowed_tools")} />
          </Field>
        )}
      </fieldset>
      <Field label="Unsupported parameters" hint="One per line; removed from requests to these models" name="unsupported_params">
        <textarea rows={2} {...text("unsupported_params")} />
      </Field>
      <div class="row">
        <Field label="Default context length" hint="Blank = not set" name="default_context_length">
          <input inputMode="numeric" {...text("default_context_length")} />
        </Field>
        <Field label="Max context length" name="max_context_length">
          <input inputMode="numeric" {...text("max_context_length")} />
        </Field>
      </div>
      <div class="row">
        <Field label="Requests per minute" hint="Blank = unlimited" name="requests_per_minute">
          <input inputMode="numeric" {...text("requests_per_minute")} />
        </Field>
        <Field label="Tokens per minute" hint="Blank = unlimited" name="tokens_per_minute">
          <input inputMode="numeric" {...text("tokens_per_minute")} />
        </Field>
        <Field label="Cost multiplier" hint="Blank = 1" name="cost_multiplier">
          <input inputMode="decimal" {...text("cost_multiplier")} />
        </Field>
      </div>
      <div class="row">
        <Field label="Node strategy" name="node_strategy">
          <select {...text("node_strategy")}>
            <Options options={NODE_STRATEGIES} />
          </select>
        </Field>
        <Check {...check("maintenance_mode")}>Maintenance mode</Check>
        <Check {...check("is_active")}>Active</Check>
      </div>
      <Field label="Description" name="description">
        <input {...text("description")} />
      </Field>
    </FormDialog>
  );
}

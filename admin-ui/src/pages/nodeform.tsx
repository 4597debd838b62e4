// Adding and editing a node, and the actions the node list and the node page share (health
// check and discovery now, with their outcome as a sentence).
import { useState } from "preact/hooks";
import { patch, post } from "../api";
import type { DiscoveryReport, HealthReport, Node, NodeType } from "../types";
import { Check, Field, FormDialog, fmtMs, useAction, useForm } from "../ui";

/** Health check and discovery on one node; `result` says what came back. */
export function useNodeProbe(id: number, onChanged: () => void) {
  const [run, busy, error] = useAction();
  const [result, setResult] = useState<string | null>(null);
  const check = () =>
    run(async () => {
      const r = await post<HealthReport>(`/nodes/${id}/health-check`);
      setResult(r.ok ? `Healthy answer in ${fmtMs(r.latency_ms)} (now ${r.health_status})` : `Probe failed: ${r.error} (now ${r.health_status})`);
      onChanged();
    });
  const discover = () =>
    run(async () => {
      const r = await post<DiscoveryReport>(`/nodes/${id}/discover`);
      setResult(r.error ? `Discovery failed: ${r.error}` : `Discovered ${r.models} models${r.added.length ? `; new: ${r.added.join(", ")}` : ""}${r.vanished.length ? `; gone: ${r.vanished.join(", ")}` : ""}`);
      onChanged();
    });
  return { check, discover, busy, error, result };
}

function headersText(h: Record<string, string> | null | undefined): string {
  return Object.entries(h ?? {})
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n");
}

function parseHeaders(text: string): Record<string, string> {
  const h: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf(":");
    if (line.trim() && i > 0) h[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    else if (line.trim()) h[line.trim()] = "";
  }
  return h;
}

export function NodeForm({ node, onClose, onSaved }: { node?: Node; onClose: () => void; onSaved: (n: Node) => void }) {
  const {
    values: f,
    text,
    check,
  } = useForm({
    name: node?.name ?? "",
    code: node?.code ?? "",
    node_type: (node?.node_type ?? "ollama") as NodeType,
    base_url: node?.base_url ?? "",
    api_key: "",
    clear_key: false,
    priority: String(node?.priority ?? ""),
    weight: String(node?.weight ?? ""),
    headers: headersText(node?.headers),
    health_url: node?.health_url ?? "",
    warmup_enabled: node?.warmup_enabled ?? true,
    is_active: node?.is_active ?? true,
  });
  const [headersTouched, setHeadersTouched] = useState(false);
  const headers = text("headers");

  const submit = async () => {
    const body: Record<string, unknown> = {
      name: f.name.trim(),
      node_type: f.node_type,
      base_url: f.base_url.trim(),
      health_url: f.health_url.trim() || null,
      warmup_enabled: f.warmup_enabled,
      is_active: f.is_active,
    };
    if (f.code.trim() || node) body.code = f.code.trim() || null;
    if (f.priority.trim()) body.priority = Number(f.priority);
    if (f.weight.trim()) body.weight = Number(f.weight);
    // Header values are write-only and come back as "[redacted]"; only send the field when
    // the admin edited it. A line still reading "[redacted]" keeps its stored value.
    if (!node || headersTouched) body.headers = parseHeaders(f.headers);
    // The API key is write-only: absent keeps it, null clears it.
    if (f.api_key) body.api_key = f.api_key;
    else if (node && f.clear_key) body.api_key = null;
    onSaved(node ? await patch<Node>(`/nodes/${node.id}`, body) : await post<Node>("/nodes", body));
  };

  return (
    <FormDialog title={node ? `Edit node ${node.name}` : "Add node"} submitLabel={node ? "Save node" : "Add node"} onClose={onClose} submit={submit} wide>
      <div class="row">
        <Field label="Name" name="name">
          <input {...text("name")} required />
        </Field>
        <Field label="Type" name="node_type">
          <select {...text("node_type")}>
            <option value="ollama">ollama</option>
            <option value="openai">openai (vLLM, OpenAI, any /v1 server)</option>
            <option value="anthropic">anthropic</option>
          </select>
        </Field>
        <Field label="Code" hint="Optional short id" name="code">
          <input {...text("code")} />
        </Field>
      </div>
      <Field label="Base URL" hint={f.node_type === "ollama" ? "e.g. http://10.0.0.5:11434" : "e.g. https://vllm.internal/v1"} name="base_url">
        <input type="url" {...text("base_url")} required />
      </Field>
      <Field label="API key" hint={node ? (node.api_key_set ? "A key is set. Leave blank to keep it." : "No key set.") : "Optional. Stored sealed; never shown again."} name="api_key">
        <input type="password" autocomplete="new-password" {...text("api_key")} />
      </Field>
      {node?.api_key_set && <Check {...check("clear_key")}>Remove the stored API key</Check>}
      <div class="row">
        <Field label="Priority" hint="Lower is tried first" name="priority">
          <input inputMode="numeric" {...text("priority")} />
        </Field>
        <Field label="Weight" hint="For weighted strategies" name="weight">
          <input inputMode="numeric" {...text("weight")} />
        </Field>
      </div>
      <Field label="Health URL" hint="Optional; default probe is the API's own version/models endpoint" name="health_url">
        <input type="url" {...text("health_url")} />
      </Field>
      <Field
        label="Extra headers"
        hint={
          node
            ? "One “Name: value” per line. Values are write-only and show as [redacted]: leave a line as it is to keep its value, type a new value to replace it, delete the line to remove the header."
            : "One “Name: value” per line. Values are stored sealed and never shown again."
        }
        name="headers"
      >
        <textarea
          rows={3}
          value={headers.value}
          onInput={(e) => {
            setHeadersTouched(true);
            headers.onInput(e);
          }}
        />
      </Field>
      <div class="row">
        <Check {...check("warmup_enabled")}>Warm-up enabled</Check>
        <Check {...check("is_active")}>Active</Check>
      </div>
    </FormDialog>
  );
}

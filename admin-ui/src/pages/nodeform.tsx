// Adding and editing a node, and the actions the node list and the node page share (health
// check and discovery now, with their outcome as a sentence).
import { useRef, useState } from "preact/hooks";
import { get, patch, post, put } from "../api";
import type { DiscoveryReport, HealthReport, Node, NodeRouting, NodeType } from "../types";
import { Check, ErrorBox, Field, FieldError, FormDialog, fmtMs, Loading, Modal, optInt, parseList, useAction, useForm, useLoad } from "../ui";

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

/** What a node routes by default (also what a new node starts with). */
const NO_ROUTING: Pick<NodeRouting, "pinned_only" | "route_unknown_models" | "request_rules"> = { pinned_only: false, route_unknown_models: false, request_rules: { default_max_tokens: null, drop_params: [] } };

/** The node dialog; editing first reads the node's routing options (their own endpoint). */
export function NodeForm({ node, onClose, onSaved }: { node?: Node; onClose: () => void; onSaved: (n: Node) => void }) {
  return node ? <EditNode node={node} onClose={onClose} onSaved={onSaved} /> : <NodeDialog routing={NO_ROUTING} title="Add node" onClose={onClose} onSaved={onSaved} />;
}

function EditNode({ node, onClose, onSaved }: { node: Node; onClose: () => void; onSaved: (n: Node) => void }) {
  const routing = useLoad(() => get<NodeRouting>(`/nodes/${node.id}/routing`), [node.id]);
  const title = `Edit node ${node.name}`;
  if (!routing.data)
    return (
      <Modal title={title} open onClose={onClose}>
        {routing.error ? <ErrorBox error={routing.error} label="Could not read the node's routing options" /> : <Loading what="Loading the node" />}
      </Modal>
    );
  return <NodeDialog node={node} routing={routing.data} title={title} onClose={onClose} onSaved={onSaved} />;
}

function routingBody(f: { pinned_only: boolean; route_unknown_models: boolean; default_max_tokens: string; drop_params: string }) {
  return { pinned_only: f.pinned_only, route_unknown_models: f.route_unknown_models, request_rules: { default_max_tokens: optInt(f.default_max_tokens), drop_params: parseList(f.drop_params) } };
}

function NodeDialog({ node, routing, title, onClose, onSaved }: { node?: Node; routing: typeof NO_ROUTING; title: string; onClose: () => void; onSaved: (n: Node) => void }) {
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
    pinned_only: routing.pinned_only,
    route_unknown_models: routing.route_unknown_models,
    default_max_tokens: routing.request_rules.default_max_tokens?.toString() ?? "",
    drop_params: routing.request_rules.drop_params.join(", "),
  });
  const [headersTouched, setHeadersTouched] = useState(false);
  const headers = text("headers");
  const routingAtStart = useRef(JSON.stringify(routingBody(f))).current;
  // A new node whose routing options failed to save is kept, so saving again updates it
  // rather than adding it twice.
  const created = useRef<Node | null>(null);

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
    const target = node ?? created.current;
    const saved = target ? await patch<Node>(`/nodes/${target.id}`, body) : await post<Node>("/nodes", body);
    created.current = saved;
    // Routing options are their own endpoint (and audit entry): sent only when changed.
    const r = routingBody(f);
    if (JSON.stringify(r) !== routingAtStart) await put(`/nodes/${saved.id}/routing`, r);
    onSaved(saved);
  };

  return (
    <FormDialog title={title} submitLabel={node ? "Save node" : "Add node"} onClose={onClose} submit={submit} wide>
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
      <fieldset class="picker">
        <legend>Routing</legend>
        <Check {...check("pinned_only")}>Pinned requests only</Check>
        <p class="hint">
          Serves only requests that name it: <code>node:{f.code.trim() || "<code>"}:&lt;model&gt;</code>, group members that prefer it, mappings restricted to it.
          {f.pinned_only && !f.code.trim() && " Give the node a code so clients can pin it."}
        </p>
        <Check {...check("route_unknown_models")}>Route unknown models</Check>
        <p class="hint">A model no catalog lists yet is tried on this node (instead of 404) until discovery lists it.</p>
        <div class="row">
          <Field label="Default max_tokens" hint="Sent when a request sets neither max_tokens nor max_completion_tokens (OpenAI and Anthropic APIs); blank = none">
            <input inputMode="numeric" {...text("default_max_tokens")} />
          </Field>
          <Field label="Parameters to drop" hint="Top-level request parameters removed before this node gets the request, comma separated (e.g. logprobs, user)">
            <input {...text("drop_params")} />
          </Field>
        </div>
        <FieldError name="request_rules" />
      </fieldset>
    </FormDialog>
  );
}

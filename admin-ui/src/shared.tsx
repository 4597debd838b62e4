// Pieces more than one page uses: the one-time token reveal, model-name suggestions, the
// model access picker.
import { useState } from "preact/hooks";
import { get } from "./api";
import type { Group, Mapping, Node } from "./types";
import { CopyButton, inputValue, Modal } from "./ui";

/** A secret shown once (a user token, an API key): it is only ever in this dialog's props, so
 *  closing it drops the last copy the UI has. */
export function SecretReveal({ title, noun, label, secret, onClose }: { title: string; noun: string; label: string; secret: string | null; onClose: () => void }) {
  return (
    <Modal title={title} open={!!secret} onClose={onClose}>
      <p class="warn-text">
        Copy this {noun} now. It is shown <strong>once</strong>: the gateway keeps only a hash, and this page forgets it when you close the dialog.
      </p>
      <div class="token-row">
        <input class="mono token" readOnly value={secret ?? ""} aria-label={label} onFocus={(e) => (e.target as HTMLInputElement).select()} />
        <CopyButton text={secret ?? ""} label={`Copy ${noun}`} />
      </div>
      <div class="dialog-actions">
        <button type="button" class="btn primary" onClick={onClose}>
          Done, I copied it
        </button>
      </div>
    </Modal>
  );
}

export function TokenReveal({ username, token, onClose }: { username: string; token: string | null; onClose: () => void }) {
  return <SecretReveal title={`Token for ${username}`} noun="token" label="New user token" secret={token} onClose={onClose} />;
}

export interface NameSuggestions {
  mappings: string[];
  groups: string[];
  models: string[];
  nodes: Node[];
}

/** Names a user may be granted or a group member may point at: mappings, groups, real models. */
export async function loadNames(): Promise<NameSuggestions> {
  const [m, g, n] = await Promise.all([get<{ mappings: Mapping[] }>("/model-mappings"), get<{ groups: Group[] }>("/model-groups"), get<{ nodes: Node[] }>("/nodes")]);
  const models = new Set<string>();
  for (const node of n.nodes) for (const mm of node.models ?? []) models.add(mm.model_name);
  return {
    mappings: m.mappings.map((x) => x.display_name).sort(),
    groups: g.groups.map((x) => x.name).sort(),
    models: [...models].sort(),
    nodes: n.nodes,
  };
}

/** Checkbox list of known names plus free text for names not listed (the allow-list is names). */
export function ModelPicker({ names, value, onChange, label }: { names: NameSuggestions | undefined; value: string[]; onChange: (v: string[]) => void; label: string }) {
  const [extra, setExtra] = useState("");
  const known = names ? [...new Set([...names.mappings, ...names.groups, ...names.models])] : [];
  const all = [...new Set([...known, ...value])];
  const kindOf = (n: string) => (names?.mappings.includes(n) ? "mapping" : names?.groups.includes(n) ? "group" : names?.models.includes(n) ? "model" : "other");
  const toggle = (n: string, on: boolean) => onChange(on ? [...value, n] : value.filter((x) => x !== n));
  const addExtra = () => {
    const n = extra.trim();
    if (n && !value.includes(n)) onChange([...value, n]);
    setExtra("");
  };
  return (
    <fieldset class="picker">
      <legend>{label}</legend>
      {all.length === 0 && <p class="muted">No mappings, groups or discovered models yet. Add a node and discover its models, or type a name below.</p>}
      <div class="picker-list">
        {all.map((n) => (
          <label key={n} class="check">
            <input type="checkbox" checked={value.includes(n)} onChange={(e) => toggle(n, (e.target as HTMLInputElement).checked)} />
            <span>{n}</span> <span class="muted small">{kindOf(n)}</span>
          </label>
        ))}
      </div>
      <div class="row">
        {/* Enter adds the name rather than submitting the form the picker sits in. */}
        <input
          aria-label="Other model name"
          placeholder="other name, e.g. llama3:latest"
          value={extra}
          onInput={(e) => setExtra(inputValue(e))}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              addExtra();
            }
          }}
        />
        <button type="button" class="btn small" disabled={!extra.trim()} onClick={addExtra}>
          Add name
        </button>
      </div>
    </fieldset>
  );
}

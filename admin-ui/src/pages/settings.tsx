import { useState } from "preact/hooks";
import { del, enc, get, put } from "../api";
import type { Setting } from "../types";
import { Async, Badge, Button, Confirm, ErrorBox, fieldError, PageHead, Section, useAction, useLoad } from "../ui";

type Kind = "number" | "boolean" | "list" | "text" | "optional-text";

// The API validates by key; the UI picks an editor from the default's JSON type so each value
// goes back with the type the API expects (number, bool, list of strings, string or null).
function kindOf(s: Setting): Kind {
  const d = s.default;
  if (typeof d === "number") return "number";
  if (typeof d === "boolean") return "boolean";
  if (Array.isArray(d)) return "list";
  if (d === null) return "optional-text";
  return "text";
}

function toText(v: unknown, kind: Kind): string {
  if (kind === "list") return Array.isArray(v) ? v.join("\n") : "";
  if (v === null || v === undefined) return "";
  return String(v);
}

function fromText(text: string, kind: Kind): unknown {
  switch (kind) {
    case "number": {
      const n = Number(text.trim());
      return text.trim() !== "" && Number.isFinite(n) ? n : text;
    }
    case "boolean":
      return text === "true";
    case "list":
      return text
        .split("\n")
        .map((x) => x.trim())
        .filter(Boolean);
    case "optional-text":
      return text.trim() === "" ? null : text;
    default:
      return text;
  }
}

const show = (v: unknown) => (Array.isArray(v) ? v.join(", ") : JSON.stringify(v));

export function SettingsPage() {
  const settings = useLoad(() => get<{ settings: Setting[] }>("/settings"));
  // Only what the admin typed; everything else shows the server's value.
  const [edits, setEdits] = useState<Record<string, string>>({});
  const [run, busy, error] = useAction();
  const [saved, setSaved] = useState<string | null>(null);

  const textOf = (s: Setting) => edits[s.key] ?? toText(s.value, kindOf(s));
  const changed = (settings.data?.settings ?? []).filter((s) => edits[s.key] !== undefined && edits[s.key] !== toText(s.value, kindOf(s)));

  const save = () =>
    run(async () => {
      // Only the keys the admin changed, as one flat {key: value} object: exactly what PUT takes.
      const body = Object.fromEntries(changed.map((s) => [s.key, fromText(edits[s.key], kindOf(s))]));
      const r = await put<{ settings: Setting[] }>("/settings", body);
      settings.setData(r);
      setEdits({});
      setSaved(`Saved ${changed.length} setting${changed.length === 1 ? "" : "s"}.`);
      setTimeout(() => setSaved(null), 3000);
    });

  return (
    <>
      <PageHead title="Settings">
        <Button
          onClick={() => {
            setEdits({});
            settings.reload();
          }}
        >
          Discard and reload
        </Button>
        <Button kind="primary" busy={busy} disabled={!changed.length} onClick={save}>
          {changed.length ? `Save ${changed.length} change${changed.length === 1 ? "" : "s"}` : "No changes"}
        </Button>
      </PageHead>
      <ErrorBox error={error} label="Nothing was saved" />
      {saved && (
        <div class="notice" role="status">
          {saved}
        </div>
      )}
      <Async state={settings} what="Loading settings">
        {(d) => {
          const groups = new Map<string, Setting[]>();
          for (const s of d.settings) {
            const g = s.key.split(".")[0];
            groups.set(g, [...(groups.get(g) ?? []), s]);
          }
          return (
            <>
              {[...groups.entries()].map(([g, items]) => (
                <Section key={g} title={g}>
                  <div class="settings">
                    {items.map((s) => (
                      <SettingRow
                        key={s.key}
                        s={s}
                        value={textOf(s)}
                        onChange={(v) => setEdits({ ...edits, [s.key]: v })}
                        error={fieldError(error, s.key)}
                        onReset={() => {
                          const { [s.key]: _, ...rest } = edits;
                          setEdits(rest);
                          settings.reload();
                        }}
                      />
                    ))}
                  </div>
                </Section>
              ))}
            </>
          );
        }}
      </Async>
    </>
  );
}

function SettingRow({ s, value, onChange, error, onReset }: { s: Setting; value: string; onChange: (v: string) => void; error: string | null; onReset: () => void }) {
  const kind = kindOf(s);
  const dirty = value !== toText(s.value, kind);
  const id = `setting-${s.key}`;
  return (
    <div class={`setting ${error ? "invalid" : ""} ${dirty ? "dirty" : ""}`}>
      <div class="setting-head">
        <label for={id} class="mono">
          {s.key}
        </label>
        {s.is_default ? <Badge kind="muted">default</Badge> : <Badge kind="info">custom</Badge>}
        {dirty && <Badge kind="warn">unsaved</Badge>}
      </div>
      <p class="small">{s.description}</p>
      <div class="setting-input">
        {kind === "boolean" ? (
          <label class="check">
            <input id={id} type="checkbox" checked={value === "true"} onChange={(e) => onChange(String((e.target as HTMLInputElement).checked))} /> enabled
          </label>
        ) : kind === "list" ? (
          <textarea id={id} rows={Math.min(8, Math.max(3, value.split("\n").length))} value={value} onInput={(e) => onChange((e.target as HTMLTextAreaElement).value)} aria-describedby={`${id}-d`} />
        ) : (
          <input id={id} inputMode={kind === "number" ? "numeric" : undefined} value={value} placeholder={kind === "optional-text" ? "not set (null)" : undefined} onInput={(e) => onChange((e.target as HTMLInputElement).value)} aria-describedby={`${id}-d`} />
        )}
        {!s.is_default && (
          <Confirm
            label={`Reset ${s.key}`}
            kind=""
            question={`Reset ${s.key} to its default (${show(s.default)})?`}
            onConfirm={async () => {
              await del(`/settings/${enc(s.key)}`);
              onReset();
            }}
          >
            Reset to default
          </Confirm>
        )}
      </div>
      <div id={`${id}-d`} class="small muted">
        Default: <span class="mono">{show(s.default)}</span>
        {kind === "list" && " · one per line"}
      </div>
      {error && <div class="field-error">{error}</div>}
    </div>
  );
}

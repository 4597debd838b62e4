// A user's API keys on their page: list (masked), create (shown once), revoke, rotate with a
// grace period, and edit restrictions (models, IP allow-list, per-key limits, expiry).
import { useState } from "preact/hooks";
import { del, enc, get, patch, post } from "../api";
import { SecretReveal } from "../shared";
import { Async, Badge, Button, Empty, ErrorBox, Field, fieldError, fmtDate, fmtNum, inputValue, Modal, optInt, parseList, Section, useAction, useLoad, Confirm } from "../ui";

export interface ApiKey {
  id: number;
  label: string;
  hint: string;
  primary: boolean;
  models: string[] | null;
  ip_allow: string[];
  request_limit: number | null;
  token_limit: number | null;
  expires_at: string | null;
  revoked_at: string | null;
  rotated_to: number | null;
  created_at: string;
  last_used_at: string | null;
  status: "active" | "revoked" | "expired";
}

/** The key is only ever in this dialog's props: closing it drops the last copy the UI has. */
export function KeyReveal({ title, secret, onClose }: { title: string; secret: string | null; onClose: () => void }) {
  return <SecretReveal title={title} noun="key" label="New API key" secret={secret} onClose={onClose} />;
}

const statusKind = { active: "ok", revoked: "bad", expired: "muted" } as const;

export function KeysSection({ username }: { username: string }) {
  const base = `/users/${enc(username)}/keys`;
  const keys = useLoad(() => get<{ keys: ApiKey[]; total: number }>(base), [username]);
  const [creating, setCreating] = useState(false);
  const [rotating, setRotating] = useState<ApiKey | null>(null);
  const [editing, setEditing] = useState<ApiKey | null>(null);
  const [reveal, setReveal] = useState<string | null>(null);
  return (
    <Section
      title="API keys"
      actions={
        <Button kind="primary" onClick={() => setCreating(true)}>
          New key
        </Button>
      }
    >
      <Async state={keys} what="Loading keys">
        {(d) =>
          d.keys.length === 0 ? (
            <Empty>No keys.</Empty>
          ) : (
            <table aria-label="API keys">
              <thead>
                <tr>
                  <th>Label</th>
                  <th>Key</th>
                  <th>Status</th>
                  <th>Restrictions</th>
                  <th>Created</th>
                  <th>Last used</th>
                  <th>Expires</th>
                  <th>Actions</th>
                </tr>
              </thead>
              <tbody>
                {d.keys.map((k) => (
                  <tr key={k.id}>
                    <td>
                      {k.label || <span class="muted">—</span>} {k.primary && <Badge kind="info" title="The user's own token">own token</Badge>}
                    </td>
                    <td class="mono small">{k.hint}</td>
                    <td>
                      <Badge kind={statusKind[k.status]}>{k.status}</Badge>
                    </td>
                    <td class="small">
                      {k.models && <div>models: {k.models.length ? k.models.join(", ") : "none"}</div>}
                      {k.ip_allow.length > 0 && <div>from: {k.ip_allow.join(", ")}</div>}
                      {k.request_limit !== null && <div>{fmtNum(k.request_limit)} requests/day</div>}
                      {k.token_limit !== null && <div>{fmtNum(k.token_limit)} tokens/day</div>}
                      {!k.models && !k.ip_allow.length && k.request_limit === null && k.token_limit === null && <span class="muted">none</span>}
                    </td>
                    <td class="small">{fmtDate(k.created_at)}</td>
                    <td class="small">{k.last_used_at ? fmtDate(k.last_used_at) : <span class="muted">never</span>}</td>
                    <td class="small">{k.expires_at ? fmtDate(k.expires_at) : <span class="muted">never</span>}</td>
                    <td class="actions-cell">
                      {k.status === "active" && (
                        <>
                          <Button kind="small" label={`Rotate key ${k.hint}`} onClick={() => setRotating(k)}>
                            Rotate
                          </Button>
                          <Button kind="small" label={`Edit key ${k.hint}`} onClick={() => setEditing(k)}>
                            Edit
                          </Button>
                        </>
                      )}
                      {k.status !== "revoked" && (
                        <Confirm
                          label={`Revoke key ${k.hint}`}
                          question={`Revoke the key ${k.label || k.hint}? It stops working everywhere within seconds.`}
                          onConfirm={async () => {
                            await del(`${base}/${k.id}`);
                            keys.reload();
                          }}
                        >
                          Revoke
                        </Confirm>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Async>
      <p class="muted small">Revocation and changes reach every gateway isolate within the snapshot refresh (about 2 s); expiry holds to the second. Last use trails by up to a minute (it comes from the usage records).</p>
      <KeyForm
        open={creating}
        title={`New key for ${username}`}
        onClose={() => setCreating(false)}
        save={async (body) => {
          const r = await post<ApiKey & { key: string }>(base, body);
          setCreating(false);
          setReveal(r.key);
          keys.reload();
        }}
      />
      {editing && (
        <KeyForm
          open
          initial={editing}
          title={`Edit key ${editing.label || editing.hint}`}
          onClose={() => setEditing(null)}
          save={async (body) => {
            await patch(`${base}/${editing.id}`, body);
            setEditing(null);
            keys.reload();
          }}
        />
      )}
      {rotating && (
        <RotateDialog
          k={rotating}
          onClose={() => setRotating(null)}
          rotate={async (grace) => {
            const r = await post<ApiKey & { key: string }>(`${base}/${rotating.id}/rotate`, { grace_seconds: grace });
            setRotating(null);
            setReveal(r.key);
            keys.reload();
          }}
        />
      )}
      <KeyReveal title={`Key for ${username}`} secret={reveal} onClose={() => setReveal(null)} />
    </Section>
  );
}

type KeyBody = Record<string, unknown>;

function KeyForm({ open, title, initial, onClose, save }: { open: boolean; title: string; initial?: ApiKey; onClose: () => void; save: (b: KeyBody) => Promise<void> }) {
  const [label, setLabel] = useState(initial?.label ?? "");
  const [days, setDays] = useState("");
  const [models, setModels] = useState(initial?.models?.join(", ") ?? "");
  const [restrictModels, setRestrictModels] = useState(!!initial?.models);
  const [ips, setIps] = useState(initial?.ip_allow.join(", ") ?? "");
  const [req, setReq] = useState(initial?.request_limit?.toString() ?? "");
  const [tok, setTok] = useState(initial?.token_limit?.toString() ?? "");
  const [run, busy, error] = useAction();
  return (
    <Modal title={title} open={open} onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          run(async () => {
            const body: KeyBody = { label, models: restrictModels ? parseList(models) : null, ip_allow: parseList(ips), request_limit: optInt(req), token_limit: optInt(tok) };
            if (days.trim()) body.expires_in_seconds = Math.round(Number(days) * 86400);
            await save(body);
          });
        }}
      >
        <Field label="Label" hint="e.g. laptop, CI" error={fieldError(error, "label")}>
          <input value={label} onInput={(e) => setLabel(inputValue(e))} />
        </Field>
        <Field label="Expires in (days)" hint={initial?.expires_at ? `Now expires ${fmtDate(initial.expires_at)}; blank keeps it` : "Blank = never"} error={fieldError(error, "expires_in_seconds")}>
          <input inputMode="decimal" value={days} onInput={(e) => setDays(inputValue(e))} />
        </Field>
        <label class="check">
          <input type="checkbox" checked={restrictModels} onChange={(e) => setRestrictModels((e.target as HTMLInputElement).checked)} /> Only some of the user's models
        </label>
        {restrictModels && (
          <Field label="Models" hint="Comma separated; a key never widens the user's access" error={fieldError(error, "models")}>
            <input value={models} onInput={(e) => setModels(inputValue(e))} />
          </Field>
        )}
        <Field label="Allowed addresses" hint="IPs or CIDR ranges, comma separated (CF-Connecting-IP); blank = any" error={fieldError(error, "ip_allow")}>
          <input value={ips} onInput={(e) => setIps(inputValue(e))} />
        </Field>
        <div class="row">
          <Field label="Key request limit" hint="Per day, on top of the user's; blank = none" error={fieldError(error, "request_limit")}>
            <input inputMode="numeric" value={req} onInput={(e) => setReq(inputValue(e))} />
          </Field>
          <Field label="Key token limit" hint="Per day; blank = none" error={fieldError(error, "token_limit")}>
            <input inputMode="numeric" value={tok} onInput={(e) => setTok(inputValue(e))} />
          </Field>
        </div>
        <ErrorBox error={error} />
        <div class="dialog-actions">
          <Button type="submit" kind="primary" busy={busy}>
            {initial ? "Save key" : "Create key"}
          </Button>
        </div>
      </form>
    </Modal>
  );
}

function RotateDialog({ k, onClose, rotate }: { k: ApiKey; onClose: () => void; rotate: (graceSeconds: number) => Promise<void> }) {
  const [minutes, setMinutes] = useState("60");
  const [run, busy, error] = useAction();
  return (
    <Modal title={`Rotate key ${k.label || k.hint}`} open onClose={onClose}>
      <p>A new key with the same label and restrictions is issued (shown once). The current key keeps working for the grace period, then expires.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          run(() => rotate(Math.round(Number(minutes || "0") * 60)));
        }}
      >
        <Field label="Grace period (minutes)" hint="0 = the current key stops now; at most 30 days" error={fieldError(error, "grace_seconds")}>
          <input inputMode="numeric" value={minutes} onInput={(e) => setMinutes(inputValue(e))} />
        </Field>
        <ErrorBox error={error} />
        <div class="dialog-actions">
          <Button type="submit" kind="primary" busy={busy}>
            Rotate key
          </Button>
        </div>
      </form>
    </Modal>
  );
}

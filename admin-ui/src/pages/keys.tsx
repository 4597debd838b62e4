// A user's API keys on their page: list (masked), create (shown once), revoke, rotate with a
// grace period, and edit restrictions (models, IP allow-list, per-key limits, expiry).
import { useState } from "preact/hooks";
import { del, enc, get, patch, post } from "../api";
import { SecretReveal } from "../shared";
import type { ApiKey, ApiKeyWithKey } from "../types";
import { Badge, Button, Check, Field, FormDialog, fmtDate, inputValue, LimitsCell, ListSection, optInt, parseList, RowActions, Table, useForm, useLoad } from "../ui";
import { LimitFields } from "./grants";

/** The key is only ever in this dialog's props: closing it drops the last copy the UI has. */
export function KeyReveal({ title, secret, onClose }: { title: string; secret: string | null; onClose: () => void }) {
  return <SecretReveal title={title} noun="key" label="New API key" secret={secret} onClose={onClose} />;
}

const statusKind = { active: "ok", revoked: "bad", expired: "muted" } as const;

export function KeysSection({ username }: { username: string }) {
  const base = `/users/${enc(username)}/keys`;
  const keys = useLoad(() => get<{ keys: ApiKey[]; total: number }>(base), [username]);
  const [rotating, setRotating] = useState<ApiKey | null>(null);
  const [reveal, setReveal] = useState<string | null>(null);
  return (
    <>
      <ListSection
        section="API keys"
        addLabel="New key"
        state={keys}
        items={(d) => d.keys}
        note={<p class="muted small">Revocation and changes reach every gateway isolate within the snapshot refresh (about 2 s); expiry holds to the second. Last use trails by up to a minute (it comes from the usage records).</p>}
        what="Loading keys"
        empty="No keys."
        form={(k, close, saved) =>
          k ? (
            <KeyForm
              initial={k}
              title={`Edit key ${k.label || k.hint}`}
              onClose={close}
              save={async (body) => {
                await patch(`${base}/${k.id}`, body);
                saved();
              }}
            />
          ) : (
            <KeyForm
              title={`New key for ${username}`}
              onClose={close}
              save={async (body) => {
                const r = await post<ApiKeyWithKey>(base, body);
                saved();
                setReveal(r.key);
              }}
            />
          )
        }
      >
        {(rows, edit) => (
          <Table
            label="API keys"
            rows={rows}
            keyOf={(k) => k.id}
            columns={[
              [
                "Label",
                (k) => (
                  <>
                    {k.label || <span class="muted">—</span>}{" "}
                    {k.primary && (
                      <Badge kind="info" title="The user's own token">
                        own token
                      </Badge>
                    )}
                  </>
                ),
              ],
              ["Key", (k) => k.hint, "mono small"],
              ["Status", (k) => <Badge kind={statusKind[k.status]}>{k.status}</Badge>],
              ["Restrictions", (k) => <Restrictions k={k} />, "small"],
              ["Created", (k) => fmtDate(k.created_at), "small"],
              ["Last used", (k) => (k.last_used_at ? fmtDate(k.last_used_at) : <span class="muted">never</span>), "small"],
              ["Expires", (k) => (k.expires_at ? fmtDate(k.expires_at) : <span class="muted">never</span>), "small"],
              [
                "Actions",
                (k) => (
                  <RowActions
                    name={`key ${k.hint}`}
                    onEdit={k.status === "active" ? () => edit(k) : undefined}
                    removeLabel="Revoke"
                    question={`Revoke the key ${k.label || k.hint}? It stops working everywhere within seconds.`}
                    remove={
                      k.status === "revoked"
                        ? undefined
                        : async () => {
                            await del(`${base}/${k.id}`);
                            keys.reload();
                          }
                    }
                  >
                    {k.status === "active" && (
                      <Button kind="small" label={`Rotate key ${k.hint}`} onClick={() => setRotating(k)}>
                        Rotate
                      </Button>
                    )}
                  </RowActions>
                ),
                "actions-cell",
              ],
            ]}
          />
        )}
      </ListSection>
      {rotating && (
        <RotateDialog
          k={rotating}
          onClose={() => setRotating(null)}
          rotate={async (grace) => {
            const r = await post<ApiKeyWithKey>(`${base}/${rotating.id}/rotate`, { grace_seconds: grace });
            setRotating(null);
            setReveal(r.key);
            keys.reload();
          }}
        />
      )}
      <KeyReveal title={`Key for ${username}`} secret={reveal} onClose={() => setReveal(null)} />
    </>
  );
}

function Restrictions({ k }: { k: ApiKey }) {
  if (!k.models && !k.ip_allow.length && k.request_limit === null && k.token_limit === null) return <span class="muted">none</span>;
  return (
    <>
      {k.models && <div>models: {k.models.length ? k.models.join(", ") : "none"}</div>}
      {k.ip_allow.length > 0 && <div>from: {k.ip_allow.join(", ")}</div>}
      {(k.request_limit !== null || k.token_limit !== null) && <LimitsCell {...k} per="/day" />}
    </>
  );
}

type KeyBody = Record<string, unknown>;

function KeyForm({ title, initial, onClose, save }: { title: string; initial?: ApiKey; onClose: () => void; save: (b: KeyBody) => Promise<void> }) {
  const {
    values: f,
    text,
    check,
  } = useForm({
    label: initial?.label ?? "",
    days: "",
    models: initial?.models?.join(", ") ?? "",
    restrictModels: !!initial?.models,
    ips: initial?.ip_allow.join(", ") ?? "",
  });
  const req = useState(initial?.request_limit?.toString() ?? "");
  const tok = useState(initial?.token_limit?.toString() ?? "");
  return (
    <FormDialog
      title={title}
      submitLabel={initial ? "Save key" : "Create key"}
      onClose={onClose}
      submit={async () => {
        const body: KeyBody = { label: f.label, models: f.restrictModels ? parseList(f.models) : null, ip_allow: parseList(f.ips), request_limit: optInt(req[0]), token_limit: optInt(tok[0]) };
        if (f.days.trim()) body.expires_in_seconds = Math.round(Number(f.days) * 86400);
        await save(body);
      }}
    >
      <Field label="Label" hint="e.g. laptop, CI" name="label">
        <input {...text("label")} />
      </Field>
      <Field label="Expires in (days)" hint={initial?.expires_at ? `Now expires ${fmtDate(initial.expires_at)}; blank keeps it` : "Blank = never"} name="expires_in_seconds">
        <input inputMode="decimal" {...text("days")} />
      </Field>
      <Check {...check("restrictModels")}>Only some of the user's models</Check>
      {f.restrictModels && (
        <Field label="Models" hint="Comma separated; a key never widens the user's access" name="models">
          <input {...text("models")} />
        </Field>
      )}
      <Field label="Allowed addresses" hint="IPs or CIDR ranges, comma separated (CF-Connecting-IP); blank = any" name="ip_allow">
        <input {...text("ips")} />
      </Field>
      <LimitFields labels={["Key request limit", "Key token limit"]} req={req} tok={tok} hint="Per day, on top of the user's; blank = none" />
    </FormDialog>
  );
}

function RotateDialog({ k, onClose, rotate }: { k: ApiKey; onClose: () => void; rotate: (graceSeconds: number) => Promise<void> }) {
  const [minutes, setMinutes] = useState("60");
  return (
    <FormDialog title={`Rotate key ${k.label || k.hint}`} submitLabel="Rotate key" onClose={onClose} submit={() => rotate(Math.round(Number(minutes || "0") * 60))}>
      <p>A new key with the same label and restrictions is issued (shown once). The current key keeps working for the grace period, then expires.</p>
      <Field label="Grace period (minutes)" hint="0 = the current key stops now; at most 30 days" name="grace_seconds">
        <input inputMode="numeric" value={minutes} onInput={(e) => setMinutes(inputValue(e))} />
      </Field>
    </FormDialog>
  );
}

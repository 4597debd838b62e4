import { useState } from "preact/hooks";
import { del, enc, get, post, put, qs } from "../api";
import { loadNames, ModelPicker, TokenReveal } from "../shared";
import type { User } from "../types";
import { Async, Badge, Button, Confirm, Empty, ErrorBox, Field, fieldError, fmtDate, fmtNum, inputChecked, inputValue, Modal, optInt, PageHead, Section, useAction, useLoad } from "../ui";

export function UsersPage() {
  const [showDeleted, setShowDeleted] = useState(false);
  const users = useLoad(() => get<{ users: User[]; total: number }>(`/users${qs({ include_deleted: showDeleted ? "true" : undefined })}`), [showDeleted]);
  const [creating, setCreating] = useState(false);
  const [reveal, setReveal] = useState<{ username: string; token: string } | null>(null);

  return (
    <>
      <PageHead title="Users">
        <label class="check">
          <input type="checkbox" checked={showDeleted} onChange={(e) => setShowDeleted(inputChecked(e))} /> Show deleted
        </label>
        <Button kind="primary" onClick={() => setCreating(true)}>
          Create user
        </Button>
      </PageHead>
      <Section title="All users">
        <Async state={users} what="Loading users">
          {(d) =>
            d.users.length === 0 ? (
              <Empty>No users yet. Create one, then hand them the setup from the Guide page.</Empty>
            ) : (
              <table aria-label="Users">
                <thead>
                  <tr>
                    <th>Username</th>
                    <th>Status</th>
                    <th>Models</th>
                    <th>Limits</th>
                    <th>Token</th>
                    <th>Created</th>
                    <th>Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {d.users.map((u) => (
                    <tr key={u.id}>
                      <td>
                        <a href={`#/users/${enc(u.username)}`}>{u.username}</a>
                      </td>
                      <td>{u.is_deleted ? <Badge kind="bad">deleted</Badge> : u.is_active ? <Badge kind="ok">active</Badge> : <Badge kind="muted">disabled</Badge>}</td>
                      <td>{u.has_all_models ? <Badge kind="info">all models</Badge> : u.models.length ? <span title={u.models.join(", ")}>{u.models.length} models</span> : <span class="muted">none</span>}</td>
                      <td class="small">
                        {u.request_limit === null && u.token_limit === null ? (
                          <span class="muted">unlimited</span>
                        ) : (
                          <>
                            {u.request_limit !== null && <div>{fmtNum(u.request_limit)} requests</div>}
                            {u.token_limit !== null && <div>{fmtNum(u.token_limit)} tokens</div>}
                          </>
                        )}
                      </td>
                      <td class="mono small">{u.token_prefix ? `${u.token_prefix}…` : "—"}</td>
                      <td class="small">{fmtDate(u.created_at)}</td>
                      <td class="actions-cell">
                        {u.is_deleted ? (
                          <Confirm
                            label={`Reactivate ${u.username}`}
                            kind=""
                            question={`Reactivate ${u.username}? A new token is issued.`}
                            onConfirm={async () => {
                              const r = await post<User>(`/users/${enc(u.username)}/reactivate`);
                              setReveal({ username: u.username, token: r.token! });
                              users.reload();
                            }}
                          >
                            Reactivate
                          </Confirm>
                        ) : (
                          <>
                            <Confirm
                              label={`Regenerate token for ${u.username}`}
                              kind=""
                              question={`Issue a new token for ${u.username}? The current token stops working at once.`}
                              onConfirm={async () => {
                                const r = await put<{ token: string }>(`/users/${enc(u.username)}/token`);
                                setReveal({ username: u.username, token: r.token });
                                users.reload();
                              }}
                            >
                              Regenerate token
                            </Confirm>
                            <Confirm
                              label={`Delete ${u.username}`}
                              question={`Delete ${u.username}? Their token stops working; re-creating the user brings it back with a new token.`}
                              onConfirm={async () => {
                                await del(`/users/${enc(u.username)}`);
                                users.reload();
                              }}
                            >
                              Delete
                            </Confirm>
                          </>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          }
        </Async>
      </Section>
      {creating && (
        <CreateUser
          onClose={() => setCreating(false)}
          onCreated={(u) => {
            setCreating(false);
            setReveal({ username: u.username, token: u.token! });
            users.reload();
          }}
        />
      )}
      <TokenReveal username={reveal?.username ?? ""} token={reveal?.token ?? null} onClose={() => setReveal(null)} />
    </>
  );
}

function CreateUser({ onClose, onCreated }: { onClose: () => void; onCreated: (u: User) => void }) {
  const names = useLoad(loadNames);
  const [username, setUsername] = useState("");
  const [all, setAll] = useState(false);
  const [models, setModels] = useState<string[]>([]);
  const [manage, setManage] = useState(false);
  const [reqLimit, setReqLimit] = useState("");
  const [tokLimit, setTokLimit] = useState("");
  const [run, busy, error] = useAction();

  const submit = (e: Event) => {
    e.preventDefault();
    run(async () => {
      const body: Record<string, unknown> = { username: username.trim(), has_all_models: all, can_manage_models: manage };
      if (!all) body.models = models;
      if (reqLimit.trim()) body.request_limit = optInt(reqLimit);
      if (tokLimit.trim()) body.token_limit = optInt(tokLimit);
      onCreated(await post<User>("/users", body));
    });
  };

  return (
    <Modal title="Create user" open onClose={onClose} wide>
      <form onSubmit={submit}>
        <Field label="Username" hint="Letters, digits and . _ @ - (up to 64)." error={fieldError(error, "username")}>
          <input name="username" value={username} onInput={(e) => setUsername(inputValue(e))} required autoFocus />
        </Field>
        <label class="check">
          <input type="checkbox" checked={all} onChange={(e) => setAll(inputChecked(e))} /> Access to all models
        </label>
        {!all && (
          <>
            <ErrorBox error={names.error} label="Could not load model names" />
            <ModelPicker names={names.data} value={models} onChange={setModels} label="Allowed models" />
          </>
        )}
        <label class="check">
          <input type="checkbox" checked={manage} onChange={(e) => setManage(inputChecked(e))} /> Can manage models
        </label>
        <div class="row">
          <Field label="Request limit" hint="Blank = unlimited" error={fieldError(error, "request_limit")}>
            <input inputMode="numeric" value={reqLimit} onInput={(e) => setReqLimit(inputValue(e))} />
          </Field>
          <Field label="Token limit" hint="Blank = unlimited" error={fieldError(error, "token_limit")}>
            <input inputMode="numeric" value={tokLimit} onInput={(e) => setTokLimit(inputValue(e))} />
          </Field>
        </div>
        <ErrorBox error={error} />
        <div class="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" kind="primary" busy={busy}>
            Create
          </Button>
        </div>
      </form>
    </Modal>
  );
}

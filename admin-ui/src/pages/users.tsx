import { useState } from "preact/hooks";
import { del, enc, get, post, put, qs } from "../api";
import { loadNames, ModelPicker, TokenReveal } from "../shared";
import type { User, UserWithToken } from "../types";
import { Badge, Check, Confirm, ErrorBox, Field, FormDialog, fmtDate, LimitsCell, ListPage, optInt, Table, useForm, useLoad } from "../ui";
import { LimitFields } from "./grants";

export function UsersPage() {
  const [showDeleted, setShowDeleted] = useState(false);
  const users = useLoad(() => get<{ users: User[]; total: number }>(`/users${qs({ include_deleted: showDeleted ? "true" : undefined })}`), [showDeleted]);
  const [reveal, setReveal] = useState<{ username: string; token: string } | null>(null);
  const revealed = (u: UserWithToken) => {
    setReveal({ username: u.username, token: u.token });
    users.reload();
  };

  return (
    <>
      <ListPage
        title="Users"
        addLabel="Create user"
        headActions={
          <Check checked={showDeleted} onChange={setShowDeleted}>
            Show deleted
          </Check>
        }
        state={users}
        items={(d) => d.users}
        section="All users"
        what="Loading users"
        empty="No users yet. Create one, then hand them the setup from the Guide page."
        form={(_, close) => (
          <CreateUser
            onClose={close}
            onCreated={(u) => {
              close();
              revealed(u);
            }}
          />
        )}
      >
        {(rows) => (
          <Table
            label="Users"
            rows={rows}
            keyOf={(u) => u.id}
            columns={[
              ["Username", (u) => <a href={`#/users/${enc(u.username)}`}>{u.username}</a>],
              ["Status", (u) => (u.is_deleted ? <Badge kind="bad">deleted</Badge> : u.is_active ? <Badge kind="ok">active</Badge> : <Badge kind="muted">disabled</Badge>)],
              ["Models", (u) => (u.has_all_models ? <Badge kind="info">all models</Badge> : u.models.length ? <span title={u.models.join(", ")}>{u.models.length} models</span> : <span class="muted">none</span>)],
              ["Limits", (u) => <LimitsCell {...u} />, "small"],
              ["Token", (u) => (u.token_prefix ? `${u.token_prefix}…` : "—"), "mono small"],
              ["Created", (u) => fmtDate(u.created_at), "small"],
              ["Actions", (u) => <UserActions u={u} onToken={(token) => revealed({ ...u, token })} onChanged={users.reload} />, "actions-cell"],
            ]}
          />
        )}
      </ListPage>
      <TokenReveal username={reveal?.username ?? ""} token={reveal?.token ?? null} onClose={() => setReveal(null)} />
    </>
  );
}

function UserActions({ u, onToken, onChanged }: { u: User; onToken: (token: string) => void; onChanged: () => void }) {
  const path = `/users/${enc(u.username)}`;
  if (u.is_deleted)
    return (
      <Confirm label={`Reactivate ${u.username}`} kind="" question={`Reactivate ${u.username}? A new token is issued.`} onConfirm={async () => onToken((await post<UserWithToken>(`${path}/reactivate`)).token)}>
        Reactivate
      </Confirm>
    );
  return (
    <>
      <Confirm label={`Regenerate token for ${u.username}`} kind="" question={`Issue a new token for ${u.username}? The current token stops working at once.`} onConfirm={async () => onToken((await put<{ token: string }>(`${path}/token`)).token)}>
        Regenerate token
      </Confirm>
      <Confirm
        label={`Delete ${u.username}`}
        question={`Delete ${u.username}? Their token stops working; re-creating the user brings it back with a new token.`}
        onConfirm={async () => {
          await del(path);
          onChanged();
        }}
      >
        Delete
      </Confirm>
    </>
  );
}

function CreateUser({ onClose, onCreated }: { onClose: () => void; onCreated: (u: UserWithToken) => void }) {
  const names = useLoad(loadNames);
  const { values: f, text, check } = useForm({ username: "", all: false, manage: false });
  const [models, setModels] = useState<string[]>([]);
  const req = useState("");
  const tok = useState("");
  return (
    <FormDialog
      title="Create user"
      submitLabel="Create"
      onClose={onClose}
      wide
      submit={async () => {
        const body: Record<string, unknown> = { username: f.username.trim(), has_all_models: f.all, can_manage_models: f.manage };
        if (!f.all) body.models = models;
        if (req[0].trim()) body.request_limit = optInt(req[0]);
        if (tok[0].trim()) body.token_limit = optInt(tok[0]);
        onCreated(await post<UserWithToken>("/users", body));
      }}
    >
      <Field label="Username" hint="Letters, digits and . _ @ - (up to 64)." name="username">
        <input name="username" {...text("username")} required autoFocus />
      </Field>
      <Check {...check("all")}>Access to all models</Check>
      {!f.all && (
        <>
          <ErrorBox error={names.error} label="Could not load model names" />
          <ModelPicker names={names.data} value={models} onChange={setModels} label="Allowed models" />
        </>
      )}
      <Check {...check("manage")}>Can manage models</Check>
      <LimitFields labels={["Request limit", "Token limit"]} req={req} tok={tok} />
    </FormDialog>
  );
}

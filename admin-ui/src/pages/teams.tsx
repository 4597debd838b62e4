// Teams: an allow-list (models and groups, or all), daily limits and members. A member may call
// what they or any of their teams may; every level with a limit must admit a request.
import { useState } from "preact/hooks";
import { del, enc, get, patch, post } from "../api";
import { loadNames, ModelPicker } from "../shared";
import type { User } from "../types";
import { Async, Badge, Button, Confirm, Empty, ErrorBox, Field, fieldError, fmtNum, inputValue, Modal, navigate, optInt, PageHead, Section, Switch, useAction, useLoad, useSynced } from "../ui";

export interface Team {
  id: number;
  name: string;
  description: string;
  has_all_models: boolean;
  models: string[];
  request_limit: number | null;
  token_limit: number | null;
  members: string[];
  created_at: string;
  updated_at: string;
}

export function TeamsPage() {
  const teams = useLoad(() => get<{ teams: Team[]; total: number }>("/teams"));
  const [creating, setCreating] = useState(false);
  return (
    <>
      <PageHead title="Teams">
        <Button kind="primary" onClick={() => setCreating(true)}>
          Create team
        </Button>
      </PageHead>
      <Section title="All teams">
        <Async state={teams} what="Loading teams">
          {(d) =>
            d.teams.length === 0 ? (
              <Empty>No teams yet. A team gives its members models and shares daily limits among them.</Empty>
            ) : (
              <table aria-label="Teams">
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Members</th>
                    <th>Models</th>
                    <th>Daily limits</th>
                  </tr>
                </thead>
                <tbody>
                  {d.teams.map((t) => (
                    <tr key={t.id}>
                      <td>
                        <a href={`#/teams/${enc(t.name)}`}>{t.name}</a>
                        {t.description && <div class="muted small">{t.description}</div>}
                      </td>
                      <td>{t.members.length ? t.members.join(", ") : <span class="muted">none</span>}</td>
                      <td>{t.has_all_models ? <Badge kind="info">all models</Badge> : t.models.length ? t.models.join(", ") : <span class="muted">none</span>}</td>
                      <td class="small">{limitsText(t)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          }
        </Async>
      </Section>
      <CreateTeam open={creating} onClose={() => setCreating(false)} />
    </>
  );
}

function limitsText(t: Team) {
  if (t.request_limit === null && t.token_limit === null) return <span class="muted">unlimited</span>;
  return (
    <>
      {t.request_limit !== null && <div>{fmtNum(t.request_limit)} requests</div>}
      {t.token_limit !== null && <div>{fmtNum(t.token_limit)} tokens</div>}
    </>
  );
}

function CreateTeam({ open, onClose }: { open: boolean; onClose: () => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [run, busy, error] = useAction();
  return (
    <Modal title="Create team" open={open} onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          run(async () => {
            const t = await post<Team>("/teams", { name, description });
            onClose();
            navigate(`/teams/${enc(t.name)}`);
          });
        }}
      >
        <Field label="Team name" hint="Letters, digits, . _ @ -" error={fieldError(error, "name")}>
          <input value={name} onInput={(e) => setName(inputValue(e))} required />
        </Field>
        <Field label="Description">
          <input value={description} onInput={(e) => setDescription(inputValue(e))} />
        </Field>
        <ErrorBox error={error} />
        <div class="dialog-actions">
          <Button type="submit" kind="primary" busy={busy}>
            Create team
          </Button>
        </div>
      </form>
    </Modal>
  );
}

export function TeamPage({ name }: { name: string }) {
  const team = useLoad(() => get<Team>(`/teams/${enc(name)}`), [name]);
  return (
    <>
      <PageHead title={`Team ${name}`}>
        <a class="btn" href="#/teams">
          ← All teams
        </a>
        <Confirm
          label="Delete team"
          size=""
          question={`Delete the team ${name}? Its members stay, but lose what the team gave them.`}
          onConfirm={async () => {
            await del(`/teams/${enc(name)}`);
            navigate("/teams");
          }}
        />
      </PageHead>
      <Async state={team} what="Loading team">
        {(t) => (
          <>
            <Members team={t} onSaved={team.reload} />
            <TeamModels team={t} onSaved={team.reload} />
            <TeamLimits team={t} onSaved={team.reload} />
          </>
        )}
      </Async>
    </>
  );
}

function Members({ team, onSaved }: { team: Team; onSaved: () => void }) {
  const users = useLoad(() => get<{ users: User[] }>("/users"));
  const [pick, setPick] = useState("");
  const [run, busy, error] = useAction();
  const candidates = (users.data?.users ?? []).filter((u) => !team.members.includes(u.username));
  return (
    <Section title="Members">
      {team.members.length === 0 ? (
        <Empty>No members yet.</Empty>
      ) : (
        <ul class="plain" aria-label="Team members">
          {team.members.map((m) => (
            <li key={m} class="row">
              <a href={`#/users/${enc(m)}`}>{m}</a>
              <Confirm
                label={`Remove ${m}`}
                question={`Remove ${m} from ${team.name}?`}
                onConfirm={async () => {
                  await del(`/teams/${enc(team.name)}/members/${enc(m)}`);
                  onSaved();
                }}
              >
                Remove
              </Confirm>
            </li>
          ))}
        </ul>
      )}
      <div class="row">
        <Field label="Add member">
          <select value={pick} onChange={(e) => setPick(inputValue(e))}>
            <option value="">choose a user</option>
            {candidates.map((u) => (
              <option key={u.username} value={u.username}>
                {u.username}
              </option>
            ))}
          </select>
        </Field>
        <Button
          busy={busy}
          disabled={!pick}
          onClick={() =>
            run(async () => {
              await post(`/teams/${enc(team.name)}/members`, { username: pick });
              setPick("");
              onSaved();
            })
          }
        >
          Add member
        </Button>
      </div>
      <ErrorBox error={error} />
    </Section>
  );
}

function TeamModels({ team, onSaved }: { team: Team; onSaved: () => void }) {
  const names = useLoad(loadNames);
  const [all, setAll] = useSynced(team.has_all_models, [team]);
  const [models, setModels] = useSynced(team.models, [team]);
  const [run, busy, error] = useAction();
  const [saved, setSaved] = useState(false);
  return (
    <Section title="Team models">
      <p class="muted small">Members may call these on top of their own allow-list.</p>
      <Switch label="Access to all models" showLabel checked={all} onChange={setAll} />
      {!all && (
        <>
          <ErrorBox error={names.error} label="Could not load model names" />
          <ModelPicker names={names.data} value={models} onChange={setModels} label="Team allow-list (mapping display names, groups or real names)" />
        </>
      )}
      <ErrorBox error={error} />
      <div class="row">
        <Button
          kind="primary"
          busy={busy}
          onClick={() =>
            run(async () => {
              await patch(`/teams/${enc(team.name)}`, { has_all_models: all, models: all ? team.models : models });
              setSaved(true);
              setTimeout(() => setSaved(false), 2000);
              onSaved();
            })
          }
        >
          Save team models
        </Button>
        {saved && <span class="ok-text" role="status">Saved</span>}
      </div>
    </Section>
  );
}

function TeamLimits({ team, onSaved }: { team: Team; onSaved: () => void }) {
  const [req, setReq] = useState(team.request_limit?.toString() ?? "");
  const [tok, setTok] = useState(team.token_limit?.toString() ?? "");
  const [run, busy, error] = useAction();
  const [saved, setSaved] = useState(false);
  return (
    <Section title="Team daily limits">
      <p class="muted small">Shared by all members, per UTC day, on top of each member's own limits.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          run(async () => {
            await patch(`/teams/${enc(team.name)}`, { request_limit: optInt(req), token_limit: optInt(tok) });
            setSaved(true);
            setTimeout(() => setSaved(false), 2000);
            onSaved();
          });
        }}
      >
        <div class="row">
          <Field label="Team request limit" hint="Blank = unlimited" error={fieldError(error, "request_limit")}>
            <input inputMode="numeric" value={req} onInput={(e) => setReq(inputValue(e))} />
          </Field>
          <Field label="Team token limit" hint="Blank = unlimited" error={fieldError(error, "token_limit")}>
            <input inputMode="numeric" value={tok} onInput={(e) => setTok(inputValue(e))} />
          </Field>
        </div>
        <ErrorBox error={error} />
        <div class="row">
          <Button type="submit" kind="primary" busy={busy}>
            Save team limits
          </Button>
          {saved && <span class="ok-text" role="status">Saved</span>}
        </div>
      </form>
    </Section>
  );
}

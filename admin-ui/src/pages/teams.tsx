// Teams: an allow-list (models and groups, or all), daily limits and members. A member may call
// what they or any of their teams may; every level with a limit must admit a request.
import { useState } from "preact/hooks";
import { del, enc, get, patch, post } from "../api";
import type { Team, User } from "../types";
import { Badge, Button, Confirm, Empty, ErrorBox, Field, FormDialog, LimitsCell, ListPage, navigate, PageHead, Section, Async, Table, useAction, useForm, useLoad } from "../ui";
import { LimitsSection, ModelAccessSection } from "./grants";

export function TeamsPage() {
  const teams = useLoad(() => get<{ teams: Team[]; total: number }>("/teams"));
  return (
    <ListPage
      title="Teams"
      addLabel="Create team"
      state={teams}
      items={(d) => d.teams}
      section="All teams"
      what="Loading teams"
      empty="No teams yet. A team gives its members models and shares daily limits among them."
      form={(_, close) => <CreateTeam onClose={close} />}
    >
      {(rows) => (
        <Table
          label="Teams"
          rows={rows}
          keyOf={(t) => t.id}
          columns={[
            [
              "Name",
              (t) => (
                <>
                  <a href={`#/teams/${enc(t.name)}`}>{t.name}</a>
                  {t.description && <div class="muted small">{t.description}</div>}
                </>
              ),
            ],
            ["Members", (t) => (t.members.length ? t.members.join(", ") : <span class="muted">none</span>)],
            ["Models", (t) => (t.has_all_models ? <Badge kind="info">all models</Badge> : t.models.length ? t.models.join(", ") : <span class="muted">none</span>)],
            ["Daily limits", (t) => <LimitsCell {...t} />, "small"],
          ]}
        />
      )}
    </ListPage>
  );
}

function CreateTeam({ onClose }: { onClose: () => void }) {
  const { values: f, text } = useForm({ name: "", description: "" });
  return (
    <FormDialog
      title="Create team"
      submitLabel="Create team"
      onClose={onClose}
      submit={async () => {
        const t = await post<Team>("/teams", f);
        onClose();
        navigate(`/teams/${enc(t.name)}`);
      }}
    >
      <Field label="Team name" hint="Letters, digits, . _ @ -" name="name">
        <input {...text("name")} required />
      </Field>
      <Field label="Description" name="description">
        <input {...text("description")} />
      </Field>
    </FormDialog>
  );
}

export function TeamPage({ name }: { name: string }) {
  const team = useLoad(() => get<Team>(`/teams/${enc(name)}`), [name]);
  const base = `/teams/${enc(name)}`;
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
            await del(base);
            navigate("/teams");
          }}
        />
      </PageHead>
      <Async state={team} what="Loading team">
        {(t) => (
          <>
            <Members team={t} onSaved={team.reload} />
            <ModelAccessSection
              title="Team models"
              note="Members may call these on top of their own allow-list."
              source={t}
              pickerLabel="Team allow-list (mapping display names, groups or real names)"
              saveLabel="Save team models"
              save={async (all, models) => {
                await patch(base, { has_all_models: all, models: all ? t.models : models });
                team.reload();
              }}
            />
            <LimitsSection
              title="Team daily limits"
              note="Shared by all members, per UTC day, on top of each member's own limits."
              source={t}
              labels={["Team request limit", "Team token limit"]}
              saveLabel="Save team limits"
              save={async (limits) => {
                await patch(base, limits);
                team.reload();
              }}
            />
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
          <select value={pick} onChange={(e) => setPick((e.target as HTMLSelectElement).value)}>
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

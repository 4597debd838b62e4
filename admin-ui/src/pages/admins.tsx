// Admin accounts for single sign-on: the emails Cloudflare Access may sign in, each a full admin
// or the admin of one team (their members, keys and usage only).
import { useState } from "preact/hooks";
import { del, enc, get, post } from "../api";
import type { AdminAccount, Team } from "../types";
import { Async, Badge, Button, Empty, ErrorBox, Field, fieldError, fmtDate, inputValue, PageHead, RowActions, Section, Table, useAction, useLoad } from "../ui";

export function AdminsPage() {
  const admins = useLoad(() => get<{ admins: AdminAccount[]; total: number }>("/admins"));
  const teams = useLoad(() => get<{ teams: Team[] }>("/teams"));
  const [email, setEmail] = useState("");
  const [team, setTeam] = useState("");
  const [run, busy, error] = useAction();
  return (
    <>
      <PageHead title="Admin accounts" />
      <Section title="Single sign-on (Cloudflare Access)">
        <p>
          Put the dashboard and <code>/admin/*</code> behind a Cloudflare Access application, then set <code>access.team_domain</code> and <code>access.audience</code> on the <a href="#/settings">Settings</a> page. People Access lets through are
          signed in by the email below; <code>admin.password_login</code> can turn the password login off. The admin token keeps working for automation.
        </p>
      </Section>
      <Section title="Admins">
        <Async state={admins} what="Loading admins">
          {(d) =>
            d.admins.length === 0 ? (
              <Empty>No Access admins yet.</Empty>
            ) : (
              <Table
                label="Admin accounts"
                rows={d.admins}
                keyOf={(a) => a.email}
                columns={[
                  ["Email", (a) => a.email],
                  ["Scope", (a) => (a.team ? <Badge kind="info">team {a.team}</Badge> : <Badge kind="ok">everything</Badge>)],
                  ["Added", (a) => fmtDate(a.created_at), "small"],
                  [
                    "Actions",
                    (a) => (
                      <RowActions
                        name={a.email}
                        removeLabel="Remove"
                        question={`Remove ${a.email}? They can no longer sign in through Access.`}
                        remove={async () => {
                          await del(`/admins/${enc(a.email)}`);
                          admins.reload();
                        }}
                      />
                    ),
                  ],
                ]}
              />
            )
          }
        </Async>
        <form
          class="row wrap"
          onSubmit={(e) => {
            e.preventDefault();
            run(async () => {
              await post("/admins", { email, team: team || null });
              setEmail("");
              setTeam("");
              admins.reload();
            });
          }}
        >
          <Field label="Email" error={fieldError(error, "email")}>
            <input type="email" value={email} onInput={(e) => setEmail(inputValue(e))} required />
          </Field>
          <Field label="Scope" hint="A team admin sees and manages only that team's members, their keys and usage" error={fieldError(error, "team")}>
            <select value={team} onChange={(e) => setTeam(inputValue(e))}>
              <option value="">everything</option>
              {(teams.data?.teams ?? []).map((t) => (
                <option key={t.name} value={t.name}>
                  team {t.name}
                </option>
              ))}
            </select>
          </Field>
          <Button type="submit" kind="primary" busy={busy}>
            Add admin
          </Button>
        </form>
        <ErrorBox error={error} />
      </Section>
    </>
  );
}

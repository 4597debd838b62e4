// Admin accounts for single sign-on: the emails Cloudflare Access may sign in, each a full admin
// or the admin of one team (their members, keys and usage only).
import { useState } from "preact/hooks";
import { del, enc, get, post } from "../api";
import { Async, Badge, Button, Confirm, Empty, ErrorBox, Field, fieldError, fmtDate, inputValue, PageHead, Section, useAction, useLoad } from "../ui";
import type { Team } from "./teams";

interface AdminAccount {
  email: string;
  team: string | null;
  created_at: string;
}

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
          Put the dashboard and <code>/admin/*</code> behind a Cloudflare Access application, then set <code>access.team_domain</code> and <code>access.audience</code> on the <a href="#/settings">Settings</a> page. People Access lets through are signed in by the email below; <code>admin.password_login</code> can turn the password login off. The admin token keeps working for automation.
        </p>
      </Section>
      <Section title="Admins">
        <Async state={admins} what="Loading admins">
          {(d) =>
            d.admins.length === 0 ? (
              <Empty>No Access admins yet.</Empty>
            ) : (
              <table aria-label="Admin accounts">
                <thead>
                  <tr>
                    <th>Email</th>
                    <th>Scope</th>
                    <th>Added</th>
                    <th>Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {d.admins.map((a) => (
                    <tr key={a.email}>
                      <td>{a.email}</td>
                      <td>{a.team ? <Badge kind="info">team {a.team}</Badge> : <Badge kind="ok">everything</Badge>}</td>
                      <td class="small">{fmtDate(a.created_at)}</td>
                      <td>
                        <Confirm
                          label={`Remove ${a.email}`}
                          question={`Remove ${a.email}? They can no longer sign in through Access.`}
                          onConfirm={async () => {
                            await del(`/admins/${enc(a.email)}`);
                            admins.reload();
                          }}
                        >
                          Remove
                        </Confirm>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
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

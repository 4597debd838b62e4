// Budgets in currency per user, team or API key, per UTC day or month (README "Budgets"), and
// the soft and hard threshold crossings the cron recorded.
import { del, get, patch, post } from "../api";
import type { Budget, BudgetEvent, BudgetList } from "../types";
import { Async, Badge, Empty, Field, FormDialog, fmtDate, ListPage, RowActions, Section, Table, useForm, useLoad } from "../ui";

const money = (micros: number) => (micros / 1_000_000).toFixed(2);

function Owner({ b }: { b: Budget }) {
  const name = b.scope_name ?? `#${b.scope_id}`;
  if (b.scope === "user") return <a href={`#/users/${encodeURIComponent(name)}`}>{name}</a>;
  if (b.scope === "team") return <a href={`#/teams/${encodeURIComponent(name)}`}>team {name}</a>;
  return (
    <span>
      key {name} <span class="muted small">(id {b.scope_id})</span>
    </span>
  );
}

export function BudgetsPage() {
  const budgets = useLoad(() => get<BudgetList>("/budgets"));
  const events = useLoad(() => get<{ events: BudgetEvent[]; total: number }>("/budget-events?limit=50"));
  const currency = budgets.data?.currency ?? "";
  return (
    <>
      <ListPage
        title="Budgets"
        addLabel="Add budget"
        state={budgets}
        items={(d) => d.budgets}
        section={`Budgets${currency ? ` in ${currency}` : ""}`}
        note={
          <p class="muted small">
            A spent budget answers 429 (in the client's format, with Retry-After until the UTC day or month ends); past its soft threshold answers carry a warning header. Free models are never blocked. Spent is what the usage records of the current window cost.
          </p>
        }
        what="Loading budgets"
        empty="No budgets. Add one for a user, a team or an API key."
        form={(b, close, saved) => <BudgetForm budget={b} onClose={close} onSaved={saved} />}
      >
        {(rows, edit) => (
          <Table
            label="Budgets"
            rows={rows}
            keyOf={(b) => b.id}
            wrap
            columns={[
              ["Owner", (b) => <Owner b={b} />],
              ["Period", (b) => (b.period === "day" ? "daily" : "monthly")],
              ["Limit", (b) => money(b.limit_micros), "num"],
              ["Spent", (b) => money(b.spent_micros), "num"],
              [
                "Used",
                (b) => {
                  const pct = Math.min(100, Math.round((b.spent_micros * 100) / b.limit_micros));
                  return <Badge kind={pct >= 100 ? "bad" : pct >= b.soft_pct ? "warn" : "ok"}>{pct}%</Badge>;
                },
              ],
              ["Soft", (b) => `${b.soft_pct}%`, "num"],
              ["Resets", (b) => fmtDate(b.reset_at), "small"],
              [
                "Actions",
                (b) => (
                  <RowActions
                    name={`budget ${b.id}`}
                    onEdit={() => edit(b)}
                    remove={async () => {
                      await del(`/budgets/${b.id}`);
                      budgets.reload();
                    }}
                  />
                ),
                "actions-cell",
              ],
            ]}
          />
        )}
      </ListPage>
      <Section title="Threshold events">
        <Async state={events} what="Loading budget events">
          {(d) =>
            d.events.length === 0 ? (
              <Empty>No budget has reached a threshold yet.</Empty>
            ) : (
              <Table
                label="Budget events"
                rows={d.events}
                keyOf={(e) => e.id}
                columns={[
                  ["When", (e) => fmtDate(e.created_at), "small"],
                  ["Threshold", (e) => <Badge kind={e.threshold === "hard" ? "bad" : "warn"}>{e.threshold}</Badge>],
                  ["Owner", (e) => `${e.scope} ${e.scope_name || e.scope_id}`],
                  ["Period", (e) => e.period],
                  ["Spent", (e) => `${money(e.spent_micros)} of ${money(e.limit_micros)} ${e.currency}`, "num"],
                  ["Alert sent", (e) => (e.delivered_at ? fmtDate(e.delivered_at) : <span class="muted">not yet</span>), "small"],
                ]}
              />
            )
          }
        </Async>
      </Section>
    </>
  );
}

function BudgetForm({ budget: b, onClose, onSaved }: { budget?: Budget; onClose: () => void; onSaved: () => void }) {
  const { values: f, text } = useForm({ owner: "user", name: "", period: "month", limit: b ? String(b.limit) : "", soft_pct: String(b?.soft_pct ?? 80) });
  return (
    <FormDialog
      title={b ? `Edit budget ${b.id}` : "Add budget"}
      submitLabel={b ? "Save budget" : "Add budget"}
      onClose={onClose}
      submit={async () => {
        const common = { limit: f.limit.trim(), soft_pct: Number(f.soft_pct) };
        if (b) await patch(`/budgets/${b.id}`, common);
        else {
          const who = f.owner === "key" ? { key_id: Number(f.name) } : { [f.owner]: f.name.trim() };
          await post("/budgets", { ...who, period: f.period, ...common });
        }
        onSaved();
      }}
    >
      {!b && (
        <>
          <Field label="Owner" name="owner">
            <select {...text("owner")}>
              <option value="user">A user</option>
              <option value="team">A team</option>
              <option value="key">An API key</option>
            </select>
          </Field>
          <Field label={f.owner === "key" ? "API key id" : f.owner === "team" ? "Team name" : "Username"} name={f.owner === "key" ? "key_id" : f.owner}>
            <input {...text("name")} required inputMode={f.owner === "key" ? "numeric" : undefined} />
          </Field>
          <Field label="Period (UTC)" name="period">
            <select {...text("period")}>
              <option value="day">Daily</option>
              <option value="month">Monthly</option>
            </select>
          </Field>
        </>
      )}
      <Field label="Limit" name="limit" hint="In the currency of costs.currency, e.g. 50 or 12.50">
        <input {...text("limit")} required inputMode="decimal" />
      </Field>
      <Field label="Soft threshold (%)" name="soft_pct" hint="Past it: a warning header on answers and a soft budget event">
        <input {...text("soft_pct")} type="number" min={1} max={100} />
      </Field>
    </FormDialog>
  );
}

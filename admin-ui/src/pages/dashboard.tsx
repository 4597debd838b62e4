import { useState } from "preact/hooks";
import { get, qs } from "../api";
import { BarList, DailyChart } from "../chart";
import type { Period, SeriesDay, Stats } from "../types";
import { PERIOD_OPTIONS as periodOptions } from "../types";
import { Async, Badge, Empty, fmtMs, fmtNum, PageHead, Section, Select, useLoad } from "../ui";

function Stat({ label, value, sub }: { label: string; value: string; sub?: string }) {
  return (
    <div class="stat" role="group" aria-label={label}>
      <div class="stat-label">{label}</div>
      <div class="stat-value">{value}</div>
      {sub && <div class="stat-sub">{sub}</div>}
    </div>
  );
}

export function DashboardPage() {
  const stats = useLoad(() => get<Stats>("/dashboard/stats"));
  const [days, setDays] = useState("7");
  const series = useLoad(() => get<{ days: SeriesDay[] }>(`/dashboard/series${qs({ days })}`), [days]);
  const [modelPeriod, setModelPeriod] = useState<Period>("7d");
  const topModels = useLoad(() => get<{ models: { model: string; requests: number; total_tokens: number }[] }>(`/dashboard/top-models${qs({ period: modelPeriod, limit: 10 })}`), [modelPeriod]);
  const [userPeriod, setUserPeriod] = useState<Period>("7d");
  const topUsers = useLoad(() => get<{ users: { username: string; requests: number; prompt_tokens: number; completion_tokens: number; total_tokens: number }[] }>(`/dashboard/top-users${qs({ period: userPeriod, limit: 10 })}`), [userPeriod]);

  return (
    <>
      <PageHead title="Dashboard">
        <button
          type="button"
          class="btn"
          onClick={() => {
            stats.reload();
            series.reload();
            topModels.reload();
            topUsers.reload();
          }}
        >
          Refresh
        </button>
      </PageHead>

      <Section title="Totals">
        <Async state={stats} what="Loading totals">
          {(s) => (
            <div class="stats">
              <Stat label="Requests today" value={fmtNum(s.requests.today)} sub={`${fmtNum(s.requests.errors_today)} errors · avg ${fmtMs(s.requests.avg_duration_ms_today)}`} />
              <Stat label="Requests this week" value={fmtNum(s.requests.week)} sub={`month ${fmtNum(s.requests.month)} · all time ${fmtNum(s.requests.total)}`} />
              <Stat label="Tokens today" value={fmtNum(s.tokens.today.total)} sub={`${fmtNum(s.tokens.today.prompt)} prompt · ${fmtNum(s.tokens.today.completion)} completion`} />
              <Stat label="Tokens this week" value={fmtNum(s.tokens.week.total)} sub={`${fmtNum(s.tokens.week.prompt)} prompt · ${fmtNum(s.tokens.week.completion)} completion`} />
              <Stat label="Tokens this month" value={fmtNum(s.tokens.month.total)} sub={`${fmtNum(s.tokens.month.prompt)} prompt · ${fmtNum(s.tokens.month.completion)} completion`} />
              <Stat label="Users" value={fmtNum(s.users.total)} sub={`${fmtNum(s.users.active)} active · ${fmtNum(s.users.active_today)} active today`} />
              <Stat label="Nodes" value={fmtNum(s.nodes.total)} sub={`${fmtNum(s.nodes.healthy)} healthy · ${fmtNum(s.nodes.unhealthy)} unhealthy`} />
            </div>
          )}
        </Async>
      </Section>

      <Section
        title="Requests and tokens per day"
        actions={
          <Select
            label="Days shown"
            value={days}
            options={[
              ["7", "7 days"],
              ["30", "30 days"],
              ["90", "90 days"],
            ]}
            onChange={setDays}
          />
        }
      >
        <Async state={series} what="Loading daily series">
          {(s) =>
            s.days.length === 0 ? (
              <Empty>No days returned.</Empty>
            ) : (
              <div class="grid2">
                <div>
                  <h3>Requests per day</h3>
                  <DailyChart
                    label="Requests per day"
                    dates={s.days.map((d) => d.date)}
                    series={[
                      { label: "Requests", values: s.days.map((d) => d.requests), color: "#2f5bd3" },
                      { label: "Errors", values: s.days.map((d) => d.errors), color: "#d64545" },
                    ]}
                  />
                </div>
                <div>
                  <h3>Tokens per day</h3>
                  <DailyChart
                    label="Tokens per day"
                    dates={s.days.map((d) => d.date)}
                    series={[
                      { label: "Total", values: s.days.map((d) => d.total_tokens), color: "#1f9d74" },
                      { label: "Completion", values: s.days.map((d) => d.completion_tokens), color: "#e0a100" },
                    ]}
                  />
                </div>
              </div>
            )
          }
        </Async>
      </Section>

      <div class="grid2">
        <Section title="Top models" actions={<Select label="Top models period" value={modelPeriod} options={periodOptions} onChange={setModelPeriod} />}>
          <Async state={topModels} what="Loading top models">
            {(t) =>
              t.models.length === 0 ? (
                <Empty>No requests in this period. Once clients call the gateway, the busiest models show here.</Empty>
              ) : (
                <BarList label="Top models by requests" rows={t.models.map((m) => ({ name: m.model, value: m.requests, detail: `${fmtNum(m.requests)} req · ${fmtNum(m.total_tokens)} tok` }))} />
              )
            }
          </Async>
        </Section>

        <Section title="Top users" actions={<Select label="Top users period" value={userPeriod} options={periodOptions} onChange={setUserPeriod} />}>
          <Async state={topUsers} what="Loading top users">
            {(t) =>
              t.users.length === 0 ? (
                <Empty>No usage in this period. Create a user and give them the setup from the Guide.</Empty>
              ) : (
                <table aria-label="Top users">
                  <thead>
                    <tr>
                      <th>User</th>
                      <th class="num">Requests</th>
                      <th class="num">Prompt</th>
                      <th class="num">Completion</th>
                      <th class="num">Total tokens</th>
                    </tr>
                  </thead>
                  <tbody>
                    {t.users.map((u) => (
                      <tr key={u.username}>
                        <td>
                          <a href={`#/users/${encodeURIComponent(u.username)}`}>{u.username}</a>
                        </td>
                        <td class="num">{fmtNum(u.requests)}</td>
                        <td class="num">{fmtNum(u.prompt_tokens)}</td>
                        <td class="num">{fmtNum(u.completion_tokens)}</td>
                        <td class="num">{fmtNum(u.total_tokens)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )
            }
          </Async>
        </Section>
      </div>

      <Section title="Dependencies">
        <Async state={stats} what="Loading dependency status">
          {(s) => (
            <ul class="deps">
              <li>
                <strong>database</strong> <Badge kind={s.dependencies.database.up ? "ok" : "bad"}>{s.dependencies.database.up ? "up" : "down"}</Badge> <span class="muted">{fmtMs(s.dependencies.database.latency_ms)}</span>
              </li>
              <UsagePipeline u={s.dependencies.usage} />
              <li>
                <strong>nodes</strong>{" "}
                <Badge kind={s.nodes.unhealthy ? "warn" : s.nodes.total ? "ok" : "muted"}>
                  {s.nodes.healthy}/{s.nodes.total} healthy
                </Badge>
              </li>
            </ul>
          )}
        </Async>
      </Section>
    </>
  );
}

/** The usage pipeline as its shards last reported: records waiting, refused (quarantined), stalled. */
function UsagePipeline({ u }: { u: Stats["dependencies"]["usage"] }) {
  const trouble = u.stalled_shards.length > 0 || !!u.last_error;
  return (
    <li>
      <strong>usage</strong> <Badge kind={trouble ? "warn" : "ok"}>{fmtNum(u.backlog)} waiting</Badge>
      {u.quarantined > 0 && <Badge kind="bad">{fmtNum(u.quarantined)} quarantined</Badge>}
      {u.stalled_shards.length > 0 && <span class="muted small"> stalled shards: {u.stalled_shards.join(", ")}</span>}
      {u.last_error && <span class="small bad-text"> {u.last_error}</span>}
    </li>
  );
}

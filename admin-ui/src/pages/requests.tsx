import { get, qs } from "../api";
import type { Paged, RequestRow } from "../types";
import { Async, Badge, Button, DateRange, Empty, Field, FilterForm, fmtDate, fmtMs, fmtNum, PageHead, Pagination, Section, Select, StatusBadge, toRfc3339, useFilters, useLoad } from "../ui";

export function RequestTable({ rows, label }: { rows: RequestRow[]; label: string }) {
  return (
    <div class="table-wrap">
      <table aria-label={label}>
        <thead>
          <tr>
            <th>Time</th>
            <th>User</th>
            <th>Model</th>
            <th>Node</th>
            <th>Endpoint</th>
            <th>Client</th>
            <th>Status</th>
            <th class="num">Prompt</th>
            <th class="num">Completion</th>
            <th class="num">Total</th>
            <th class="num">Duration</th>
            <th class="num">TTFB</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id}>
              <td class="small nowrap">{fmtDate(r.created_at)}</td>
              <td>{r.username ? <a href={`#/users/${encodeURIComponent(r.username)}`}>{r.username}</a> : <span class="muted">—</span>}</td>
              <td class="small">
                <div>{r.requested_model ?? "—"}</div>
                {r.real_model && r.real_model !== r.requested_model && <div class="muted">→ {r.real_model}</div>}
              </td>
              <td class="small nowrap">{r.node_name ?? "—"}</td>
              <td class="small mono">
                {r.endpoint}
                {r.stream && (
                  <Badge kind="muted" title="streamed">
                    stream
                  </Badge>
                )}
              </td>
              <td class="small">{r.client ?? r.dialect ?? "—"}</td>
              <td>
                <StatusBadge status={r.status} />
                {r.error && (
                  <div class="small bad-text" title={r.error}>
                    {r.error.length > 60 ? r.error.slice(0, 60) + "…" : r.error}
                  </div>
                )}
              </td>
              <td class="num">{fmtNum(r.prompt_tokens)}</td>
              <td class="num">{fmtNum(r.completion_tokens)}</td>
              <td class="num" title={r.estimated ? "estimated: the origin reported no usage" : undefined}>
                {fmtNum(r.total_tokens)}
                {r.estimated && "≈"}
              </td>
              <td class="num">{fmtMs(r.duration_ms)}</td>
              <td class="num">{fmtMs(r.ttfb_ms)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const EMPTY = { username: "", model: "", status: "", endpoint: "", client: "", start: "", end: "" };

export function RequestsPage() {
  const limit = 25;
  const filter = useFilters(EMPTY);
  const { filters, offset, text } = filter;
  const rows = useLoad(
    () =>
      get<{ requests: RequestRow[] } & Paged>(
        `/requests${qs({ limit, offset, username: filters.username, model: filters.model, status: filters.status, endpoint: filters.endpoint, client: filters.client, start_date: toRfc3339(filters.start), end_date: toRfc3339(filters.end) })}`,
      ),
    [filters, offset],
  );
  const any = Object.values(filters).some(Boolean);

  return (
    <>
      <PageHead title="Request log">
        <Button onClick={rows.reload}>Refresh</Button>
      </PageHead>
      <Section title="Filters">
        <FilterForm apply={filter.apply} clear={filter.clear}>
          <Field label="User">
            <input {...text("username")} />
          </Field>
          <Field label="Model">
            <input {...text("model")} />
          </Field>
          <Field label="Status">
            <Select
              label="Status"
              value={["", "2xx", "4xx", "5xx"].includes(filter.draft.status) ? filter.draft.status : "code"}
              options={[
                ["", "Any"],
                ["2xx", "2xx success"],
                ["4xx", "4xx client error"],
                ["5xx", "5xx server error"],
                ["code", "Exact code…"],
              ]}
              onChange={(v) => filter.setDraft({ ...filter.draft, status: v === "code" ? "429" : v })}
            />
          </Field>
          {!["", "2xx", "4xx", "5xx"].includes(filter.draft.status) && (
            <Field label="Status code">
              <input inputMode="numeric" {...text("status")} />
            </Field>
          )}
          <Field label="Endpoint">
            <input {...text("endpoint")} placeholder="/v1/chat/completions" />
          </Field>
          <Field label="Client">
            <input {...text("client")} />
          </Field>
          <DateRange start={text("start")} end={text("end")} />
        </FilterForm>
      </Section>
      <Section title="Requests">
        <Async state={rows} what="Loading requests">
          {(r) =>
            r.requests.length === 0 ? (
              <Empty>{any ? "No requests match these filters." : "No requests recorded yet. Requests appear here after clients call the gateway and the cron flushes usage (every minute)."}</Empty>
            ) : (
              <>
                <RequestTable rows={r.requests} label="Requests" />
                <Pagination total={r.total} limit={limit} offset={offset} onChange={filter.setOffset} />
              </>
            )
          }
        </Async>
      </Section>
    </>
  );
}

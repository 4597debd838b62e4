import { useState } from "preact/hooks";
import { get, qs } from "../api";
import type { Paged, RequestRow } from "../types";
import { Async, Badge, Button, Empty, Field, fmtDate, fmtMs, fmtNum, inputValue, PageHead, Pagination, Section, Select, StatusBadge, useLoad } from "../ui";

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

/** datetime-local values are local time; the API takes RFC 3339, so convert with the offset. */
export function toRfc3339(local: string): string | undefined {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? local : d.toISOString();
}

const EMPTY = { username: "", model: "", status: "", endpoint: "", client: "", start: "", end: "" };

export function RequestsPage() {
  const limit = 25;
  const [draft, setDraft] = useState(EMPTY);
  const [filters, setFilters] = useState(EMPTY);
  const [offset, setOffset] = useState(0);
  const rows = useLoad(
    () =>
      get<{ requests: RequestRow[] } & Paged>(
        `/requests${qs({ limit, offset, username: filters.username, model: filters.model, status: filters.status, endpoint: filters.endpoint, client: filters.client, start_date: toRfc3339(filters.start), end_date: toRfc3339(filters.end) })}`,
      ),
    [filters, offset],
  );
  const set = (k: keyof typeof EMPTY) => (e: Event) => setDraft({ ...draft, [k]: inputValue(e) });
  const any = Object.values(filters).some(Boolean);

  return (
    <>
      <PageHead title="Request log">
        <Button onClick={rows.reload}>Refresh</Button>
      </PageHead>
      <Section title="Filters">
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            setOffset(0);
            setFilters(draft);
          }}
        >
          <Field label="User">
            <input value={draft.username} onInput={set("username")} />
          </Field>
          <Field label="Model">
            <input value={draft.model} onInput={set("model")} />
          </Field>
          <Field label="Status">
            <Select
              label="Status"
              value={["", "2xx", "4xx", "5xx"].includes(draft.status) ? draft.status : "code"}
              options={[["", "Any"], ["2xx", "2xx success"], ["4xx", "4xx client error"], ["5xx", "5xx server error"], ["code", "Exact code…"]]}
              onChange={(v) => setDraft({ ...draft, status: v === "code" ? "429" : v })}
            />
          </Field>
          {!["", "2xx", "4xx", "5xx"].includes(draft.status) && (
            <Field label="Status code">
              <input inputMode="numeric" value={draft.status} onInput={set("status")} />
            </Field>
          )}
          <Field label="Endpoint">
            <input value={draft.endpoint} onInput={set("endpoint")} placeholder="/v1/chat/completions" />
          </Field>
          <Field label="Client">
            <input value={draft.client} onInput={set("client")} />
          </Field>
          <Field label="From">
            <input type="datetime-local" value={draft.start} onInput={set("start")} />
          </Field>
          <Field label="To">
            <input type="datetime-local" value={draft.end} onInput={set("end")} />
          </Field>
          <div class="filter-buttons">
            <Button type="submit" kind="primary">
              Apply filters
            </Button>
            <Button
              onClick={() => {
                setDraft(EMPTY);
                setFilters(EMPTY);
                setOffset(0);
              }}
            >
              Clear
            </Button>
          </div>
        </form>
      </Section>
      <Section title="Requests">
        <Async state={rows} what="Loading requests">
          {(r) =>
            r.requests.length === 0 ? (
              <Empty>{any ? "No requests match these filters." : "No requests recorded yet. Requests appear here after clients call the gateway and the cron flushes usage (every minute)."}</Empty>
            ) : (
              <>
                <RequestTable rows={r.requests} label="Requests" />
                <Pagination total={r.total} limit={limit} offset={offset} onChange={setOffset} />
              </>
            )
          }
        </Async>
      </Section>
    </>
  );
}

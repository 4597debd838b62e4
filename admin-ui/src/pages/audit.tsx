import { useState } from "preact/hooks";
import { get, qs } from "../api";
import type { AuditRow, Paged } from "../types";
import { Async, Badge, Button, Empty, Field, fmtDate, inputValue, PageHead, Pagination, Section, useLoad } from "../ui";
import { toRfc3339 } from "./requests";

const EMPTY = { action: "", entity_type: "", actor: "", start: "", end: "" };

export function AuditPage() {
  const limit = 50;
  const [draft, setDraft] = useState(EMPTY);
  const [filters, setFilters] = useState(EMPTY);
  const [offset, setOffset] = useState(0);
  const logs = useLoad(
    () => get<{ logs: AuditRow[] } & Paged>(`/audit-logs${qs({ limit, offset, action: filters.action, entity_type: filters.entity_type, actor: filters.actor, start_date: toRfc3339(filters.start), end_date: toRfc3339(filters.end) })}`),
    [filters, offset],
  );
  const set = (k: keyof typeof EMPTY) => (e: Event) => setDraft({ ...draft, [k]: inputValue(e) });

  return (
    <>
      <PageHead title="Audit log">
        <Button onClick={logs.reload}>Refresh</Button>
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
          <Field label="Action" hint="e.g. user.create, node.update">
            <input value={draft.action} onInput={set("action")} />
          </Field>
          <Field label="Entity type" hint="user, node, mapping, group, settings…">
            <input value={draft.entity_type} onInput={set("entity_type")} />
          </Field>
          <Field label="Actor">
            <input value={draft.actor} onInput={set("actor")} />
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
      <Section title="Admin actions">
        <Async state={logs} what="Loading audit log">
          {(l) =>
            l.logs.length === 0 ? (
              <Empty>No admin actions match. Every change made here or through the admin API is recorded.</Empty>
            ) : (
              <>
                <div class="table-wrap">
                  <table aria-label="Audit log">
                    <thead>
                      <tr>
                        <th>Time</th>
                        <th>Actor</th>
                        <th>Source IP</th>
                        <th>Action</th>
                        <th>Entity</th>
                        <th>Details</th>
                      </tr>
                    </thead>
                    <tbody>
                      {l.logs.map((r) => (
                        <tr key={r.id}>
                          <td class="small nowrap">{fmtDate(r.created_at)}</td>
                          <td>{r.actor}</td>
                          <td class="small mono">{r.source_ip ?? "—"}</td>
                          <td>
                            <Badge kind="info">{r.action}</Badge>
                          </td>
                          <td class="small">
                            {r.entity_type}
                            {r.entity_id ? <span class="mono"> #{r.entity_id}</span> : null}
                          </td>
                          <td class="small">
                            {r.details && Object.keys(r.details as object).length ? (
                              <details>
                                <summary>{JSON.stringify(r.details).slice(0, 60)}</summary>
                                <pre>{JSON.stringify(r.details, null, 2)}</pre>
                              </details>
                            ) : (
                              <span class="muted">—</span>
                            )}
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
                <Pagination total={l.total} limit={limit} offset={offset} onChange={setOffset} />
              </>
            )
          }
        </Async>
      </Section>
    </>
  );
}

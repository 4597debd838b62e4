import { get, qs } from "../api";
import type { AuditRow, Paged } from "../types";
import { Async, Badge, Button, DateRange, Empty, Field, FilterForm, fmtDate, PageHead, Pagination, Section, Table, toRfc3339, useFilters, useLoad } from "../ui";

const EMPTY = { action: "", entity_type: "", actor: "", start: "", end: "" };

export function AuditPage() {
  const limit = 50;
  const filter = useFilters(EMPTY);
  const { filters, offset, text } = filter;
  const logs = useLoad(
    () => get<{ logs: AuditRow[] } & Paged>(`/audit-logs${qs({ limit, offset, action: filters.action, entity_type: filters.entity_type, actor: filters.actor, start_date: toRfc3339(filters.start), end_date: toRfc3339(filters.end) })}`),
    [filters, offset],
  );

  return (
    <>
      <PageHead title="Audit log">
        <Button onClick={logs.reload}>Refresh</Button>
      </PageHead>
      <Section title="Filters">
        <FilterForm apply={filter.apply} clear={filter.clear}>
          <Field label="Action" hint="e.g. user.create, node.update">
            <input {...text("action")} />
          </Field>
          <Field label="Entity type" hint="user, node, mapping, group, settings…">
            <input {...text("entity_type")} />
          </Field>
          <Field label="Actor">
            <input {...text("actor")} />
          </Field>
          <DateRange start={text("start")} end={text("end")} />
        </FilterForm>
      </Section>
      <Section title="Admin actions">
        <Async state={logs} what="Loading audit log">
          {(l) =>
            l.logs.length === 0 ? (
              <Empty>No admin actions match. Every change made here or through the admin API is recorded.</Empty>
            ) : (
              <>
                <Table
                  label="Audit log"
                  wrap
                  rows={l.logs}
                  keyOf={(r) => r.id}
                  columns={[
                    ["Time", (r) => fmtDate(r.created_at), "small nowrap"],
                    ["Actor", (r) => r.actor],
                    ["Source IP", (r) => r.source_ip ?? "—", "small mono"],
                    ["Action", (r) => <Badge kind="info">{r.action}</Badge>],
                    [
                      "Entity",
                      (r) => (
                        <>
                          {r.entity_type}
                          {r.entity_id ? <span class="mono"> #{r.entity_id}</span> : null}
                        </>
                      ),
                      "small",
                    ],
                    [
                      "Details",
                      (r) =>
                        r.details && Object.keys(r.details).length ? (
                          <details>
                            <summary>{JSON.stringify(r.details).slice(0, 60)}</summary>
                            <pre>{JSON.stringify(r.details, null, 2)}</pre>
                          </details>
                        ) : (
                          <span class="muted">—</span>
                        ),
                      "small",
                    ],
                  ]}
                />
                <Pagination total={l.total} limit={limit} offset={offset} onChange={filter.setOffset} />
              </>
            )
          }
        </Async>
      </Section>
    </>
  );
}

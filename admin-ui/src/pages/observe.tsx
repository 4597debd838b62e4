// Alerts (the webhook outbox, a test alert) and the payload log (list, one entry with both
// bodies, delete). Both read the admin API only; settings live on the Settings page
// (alerts.*, otel.*, payload_log.*).
import { useState } from "preact/hooks";
import { del, enc, get, post, qs } from "../api";
import type { Alert, PayloadLogEntry, PayloadLogSummary } from "../types";
import { Async, Badge, Button, Confirm, Empty, ErrorBox, Field, FilterForm, fmtBytes, fmtDate, Notice, PageHead, Section, StatusBadge, Table, useAction, useFilters, useLoad } from "../ui";

const KINDS = ["", "node_down", "node_up", "breaker_open", "budget_soft", "budget_hard", "digest", "test"] as const;

function stateBadge(a: Alert) {
  const kind = a.state === "delivered" ? "ok" : a.state === "failed" ? "bad" : "warn";
  return <Badge kind={kind} title={a.last_error ?? undefined}>{a.state}</Badge>;
}

export function AlertsPage() {
  const [kind, setKind] = useState<string>("");
  const alerts = useLoad(() => get<{ alerts: Alert[] }>(`/alerts${qs({ kind, limit: 100 })}`), [kind]);
  const [run, busy, error] = useAction();
  const [queued, setQueued] = useState(false);
  const test = async () => {
    if (await run(() => post("/alerts/test", { message: "Test alert from the dashboard" }))) {
      setQueued(true);
      alerts.reload();
    }
  };
  return (
    <>
      <PageHead title="Alerts">
        <Button onClick={test} busy={busy}>Send a test alert</Button>
        <Button onClick={alerts.reload}>Refresh</Button>
      </PageHead>
      <Notice small>
        Webhooks (Slack-compatible, signed with ALERT_WEBHOOK_SECRET) go to the URLs set under <code>alerts.webhook_url*</code> on the Settings page; the cron
        delivers queued alerts every minute and retries failures with back-off.
      </Notice>
      {queued && <Notice small>Test alert queued: the next cron run sends it.</Notice>}
      <ErrorBox error={error} />
      <Section title="Outbox">
        <Field label="Kind">
          <select value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
            {KINDS.map((k) => (
              <option value={k}>{k || "all kinds"}</option>
            ))}
          </select>
        </Field>
        <Async state={alerts} what="Loading alerts">
          {(d) =>
            d.alerts.length === 0 ? (
              <Empty>No alerts yet. Node health changes, breaker openings, budget thresholds and the daily digest appear here.</Empty>
            ) : (
              <Table
                label="Alerts"
                wrap
                rows={d.alerts}
                keyOf={(a) => a.id}
                columns={[
                  ["Created", (a) => fmtDate(a.created_at), "small nowrap"],
                  ["Kind", (a) => <Badge kind="info">{a.kind}</Badge>],
                  ["Alert", (a) => String((a.event as Record<string, unknown>).title ?? a.dedup_key)],
                  ["State", stateBadge],
                  ["Attempts", (a) => a.attempts, "num"],
                  ["Last answer", (a) => (a.last_status ? String(a.last_status) : a.last_error ?? "—"), "small"],
                  ["Delivered", (a) => fmtDate(a.delivered_at ?? null), "small nowrap"],
                ]}
              />
            )
          }
        </Async>
      </Section>
    </>
  );
}

const EMPTY = { username: "", model: "" };

export function PayloadLogPage() {
  const filter = useFilters(EMPTY);
  const { filters, text } = filter;
  const items = useLoad(() => get<{ items: PayloadLogSummary[] }>(`/payload-logs${qs({ limit: 100, username: filters.username, model: filters.model })}`), [filters]);
  return (
    <>
      <PageHead title="Payload log">
        <Button onClick={items.reload}>Refresh</Button>
      </PageHead>
      <Notice small>
        Off by default. Turn it on with <code>payload_log.enabled</code> and choose users, teams or models on the Settings page; entries are deleted after{" "}
        <code>payload_log.retention_days</code>.
      </Notice>
      <Section title="Filters">
        <FilterForm apply={filter.apply} clear={filter.clear}>
          <Field label="Username">
            <input {...text("username")} />
          </Field>
          <Field label="Model">
            <input {...text("model")} />
          </Field>
        </FilterForm>
      </Section>
      <Section title="Logged requests">
        <Async state={items} what="Loading payloads">
          {(d) =>
            d.items.length === 0 ? (
              <Empty>Nothing logged.</Empty>
            ) : (
              <Table
                label="Payload log"
                wrap
                rows={d.items}
                keyOf={(i) => i.id}
                columns={[
                  ["Time", (i) => <a href={`#/payload-log/${enc(i.id)}`}>{fmtDate(i.created_at)}</a>, "small nowrap"],
                  ["User", (i) => i.username],
                  ["Model", (i) => i.model],
                  ["Endpoint", (i) => i.endpoint, "small mono"],
                  ["Status", (i) => (i.status == null ? "—" : <StatusBadge status={i.status} />)],
                  ["Request", (i) => `${fmtBytes(i.request_bytes)}${i.request_truncated ? " (cut)" : ""}`, "small"],
                  ["Answer", (i) => `${fmtBytes(i.response_bytes)}${i.response_truncated ? " (cut)" : ""}`, "small"],
                  ["Preview", (i) => <span class="mono small">{i.request_preview?.slice(0, 80)}</span>],
                ]}
              />
            )
          }
        </Async>
      </Section>
    </>
  );
}

function pretty(s: string): string {
  try {
    return JSON.stringify(JSON.parse(s), null, 2);
  } catch {
    return s;
  }
}

export function PayloadEntryPage({ id }: { id: string }) {
  const entry = useLoad(() => get<PayloadLogEntry>(`/payload-logs/${enc(id)}`), [id]);
  const [gone, setGone] = useState(false);
  return (
    <>
      <PageHead title={`Payload ${id}`}>
        <a class="btn" href="#/payload-log">Back</a>
        {!gone && <Confirm label={`Delete payload ${id}`} question="Delete this logged payload?" onConfirm={() => del(`/payload-logs/${enc(id)}`).then(() => setGone(true))}>Delete</Confirm>}
      </PageHead>
      {gone ? (
        <Notice>Deleted.</Notice>
      ) : (
        <Async state={entry} what="Loading payload">
          {(e) => (
            <>
              <Section title="Request">
                <p class="small muted">
                  {fmtDate(e.created_at)} · {e.username} · {e.model} · {e.endpoint} · status {e.status ?? "—"}
                  {e.request_truncated ? " · cut at payload_log.max_bytes" : ""}
                </p>
                <pre class="payload">{pretty(e.request)}</pre>
              </Section>
              <Section title="Answer">
                {e.response_truncated && <p class="small muted">Cut at payload_log.max_bytes.</p>}
                <pre class="payload">{pretty(e.response)}</pre>
              </Section>
            </>
          )}
        </Async>
      )}
    </>
  );
}

// Usage and cost (README "Costs"): per user, team, key, model or node, per UTC day or month,
// with the cached share of the prompt tokens. Costs are the ones stored with each record.
import { useState } from "preact/hooks";
import { get, qs } from "../api";
import type { CostReport, CostRow, Period } from "../types";
import { PERIOD_OPTIONS } from "../types";
import { Async, Empty, fmtNum, PageHead, Section, Select, Table, useLoad } from "../ui";

type By = "user" | "team" | "key" | "model" | "real_model" | "node";
const BY: [By, string][] = [
  ["user", "per user"],
  ["team", "per team"],
  ["key", "per API key"],
  ["model", "per model (as requested)"],
  ["real_model", "per real model"],
  ["node", "per node"],
];
type Bucket = "day" | "month" | "total";
const BUCKETS: [Bucket, string][] = [
  ["day", "by day"],
  ["month", "by month"],
  ["total", "whole period"],
];

const pct = (share: number) => `${(share * 100).toFixed(1)}%`;

function Stat({ label, value }: { label: string; value: string }) {
  return (
    <div class="stat" role="group" aria-label={label}>
      <div class="stat-label">{label}</div>
      <div class="stat-value">{value}</div>
    </div>
  );
}

export function CostsPage() {
  const [by, setBy] = useState<By>("user");
  const [bucket, setBucket] = useState<Bucket>("day");
  const [period, setPeriod] = useState<Period>("30d");
  const report = useLoad(() => get<CostReport>(`/costs${qs({ by, bucket, period })}`), [by, bucket, period]);
  return (
    <>
      <PageHead title="Costs">
        <Select label="Group" value={by} options={BY} onChange={setBy} />
        <Select label="Buckets" value={bucket} options={BUCKETS} onChange={setBucket} />
        <Select label="Period" value={period} options={PERIOD_OPTIONS} onChange={setPeriod} />
      </PageHead>
      <Async state={report} what="Loading costs">
        {(r) => (
          <>
            <div class="stats">
              <Stat label="Cost" value={`${r.totals.cost} ${r.currency}`} />
              <Stat label="Requests" value={fmtNum(r.totals.requests)} />
              <Stat label="Prompt tokens cached" value={pct(r.totals.cached_share)} />
            </div>
            <Section title="Usage and cost">
              {r.rows.length === 0 ? (
                <Empty>No usage in this period.</Empty>
              ) : (
                <Table<CostRow>
                  label="Costs"
                  rows={r.rows}
                  keyOf={(x) => `${x.bucket}/${x.key}`}
                  wrap
                  columns={[
                    // Headings from the answer, not the selects: they match the rows shown.
                    [r.bucket === "total" ? "Period" : r.bucket === "day" ? "Day (UTC)" : "Month (UTC)", (x) => (x.bucket === "total" ? "all" : x.bucket), "small nowrap"],
                    [BY.find(([k]) => k === r.by)?.[1].replace("per ", "") ?? r.by, (x) => x.key || <span class="muted">—</span>],
                    ["Requests", (x) => fmtNum(x.requests), "num"],
                    ["Prompt", (x) => fmtNum(x.prompt_tokens), "num"],
                    ["Cached", (x) => `${fmtNum(x.cached_tokens)} (${pct(x.cached_share)})`, "num"],
                    ["Cache writes", (x) => fmtNum(x.cache_write_tokens), "num"],
                    ["Completion", (x) => fmtNum(x.completion_tokens), "num"],
                    ["Cost", (x) => <span title={x.unpriced ? `${x.unpriced} answered requests had no price` : undefined}>{x.cost}{x.unpriced ? " *" : ""}</span>, "num"],
                  ]}
                />
              )}
              <p class="muted small">Costs in {r.currency}, as recorded with each request. * some requests had no price (they cost 0): add prices on the Prices page.</p>
            </Section>
          </>
        )}
      </Async>
    </>
  );
}

// Daily charts with uPlot, loaded on demand so pages without charts don't pay for it.
import { useEffect, useRef, useState } from "preact/hooks";
import type uPlotType from "uplot";
import { ErrorBox, Loading } from "./ui";

export interface ChartSeries {
  label: string;
  values: number[];
  color: string;
}

let lib: Promise<typeof uPlotType> | null = null;
function loadUplot() {
  lib ??= Promise.all([import("uplot"), import("uplot/dist/uPlot.min.css")]).then(([m]) => m.default);
  return lib;
}

/** One bar per day and series (dates are UTC "YYYY-MM-DD"). */
export function DailyChart({ dates, series, label, height = 220 }: { dates: string[]; series: ChartSeries[]; label: string; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const [err, setErr] = useState<unknown>(null);
  const [ready, setReady] = useState(false);

  useEffect(() => {
    let plot: uPlotType | null = null;
    let ro: ResizeObserver | null = null;
    let cancelled = false;
    loadUplot()
      .then((uPlot) => {
        if (cancelled || !box.current) return;
        const xs = dates.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
        const bars = uPlot.paths.bars!;
        const opts: uPlotType.Options = {
          width: box.current.clientWidth || 600,
          height,
          tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
          scales: { x: { time: true, range: (_u, min, max) => [min - 43200, max + 43200] } },
          axes: [
            { stroke: "#5b6475", grid: { stroke: "#eef0f4" }, values: (_u, ticks) => ticks.map((t) => new Date(t * 1000).toISOString().slice(5, 10)) },
            { stroke: "#5b6475", grid: { stroke: "#eef0f4" }, size: 60, values: (_u, ticks) => ticks.map((t) => compact(t)) },
          ],
          series: [
            { label: "Date", value: (_u, v) => (v == null ? "—" : new Date(v * 1000).toISOString().slice(0, 10)) },
            // Bars share the day's slot and overlap: callers pass the larger series first
            // (requests then errors, total then completion) so the smaller one reads as a part.
            ...series.map((s) => ({
              label: s.label,
              stroke: s.color,
              fill: s.color + "cc",
              width: 1,
              value: (_u: uPlotType, v: number | null) => (v == null ? "—" : v.toLocaleString("en-US")),
              paths: bars({ size: [0.7, 48], align: 0 }),
              points: { show: false },
            })),
          ],
          legend: { live: true },
          cursor: { points: { show: false } },
        };
        plot = new uPlot(opts, [xs, ...series.map((s) => s.values)], box.current);
        ro = new ResizeObserver(() => {
          if (plot && box.current) plot.setSize({ width: box.current.clientWidth, height });
        });
        ro.observe(box.current);
        setReady(true);
      })
      .catch(setErr);
    return () => {
      cancelled = true;
      ro?.disconnect();
      plot?.destroy();
    };
  }, [dates.join(","), JSON.stringify(series), height]);

  return (
    <figure class="chart" aria-label={label}>
      {err ? <ErrorBox error={err} /> : null}
      {!ready && !err && <Loading what="Drawing chart" />}
      <div ref={box} />
    </figure>
  );
}

function compact(n: number): string {
  if (Math.abs(n) >= 1e9) return `${+(n / 1e9).toFixed(1)}B`;
  if (Math.abs(n) >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (Math.abs(n) >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return String(+n.toFixed(2));
}

/** Horizontal bars for top lists: plain HTML, readable without a chart library. */
export function BarList({ rows, label }: { rows: { name: string; value: number; detail?: string }[]; label: string }) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  return (
    <ul class="barlist" aria-label={label}>
      {rows.map((r) => (
        <li key={r.name}>
          <span class="bar-name" title={r.name}>
            {r.name}
          </span>
          <span class="bar-track">
            <span class="bar-fill" style={{ width: `${(100 * r.value) / max}%` }} />
          </span>
          <span class="bar-value">{r.detail ?? r.value.toLocaleString("en-US")}</span>
        </li>
      ))}
    </ul>
  );
}

// Small statistics helpers (nearest-rank percentiles on sorted copies).
export function pct(values, p) {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
}
export const median = (v) => pct(v, 50);
export const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
export const round = (x, d = 3) => (Number.isFinite(x) ? Number(x.toFixed(d)) : null);
export function summary(values) {
  return { n: values.length, p50: round(pct(values, 50)), p90: round(pct(values, 90)), p99: round(pct(values, 99)), mean: round(mean(values)), min: round(Math.min(...values)), max: round(Math.max(...values)) };
}

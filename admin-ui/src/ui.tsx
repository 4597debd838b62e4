// Shared building blocks: data loading with errors kept in place, dialogs, switches, copy
// buttons, drag-and-drop ordering with keyboard-friendly fallbacks, pagination, formatting.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useId, useRef, useState } from "preact/hooks";
import { ApiError } from "./api";

// ---------- routing (hash based: works on Pages and any static server without rewrites) ----------

export function currentPath(): string {
  return location.hash.replace(/^#/, "") || "/";
}

export function navigate(path: string) {
  if (currentPath() !== path) location.hash = path;
}

export function useRoute(): string {
  const [path, setPath] = useState(currentPath());
  useEffect(() => {
    const on = () => setPath(currentPath());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return path;
}

// ---------- data ----------

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => Promise<void>;
  setData: (d: T) => void;
}

/** Load once per deps change; keeps the last data while reloading so tables don't flicker. */
export function useLoad<T>(loader: () => Promise<T>, deps: unknown[] = []): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const reload = useCallback(async () => {
    const my = ++seq.current;
    setLoading(true);
    try {
      const d = await loader();
      if (my === seq.current) {
        setData(d);
        setError(null);
      }
    } catch (e) {
      if (my === seq.current) setError(e);
    } finally {
      if (my === seq.current) setLoading(false);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    reload();
  }, [reload]);
  return { data, error, loading, reload, setData };
}

/**
 * Local state seeded from server data and reset when that data changes later. Not on mount: an
 * effect that re-seeded then could undo a click made before it ran.
 */
export function useSynced<T>(source: T, deps: unknown[]): [T, (v: T) => void] {
  const [value, setValue] = useState(source);
  const mounted = useRef(false);
  useEffect(() => {
    if (!mounted.current) {
      mounted.current = true;
      return;
    }
    setValue(source);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return [value, setValue];
}

/** Run a mutation with a busy flag and an error to show next to the control that started it. */
export function useAction(): [(fn: () => Promise<unknown>) => Promise<boolean>, boolean, unknown, (e: unknown) => void] {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = useCallback(async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return [run, busy, error, setError];
}

// ---------- feedback ----------

export function ErrorBox({ error, label }: { error: unknown; label?: string }) {
  if (!error) return null;
  const e = error as ApiError;
  const status = e instanceof ApiError ? e.status : undefined;
  const missingRoute = status === 404 && /no admin route/i.test(e.message);
  return (
    <div class="error" role="alert">
      {label && <strong>{label}: </strong>}
      {status ? <span class="mono">HTTP {status}{e.method ? ` · ${e.method} /admin${e.path ?? ""}` : ""} — </span> : null}
      <span>{e.message ?? String(error)}</span>
      {e.field && <span> (field: <code>{e.field}</code>)</span>}
      {e.retryAfter && <span> Retry after {e.retryAfter}s.</span>}
      {missingRoute && <div class="hint">This gateway does not serve this admin endpoint yet; the section stays empty until it does.</div>}
    </div>
  );
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <div class="loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" /> {what}…
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}

/** Loading / error / content for one section, so one failing endpoint never blanks the page. */
export function Async<T>({ state, children, what }: { state: Loaded<T>; children: (d: T) => ComponentChildren; what?: string }) {
  if (state.error) return <ErrorBox error={state.error} />;
  if (state.data === undefined) return state.loading ? <Loading what={what} /> : null;
  return <>{children(state.data)}</>;
}

export function Section({ title, actions, children, id }: { title: ComponentChildren; actions?: ComponentChildren; children: ComponentChildren; id?: string }) {
  const hid = useId();
  return (
    <section class="card" aria-labelledby={hid} id={id}>
      <header class="card-head">
        <h2 id={hid}>{title}</h2>
        {actions && <div class="actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

export function PageHead({ title, children }: { title: string; children?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${title} · Maestro Edge admin`;
  }, [title]);
  return (
    <div class="page-head">
      <h1>{title}</h1>
      {children && <div class="actions">{children}</div>}
    </div>
  );
}

export function Badge({ kind = "", children, title }: { kind?: string; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge ${kind}`} title={title}>
      {children}
    </span>
  );
}

export function HealthBadge({ status }: { status: string }) {
  const kind = status === "healthy" ? "ok" : status === "unhealthy" ? "bad" : "muted";
  return <Badge kind={kind}>{status}</Badge>;
}

export function StatusBadge({ status }: { status: number }) {
  const kind = status < 300 ? "ok" : status < 500 ? "warn" : "bad";
  return <Badge kind={kind}>{status}</Badge>;
}

// ---------- controls ----------

export function Button({ onClick, busy, children, kind = "", label, disabled, type = "button", title }: { onClick?: () => void; busy?: boolean; children: ComponentChildren; kind?: string; label?: string; disabled?: boolean; type?: "button" | "submit"; title?: string }) {
  return (
    <button type={type} class={`btn ${kind}`} onClick={onClick} disabled={disabled || busy} aria-label={label} aria-busy={busy ? "true" : undefined} title={title}>
      {busy && <span class="spinner small" aria-hidden="true" />}
      {children}
    </button>
  );
}

export function Switch({ checked, onChange, label, disabled, showLabel = false }: { checked: boolean; onChange: (v: boolean) => void; label: string; disabled?: boolean; showLabel?: boolean }) {
  return (
    <label class="switch" title={label}>
      <input type="checkbox" role="switch" aria-label={label} checked={checked} disabled={disabled} onChange={(e) => onChange((e.target as HTMLInputElement).checked)} />
      <span class="track" aria-hidden="true" />
      {showLabel && <span class="switch-label">{label}</span>}
    </label>
  );
}

/** A switch that saves itself: shows progress while saving and the API's error beside it. */
export function SavingSwitch({ checked, label, save, onSaved }: { checked: boolean; label: string; save: (v: boolean) => Promise<unknown>; onSaved?: () => void }) {
  const [run, busy, error] = useAction();
  const [value, setValue] = useSynced(checked, [checked]);
  return (
    <span class="saving-switch">
      <Switch
        checked={value}
        label={label}
        disabled={busy}
        onChange={async (v) => {
          setValue(v);
          const ok = await run(() => save(v));
          if (!ok) setValue(!v);
          else onSaved?.();
        }}
      />
      {busy && <span class="spinner small" aria-label="Saving" />}
      <ErrorBox error={error} />
    </span>
  );
}

export function Field({ label, children, hint, error }: { label: string; children: ComponentChildren; hint?: ComponentChildren; error?: string | null }) {
  return (
    // Hint and error sit outside the <label> so the control's accessible name is just the label.
    <div class={`field ${error ? "invalid" : ""}`}>
      <label>
        <span class="field-label">{label}</span>
        {children}
      </label>
      {hint && <span class="hint">{hint}</span>}
      {error && <span class="field-error">{error}</span>}
    </div>
  );
}

/** Field error for the control the API named in `error.field`. */
export function fieldError(error: unknown, field: string): string | null {
  return error instanceof ApiError && error.field === field ? error.message : null;
}

export function Modal({ title, open, onClose, children, wide }: { title: string; open: boolean; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const hid = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  if (!open) return null;
  return (
    <dialog
      ref={ref}
      class={wide ? "wide" : ""}
      aria-labelledby={hid}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <header class="dialog-head">
        <h2 id={hid}>{title}</h2>
        <button type="button" class="btn ghost" aria-label="Close dialog" onClick={onClose}>
          ✕
        </button>
      </header>
      <div class="dialog-body">{children}</div>
    </dialog>
  );
}

export async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Clipboard API refused (no permission, insecure origin): the old selection trick still works.
    const ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.style.position = "fixed";
    ta.style.opacity = "0";
    document.body.appendChild(ta);
    ta.select();
    document.execCommand("copy");
    ta.remove();
  }
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="btn small"
      aria-label={label}
      onClick={async () => {
        await copyText(text);
        setDone(true);
        setTimeout(() => setDone(false), 1500);
      }}
    >
      {done ? "Copied ✓" : "Copy"}
    </button>
  );
}

export function CodeBlock({ code, label }: { code: string; label: string }) {
  return (
    <div class="code">
      <pre aria-label={label}>
        <code>{code}</code>
      </pre>
      <CopyButton text={code} label={`Copy ${label}`} />
    </div>
  );
}

export function Select<T extends string>({ value, options, onChange, label }: { value: T; options: readonly (T | [T, string])[]; onChange: (v: T) => void; label: string }) {
  return (
    <select aria-label={label} value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value as T)}>
      {options.map((o) => {
        const [v, text] = Array.isArray(o) ? o : [o, o];
        return (
          <option key={v} value={v}>
            {text}
          </option>
        );
      })}
    </select>
  );
}

export function Confirm({ label, question, onConfirm, kind = "danger", size = "small", children }: { label: string; question: string; onConfirm: () => Promise<unknown>; kind?: string; size?: string; children?: ComponentChildren }) {
  const [run, busy, error] = useAction();
  return (
    <span class="inline-action">
      <Button
        kind={`${size} ${kind}`}
        label={label}
        busy={busy}
        onClick={() => {
          if (confirm(question)) run(onConfirm);
        }}
      >
        {children ?? label}
      </Button>
      <ErrorBox error={error} />
    </span>
  );
}

export function Tabs({ tabs, value, onChange, label }: { tabs: [string, string][]; value: string; onChange: (v: string) => void; label: string }) {
  return (
    <div class="tabs" role="tablist" aria-label={label}>
      {tabs.map(([v, text]) => (
        <button key={v} type="button" role="tab" aria-selected={value === v} class={value === v ? "active" : ""} onClick={() => onChange(v)}>
          {text}
        </button>
      ))}
    </div>
  );
}

// ---------- ordering ----------

/**
 * A list the admin reorders by dragging (HTML5 drag and drop) or with the move buttons, which
 * also serve keyboards and screen readers. `onReorder` gets the new order; the caller saves it.
 */
export function SortableList<T>({ items, keyOf, nameOf, render, onReorder, busy }: { items: T[]; keyOf: (t: T) => string | number; nameOf: (t: T) => string; render: (t: T, i: number) => ComponentChildren; onReorder: (items: T[]) => void; busy?: boolean }) {
  const [dragging, setDragging] = useState<number | null>(null);
  const [over, setOver] = useState<number | null>(null);
  const move = (from: number, to: number) => {
    if (to < 0 || to >= items.length || from === to) return;
    const next = items.slice();
    const [it] = next.splice(from, 1);
    next.splice(to, 0, it);
    onReorder(next);
  };
  return (
    <ol class={`sortable ${busy ? "busy" : ""}`}>
      {items.map((it, i) => (
        <li
          key={keyOf(it)}
          draggable={!busy}
          data-name={nameOf(it)}
          class={`${dragging === i ? "dragging" : ""} ${over === i && dragging !== null && dragging !== i ? "drop-target" : ""}`}
          onDragStart={(e: DragEvent) => {
            setDragging(i);
            e.dataTransfer?.setData("text/plain", String(i));
            if (e.dataTransfer) e.dataTransfer.effectAllowed = "move";
          }}
          onDragOver={(e) => {
            e.preventDefault();
            setOver(i);
          }}
          onDragLeave={() => setOver((o) => (o === i ? null : o))}
          onDrop={(e: DragEvent) => {
            e.preventDefault();
            const from = dragging ?? Number(e.dataTransfer?.getData("text/plain"));
            setDragging(null);
            setOver(null);
            if (!Number.isNaN(from)) move(from, i);
          }}
          onDragEnd={() => {
            setDragging(null);
            setOver(null);
          }}
        >
          <span class="grip" aria-hidden="true" title="Drag to reorder">
            ⋮⋮
          </span>
          <div class="sortable-body">{render(it, i)}</div>
          <span class="move">
            <button type="button" class="btn ghost small" aria-label={`Move ${nameOf(it)} up`} disabled={busy || i === 0} onClick={() => move(i, i - 1)}>
              ↑
            </button>
            <button type="button" class="btn ghost small" aria-label={`Move ${nameOf(it)} down`} disabled={busy || i === items.length - 1} onClick={() => move(i, i + 1)}>
              ↓
            </button>
          </span>
        </li>
      ))}
    </ol>
  );
}

// ---------- tables ----------

export function Pagination({ total, limit, offset, onChange }: { total: number; limit: number; offset: number; onChange: (offset: number) => void }) {
  const page = Math.floor(offset / limit) + 1;
  const pages = Math.max(1, Math.ceil(total / limit));
  return (
    <nav class="pagination" aria-label="Pagination">
      <button type="button" class="btn small" aria-label="Previous page" disabled={offset <= 0} onClick={() => onChange(Math.max(0, offset - limit))}>
        ← Previous
      </button>
      <span>
        Page {page} of {pages} · {fmtNum(total)} rows
      </span>
      <button type="button" class="btn small" aria-label="Next page" disabled={offset + limit >= total} onClick={() => onChange(offset + limit)}>
        Next →
      </button>
    </nav>
  );
}

// ---------- formatting ----------

const nf = new Intl.NumberFormat("en-US");
export const fmtNum = (n: number | null | undefined) => (n === null || n === undefined ? "—" : nf.format(n));
export const fmtMs = (n: number | null | undefined) => (n === null || n === undefined ? "—" : n >= 10000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`);
export function fmtDate(s: string | null | undefined): string {
  if (!s) return "—";
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toLocaleString("en-GB", { year: "numeric", month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}
export function fmtBytes(n: number | null | undefined): string {
  if (!n) return "—";
  const u = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v >= 10 || i === 0 ? 0 : 1)} ${u[i]}`;
}
export function fmtCtx(n: number | null | undefined): string {
  if (!n) return "—";
  if (n >= 1_000_000 && n % 1_000_000 === 0) return `${n / 1_000_000}M`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024}K`;
  return fmtNum(n);
}

/** Parse a list typed one per line or comma separated. */
export function parseList(s: string): string[] {
  return s
    .split(/[\n,]/)
    .map((x) => x.trim())
    .filter(Boolean);
}

/** Optional integer input: blank means "not set" (null), which the API reads as unlimited/default. */
export function optInt(s: string): number | null {
  const t = s.trim();
  if (!t) return null;
  const n = Number(t);
  return Number.isFinite(n) ? Math.trunc(n) : (t as unknown as number);
}

export const inputValue = (e: Event) => (e.target as HTMLInputElement).value;
export const inputChecked = (e: Event) => (e.target as HTMLInputElement).checked;

// How a page shows state: errors in place, loading, empty lists, sections and badges.
import type { ComponentChildren } from "preact";
import { useEffect, useId } from "preact/hooks";
import { ApiError } from "../api";
import type { Loaded } from "./hooks";

export function ErrorBox({ error, label }: { error: unknown; label?: string }) {
  if (!error) return null;
  const e = error as ApiError;
  const status = e instanceof ApiError ? e.status : undefined;
  const missingRoute = status === 404 && /no admin route/i.test(e.message);
  return (
    <div class="error" role="alert">
      {label && <strong>{label}: </strong>}
      {status ? (
        <span class="mono">
          HTTP {status}
          {e.method ? ` · ${e.method} /admin${e.path ?? ""}` : ""} —{" "}
        </span>
      ) : null}
      <span>{e.message ?? String(error)}</span>
      {e.field && (
        <span>
          {" "}
          (field: <code>{e.field}</code>)
        </span>
      )}
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

/** A result line ("Discovered 2 models") announced to screen readers. */
export function Notice({ children, small }: { children: ComponentChildren; small?: boolean }) {
  if (!children) return null;
  return (
    <div class={small ? "small ok-text" : "notice"} role="status">
      {children}
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

/** Tags shown as muted badges (capabilities, tools). */
export function Tags({ items }: { items: readonly string[] | null | undefined }) {
  return (
    <>
      {(items ?? []).map((t) => (
        <Badge key={t} kind="muted">
          {t}
        </Badge>
      ))}
    </>
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

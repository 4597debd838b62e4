// Admin API client. The dashboard is a static site on another origin than the gateway, so
// every call is a CORS request with the session token as a bearer header (no cookies).

const BASE_KEY = "maestro.apiBase";
const SESSION_KEY = "maestro.session";

export interface Session {
  token: string;
  username: string;
  expires_at: string;
  /** Signed in through Cloudflare Access: no token; the browser's Access cookie goes along
   * and Access adds its assertion to every admin call. */
  access?: boolean;
}

/** An error the admin API answered (or a network failure, status 0), shown where it happened. */
export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    public type?: string,
    public field?: string,
    public method?: string,
    public path?: string,
    public retryAfter?: string,
  ) {
    super(message);
  }
}

/**
 * Precedence: what the admin typed on the login page, then a <meta name="maestro-api-base"> in
 * index.html (the dev server stamps it), then VITE_API_BASE at build time, then same origin.
 */
export function apiBase(): string {
  const saved = localStorage.getItem(BASE_KEY);
  if (saved) return saved;
  return defaultApiBase();
}

export function defaultApiBase(): string {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="maestro-api-base"]')?.content ?? "";
  const built = (import.meta.env.VITE_API_BASE as string | undefined) ?? "";
  return (meta || built || location.origin).replace(/\/+$/, "");
}

export function setApiBase(url: string) {
  const clean = url.trim().replace(/\/+$/, "");
  if (!clean || clean === defaultApiBase()) localStorage.removeItem(BASE_KEY);
  else localStorage.setItem(BASE_KEY, clean);
}

export function getSession(): Session | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? "null") as Session | null;
    if (!s?.token && !s?.access) return null;
    return s;
  } catch {
    return null;
  }
}

export function sessionExpired(s: Session | null = getSession()): boolean {
  return !!s && !!s.expires_at && Date.parse(s.expires_at) <= Date.now();
}

function setSession(s: Session | null) {
  if (s) sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  else sessionStorage.removeItem(SESSION_KEY);
}

type Listener = (message: string) => void;
let onUnauthorized: Listener = () => {};
/** The app registers how to get back to the login page when a call answers 401. */
export function setUnauthorizedHandler(fn: Listener) {
  onUnauthorized = fn;
}

async function parseError(r: Response, method: string, path: string): Promise<ApiError> {
  const text = await r.text().catch(() => "");
  let message = text || `${r.status} ${r.statusText}`;
  let type: string | undefined;
  let field: string | undefined;
  try {
    const j = JSON.parse(text);
    const e = j?.error;
    if (e && typeof e === "object") {
      message = e.message ?? message;
      type = e.type;
      field = e.field ?? undefined;
    } else if (typeof e === "string") {
      message = e;
    }
  } catch {
    // Not JSON (a proxy's HTML page, say): keep the raw text so the admin sees what came back.
    if (message.length > 300) message = message.slice(0, 300) + "…";
  }
  return new ApiError(r.status, message, type, field, method, path, r.headers.get("retry-after") ?? undefined);
}

async function send(method: string, path: string, body?: unknown, auth = true): Promise<Response> {
  const base = apiBase();
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  const s = getSession();
  if (auth && s && !s.access) headers.authorization = `Bearer ${s.token}`;
  const credentials: RequestCredentials = (auth && s?.access) || path === "/auth/me" ? "include" : "same-origin";
  try {
    return await fetch(`${base}/admin${path}`, { method, headers, credentials, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    // fetch only throws when no answer could be read: gateway down, wrong URL, or CORS refused.
    throw new ApiError(0, `Could not reach the admin API at ${base} (${(e as Error).message}). Is the gateway running, and is this page's origin (${location.origin}) listed in ADMIN_UI_ORIGINS?`, "network_error", undefined, method, path);
  }
}

function handle401(err: ApiError) {
  if (err.status === 401 && getSession()) {
    setSession(null);
    onUnauthorized(sessionExpired() ? "Your session expired. Please sign in again." : `Signed out: ${err.message}`);
  }
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const r = await send(method, path, body);
  if (!r.ok) {
    const err = await parseError(r, method, path);
    handle401(err);
    throw err;
  }
  if (r.status === 204) return null as T;
  const text = await r.text();
  return (text ? JSON.parse(text) : null) as T;
}

export const get = <T>(path: string) => api<T>("GET", path);
export const post = <T>(path: string, body: unknown = {}) => api<T>("POST", path, body);
export const put = <T>(path: string, body: unknown = {}) => api<T>("PUT", path, body);
export const patch = <T>(path: string, body: unknown = {}) => api<T>("PATCH", path, body);
export const del = <T>(path: string) => api<T>("DELETE", path);

/** Build a query string, leaving out empty values so filters stay optional. */
export function qs(params: Record<string, string | number | boolean | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
}

export const enc = encodeURIComponent;

/**
 * POST and read an NDJSON answer line by line (model pulls). Resolves when the stream ends;
 * lines carrying `error` are passed to onLine like any other so the caller decides.
 */
export async function postNdjson(path: string, body: unknown, onLine: (line: Record<string, unknown>) => void, signal?: AbortSignal): Promise<void> {
  const base = apiBase();
  const s = getSession();
  let r: Response;
  try {
    r = await fetch(`${base}/admin${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(s ? { authorization: `Bearer ${s.token}` } : {}) },
      body: JSON.stringify(body),
      signal,
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, `Could not reach the admin API at ${base} (${(e as Error).message})`, "network_error", undefined, "POST", path);
  }
  if (!r.ok) {
    const err = await parseError(r, "POST", path);
    handle401(err);
    throw err;
  }
  if (!r.body) return;
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (value) buf += value;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) onLine(parseLine(line));
    }
    if (done) break;
  }
  if (buf.trim()) onLine(parseLine(buf.trim()));
}

function parseLine(line: string): Record<string, unknown> {
  try {
    return JSON.parse(line);
  } catch {
    return { error: `unreadable progress line: ${line.slice(0, 200)}` };
  }
}

export async function login(username: string, password: string): Promise<Session> {
  const r = await send("POST", "/auth/login", { username, password }, false);
  if (!r.ok) throw await parseError(r, "POST", "/auth/login");
  const j = (await r.json()) as Session;
  const s = { token: j.token, username: j.username, expires_at: j.expires_at };
  setSession(s);
  return s;
}

/** Sign in through Cloudflare Access: the gateway reads the assertion Access adds when the
 * browser's Access cookie for the gateway goes along (credentials: include). */
export async function accessLogin(): Promise<Session> {
  const r = await send("GET", "/auth/me", undefined, false);
  if (!r.ok) throw await parseError(r, "GET", "/auth/me");
  const j = (await r.json()) as { actor: string };
  const s: Session = { token: "", username: j.actor, expires_at: "", access: true };
  setSession(s);
  return s;
}

export async function logout(): Promise<void> {
  if (getSession()?.access) {
    // Access keeps its own session (end it at /cdn-cgi/access/logout); forget ours.
    setSession(null);
    return;
  }
  try {
    // Best effort: the token is forgotten locally whatever the server says.
    await api("POST", "/auth/logout");
  } finally {
    setSession(null);
  }
}

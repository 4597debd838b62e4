// The user page (#/me): a user signs in with one of their own API keys (no admin session) and
// sees GET /v1/me read-only, plus the client setup filled in for them. The key stays in this
// tab's sessionStorage and goes only to the gateway.
import { useState } from "preact/hooks";
import { apiBase } from "../api";
import { Async, Badge, Button, CodeBlock, Empty, ErrorBox, Field, fmtDate, fmtNum, inputValue, Section, useLoad } from "../ui";

const KEY = "maestro.userKey";

interface Rule {
  window: string;
  request_limit: number | null;
  requests_used: number;
  requests_remaining: number | null;
  token_limit: number | null;
  tokens_used: number;
  tokens_remaining: number | null;
  resets_at_ms: number;
}
interface Usage {
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}
interface MeKey {
  id: number;
  label: string;
  hint: string;
  primary: boolean;
  status: string;
  last_used_at: string | null;
  expires_at: string | null;
  created_at: string;
  current: boolean;
}
export interface Me {
  username: string;
  teams: { name: string; models: string[] | "all"; request_limit: number | null; token_limit: number | null }[];
  models: string[];
  all_models: boolean;
  limits: { level: string; scope: string; available: boolean; rules: Rule[] }[];
  usage: { today: Usage; month: Usage };
  keys: MeKey[];
}

async function loadMe(key: string): Promise<Me> {
  let r: Response;
  try {
    r = await fetch(`${apiBase()}/v1/me`, { headers: { authorization: `Bearer ${key}` } });
  } catch (e) {
    throw new Error(`Could not reach the gateway at ${apiBase()} (${(e as Error).message}).`);
  }
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new Error(body?.error?.message ?? `The gateway answered ${r.status}.`);
  return body as Me;
}

export function MePage() {
  const [key, setKey] = useState(sessionStorage.getItem(KEY) ?? "");
  if (!key) {
    return (
      <main class="content narrow">
        <MeLogin
          onKey={(k) => {
            sessionStorage.setItem(KEY, k);
            setKey(k);
          }}
        />
      </main>
    );
  }
  return (
    <main class="content">
      <MeView
        apiKey={key}
        onSignOut={() => {
          sessionStorage.removeItem(KEY);
          setKey("");
        }}
      />
    </main>
  );
}

function MeLogin({ onKey }: { onKey: (k: string) => void }) {
  const [k, setK] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <div class="card login">
      <h1>Your gateway account</h1>
      <p class="muted">Sign in with one of your API keys to see your models, limits, usage and keys, and how to set up your tools. Nothing here can change anything.</p>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          try {
            await loadMe(k.trim());
            onKey(k.trim());
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <Field label="API key">
          <input class="mono" type="password" autocomplete="off" value={k} onInput={(e) => setK(inputValue(e))} required />
        </Field>
        <ErrorBox error={error} />
        <Button type="submit" kind="primary" busy={busy}>
          Sign in with key
        </Button>
      </form>
      <p class="muted small">
        Admins sign in <a href="#/login">here</a>.
      </p>
    </div>
  );
}

const limitText = (n: number | null) => (n === null ? "—" : fmtNum(n));

function MeView({ apiKey, onSignOut }: { apiKey: string; onSignOut: () => void }) {
  const me = useLoad(() => loadMe(apiKey), [apiKey]);
  return (
    <>
      <header class="page-head">
        <h1>{me.data ? `Hello, ${me.data.username}` : "Your account"}</h1>
        <div class="row">
          <Button onClick={me.reload}>Refresh</Button>
          <Button onClick={onSignOut}>Sign out</Button>
        </div>
      </header>
      <Async state={me} what="Loading your account">
        {(m) => (
          <>
            <Section title="Access">
              <dl class="facts">
                <dt>Teams</dt>
                <dd>{m.teams.length ? m.teams.map((t) => t.name).join(", ") : <span class="muted">none</span>}</dd>
                <dt>Models</dt>
                <dd aria-label="Your models">{m.models.length ? m.models.join(", ") : <span class="muted">none yet: ask an admin</span>}</dd>
              </dl>
            </Section>
            <Section title="Limits today (UTC)">
              {m.limits.length === 0 ? (
                <Empty>No daily limits apply to you.</Empty>
              ) : (
                <table aria-label="Your limits">
                  <thead>
                    <tr>
                      <th>Level</th>
                      <th>Requests</th>
                      <th>Requests left</th>
                      <th>Tokens</th>
                      <th>Tokens left</th>
                    </tr>
                  </thead>
                  <tbody>
                    {m.limits.map((l) =>
                      l.rules.map((r) => (
                        <tr key={l.scope + r.window}>
                          <td>{l.level}</td>
                          <td>{limitText(r.request_limit)}</td>
                          <td>{limitText(r.requests_remaining)}</td>
                          <td>{limitText(r.token_limit)}</td>
                          <td>{limitText(r.tokens_remaining)}</td>
                        </tr>
                      )),
                    )}
                  </tbody>
                </table>
              )}
            </Section>
            <Section title="Usage">
              <div class="stats">
                {(["today", "month"] as const).map((p) => (
                  <div class="stat" key={p}>
                    <div class="stat-label">{p === "today" ? "Today" : "This month"}</div>
                    <div class="stat-value">{fmtNum(m.usage[p].requests)} {m.usage[p].requests === 1 ? "request" : "requests"}</div>
                    <div class="stat-sub">{fmtNum(m.usage[p].total_tokens)} tokens</div>
                  </div>
                ))}
              </div>
              <p class="muted small">Usage and last use trail real use by up to about a minute.</p>
            </Section>
            <Section title="Your keys">
              <table aria-label="Your keys">
                <thead>
                  <tr>
                    <th>Label</th>
                    <th>Key</th>
                    <th>Status</th>
                    <th>Last used</th>
                    <th>Expires</th>
                  </tr>
                </thead>
                <tbody>
                  {m.keys.map((k) => (
                    <tr key={k.id}>
                      <td>
                        {k.label || "—"} {k.current && <Badge kind="info">this key</Badge>}
                      </td>
                      <td class="mono small">{k.hint}</td>
                      <td>{k.status}</td>
                      <td class="small">{k.last_used_at ? fmtDate(k.last_used_at) : "never"}</td>
                      <td class="small">{k.expires_at ? fmtDate(k.expires_at) : "never"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </Section>
            <Setup me={m} apiKey={apiKey} />
          </>
        )}
      </Async>
    </>
  );
}

function Setup({ me, apiKey }: { me: Me; apiKey: string }) {
  const gw = apiBase();
  const [model, setModel] = useState(me.models[0] ?? "");
  const m = model || "<model>";
  return (
    <Section title="Set up your tools">
      {me.models.length > 1 && (
        <Field label="Model for the examples">
          <select value={model} onChange={(e) => setModel(inputValue(e))}>
            {me.models.map((x) => (
              <option key={x}>{x}</option>
            ))}
          </select>
        </Field>
      )}
      <h3>Claude Code</h3>
      <CodeBlock label="Claude Code environment" code={`export ANTHROPIC_BASE_URL="${gw}"\nexport ANTHROPIC_AUTH_TOKEN="${apiKey}"\nexport ANTHROPIC_MODEL="${m}"\nexport ANTHROPIC_DEFAULT_HAIKU_MODEL="${m}"\nclaude`} />
      <p class="muted small">
        With a key that rotates, keep it in a file and set <code>"apiKeyHelper": "cat ~/.config/maestro/key"</code> in <code>~/.claude/settings.json</code> instead of <code>ANTHROPIC_AUTH_TOKEN</code>.
      </p>
      <h3>Codex</h3>
      <CodeBlock label="Codex config.toml" code={`model = "${m}"\nmodel_provider = "maestro"\n\n[model_providers.maestro]\nname = "Maestro Edge"\nbase_url = "${gw}/v1"\nenv_key = "MAESTRO_API_KEY"\nwire_api = "responses"`} />
      <CodeBlock label="Codex environment" code={`export MAESTRO_API_KEY="${apiKey}"\ncodex`} />
      <h3>OpenAI-compatible tools (Cursor, Continue, Open WebUI, SDKs)</h3>
      <CodeBlock label="OpenAI base URL and key" code={`base URL: ${gw}/v1\nAPI key:  ${apiKey}`} />
      <CodeBlock label="Try it with curl" code={`curl ${gw}/v1/chat/completions -H "Authorization: Bearer ${apiKey}" -H "Content-Type: application/json" \\\n  -d '{"model":"${m}","messages":[{"role":"user","content":"hello"}]}'`} />
    </Section>
  );
}

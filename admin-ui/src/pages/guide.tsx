import { useEffect, useState } from "preact/hooks";
import { apiBase, enc, get, put } from "../api";
import { loadNames } from "../shared";
import type { User } from "../types";
import { Async, CodeBlock, Confirm, Empty, ErrorBox, Field, inputValue, PageHead, Section, useLoad } from "../ui";

export function GuidePage() {
  const users = useLoad(() => get<{ users: User[] }>("/users"));
  const names = useLoad(loadNames);
  const [username, setUsername] = useState("");
  const [token, setToken] = useState("");
  const [gateway, setGateway] = useState(apiBase());
  const [model, setModel] = useState("");

  const user = users.data?.users.find((u) => u.username === username);
  const models = user ? (user.has_all_models ? [...new Set([...(names.data?.mappings ?? []), ...(names.data?.groups ?? []), ...(names.data?.models ?? [])])] : user.models) : [];
  useEffect(() => {
    if (!username && users.data?.users.length) setUsername(users.data.users[0].username);
  }, [users.data]);
  useEffect(() => {
    if (models.length && !models.includes(model)) setModel(models[0]);
  }, [username, models.join(",")]);
  useEffect(() => setToken(""), [username]);

  const gw = gateway.replace(/\/+$/, "");
  const tok = token || `<token of ${username || "the user"}>`;
  const m = model || "<model>";

  return (
    <>
      <PageHead title="Guide" />
      <Section title="Who is this for?">
        <Async state={users} what="Loading users">
          {(d) =>
            d.users.length === 0 ? (
              <Empty>
                No users yet. <a href="#/users">Create a user</a> first; the guide then fills in their details.
              </Empty>
            ) : (
              <div class="row wrap">
                <Field label="User">
                  <select value={username} onChange={(e) => setUsername(inputValue(e))}>
                    {d.users.map((u) => (
                      <option key={u.username} value={u.username}>
                        {u.username}
                      </option>
                    ))}
                  </select>
                </Field>
                <Field label="Gateway URL" hint="As the user's machine reaches it (the public Worker URL in production)">
                  <input type="url" value={gateway} onInput={(e) => setGateway(inputValue(e))} />
                </Field>
                <Field label="Model" hint={user?.has_all_models ? "This user may call every model" : "From this user's allow-list"}>
                  {models.length ? (
                    <select value={model} onChange={(e) => setModel(inputValue(e))}>
                      {models.map((x) => (
                        <option key={x} value={x}>
                          {x}
                        </option>
                      ))}
                    </select>
                  ) : (
                    <input value={model} onInput={(e) => setModel(inputValue(e))} placeholder="no models allowed yet" />
                  )}
                </Field>
              </div>
            )
          }
        </Async>
        <ErrorBox error={names.error} label="Model names" />
        {user && (
          <div class="row wrap">
            <Field label="User token" hint="Tokens are shown once at creation. Paste it here, or issue a new one (the old one stops working).">
              <input class="mono" value={token} onInput={(e) => setToken(inputValue(e))} placeholder={`token prefix ${user.token_prefix ?? "?"}…`} />
            </Field>
            <Confirm
              label="Issue a new token"
              kind=""
              size=""
              question={`Issue a new token for ${username}? Their current token stops working at once.`}
              onConfirm={async () => {
                const r = await put<{ token: string }>(`/users/${enc(username)}/token`);
                setToken(r.token);
              }}
            />
          </div>
        )}
        {user && !user.has_all_models && user.models.length === 0 && (
          <p class="warn-text">
            {username} may not call any model yet. Grant models on <a href={`#/users/${enc(username)}`}>their page</a>.
          </p>
        )}
      </Section>

      <Section title="Cursor">
        <ol class="steps">
          <li>Cursor Settings → Models → API Keys.</li>
          <li>
            Paste the token into <em>OpenAI API Key</em> and turn on <em>Override OpenAI Base URL</em> with the URL below.
          </li>
          <li>
            Add a custom model named <code>{m}</code> and select it.
          </li>
        </ol>
        <CodeBlock label="Cursor base URL" code={`${gw}/v1`} />
        <CodeBlock label="Cursor API key" code={tok} />
        <p class="muted small">Cursor sends these requests from its own servers, so the gateway URL must be reachable from the internet (a workers.dev or custom domain is; 127.0.0.1 is not).</p>
      </Section>

      <Section title="Claude Code">
        <p>Set these in the shell that starts <code>claude</code> (or under <code>env</code> in <code>~/.claude/settings.json</code>). Claude Code then calls <code>POST {gw}/v1/messages</code> with the token as a bearer header.</p>
        <CodeBlock
          label="Claude Code environment"
          code={`export ANTHROPIC_BASE_URL="${gw}"
export ANTHROPIC_AUTH_TOKEN="${tok}"
export ANTHROPIC_MODEL="${m}"
export ANTHROPIC_DEFAULT_HAIKU_MODEL="${m}"
claude`}
        />
        <p class="muted small">
          Use <code>ANTHROPIC_AUTH_TOKEN</code> (sent as <code>Authorization: Bearer</code>), not <code>ANTHROPIC_API_KEY</code>. <code>ANTHROPIC_DEFAULT_HAIKU_MODEL</code> covers the background tasks Claude Code runs on its small model.
        </p>
      </Section>

      <Section title="Codex">
        <p>
          In <code>~/.codex/config.toml</code> (Codex speaks the OpenAI Responses API, <code>POST {gw}/v1/responses</code>):
        </p>
        <CodeBlock
          label="Codex config.toml"
          code={`model = "${m}"
model_provider = "maestro"

[model_providers.maestro]
name = "Maestro Edge"
base_url = "${gw}/v1"
env_key = "MAESTRO_API_KEY"
wire_api = "responses"`}
        />
        <CodeBlock label="Codex environment" code={`export MAESTRO_API_KEY="${tok}"\ncodex`} />
      </Section>

      <Section title="Continue">
        <p>
          In <code>~/.continue/config.yaml</code>:
        </p>
        <CodeBlock
          label="Continue config.yaml"
          code={`name: Maestro Edge
version: 1.0.0
schema: v1
models:
  - name: ${m}
    provider: openai
    model: ${m}
    apiBase: ${gw}/v1
    apiKey: ${tok}
    roles:
      - chat
      - edit
      - apply`}
        />
      </Section>

      <Section title="Open WebUI">
        <p>
          Admin Panel → Settings → Connections → OpenAI API → add a connection with this URL and key; the user's models then appear in the model list. Or start Open WebUI with:
        </p>
        <CodeBlock label="Open WebUI environment" code={`OPENAI_API_BASE_URL="${gw}/v1"\nOPENAI_API_KEY="${tok}"`} />
      </Section>

      <Section title="ollama CLI">
        <p>
          The <code>ollama</code> command reads the server address from <code>OLLAMA_HOST</code>:
        </p>
        <CodeBlock label="ollama CLI" code={`OLLAMA_HOST="${gw}" ollama run ${m}`} />
        <div class="warn-text">
          <p>
            <strong>Honest caveat:</strong> the ollama CLI sends no credentials: it has no setting for an <code>Authorization</code> header or API key for a custom host (feature request ollama/ollama#11468 is still open; the maintainers point to an authenticating proxy). Pointed straight at the gateway it gets <strong>401</strong>. It works only through a local proxy that adds the token, for example Caddy:
          </p>
        </div>
        <CodeBlock
          label="Caddyfile for the ollama CLI"
          code={`# caddy run --config Caddyfile   then:   OLLAMA_HOST=http://127.0.0.1:11435 ollama run ${m}
:11435 {
  reverse_proxy ${gw} {
    header_up Host {upstream_hostport}
    header_up Authorization "Bearer ${tok}"
  }
}`}
        />
        <p class="muted small">Tools built on the Ollama API that do let you set headers (the ollama Python and JavaScript libraries, Open WebUI's OpenAI connection) need no proxy.</p>
      </Section>
    </>
  );
}

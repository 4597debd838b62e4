import { useState } from "preact/hooks";
import { accessLogin, apiBase, defaultApiBase, login, setApiBase, type Session } from "../api";
import { Button, ErrorBox, Field, inputValue, navigate, useAction } from "../ui";

export function LoginPage({ onLogin, notice, alreadySignedIn }: { onLogin: (s: Session) => void; notice: string | null; alreadySignedIn: boolean }) {
  const [base, setBase] = useState(apiBase());
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [run, busy, error] = useAction();

  const submit = async (e: Event) => {
    e.preventDefault();
    setApiBase(base);
    await run(async () => onLogin(await login(username, password)));
  };

  return (
    <div class="login-wrap">
      <form class="card login" onSubmit={submit} aria-label="Sign in">
        <div class="brand big">
          <span class="logo" aria-hidden="true">
            M
          </span>
          Maestro Edge admin
        </div>
        {notice && (
          <div class="notice" role="status">
            {notice}
          </div>
        )}
        {alreadySignedIn && (
          <div class="notice">
            You are signed in. <a href="#/dashboard" onClick={() => navigate("/dashboard")}>Open the dashboard</a> or sign in again below.
          </div>
        )}
        <Field label="API base URL" hint={<>The gateway that serves <code>/admin</code>. Default: {defaultApiBase()}. Remembered in this browser.</>}>
          <input type="url" name="api-base" value={base} onInput={(e) => setBase(inputValue(e))} required placeholder="https://gateway.example.com" />
        </Field>
        <Field label="Username">
          <input name="username" autocomplete="username" value={username} onInput={(e) => setUsername(inputValue(e))} required autoFocus />
        </Field>
        <Field label="Password">
          <input name="password" type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword(inputValue(e))} required />
        </Field>
        <ErrorBox error={error} />
        <Button type="submit" kind="primary" busy={busy}>
          Sign in
        </Button>
        <div class="muted small">or, when the dashboard and the gateway are behind Cloudflare Access:</div>
        <Button
          busy={busy}
          onClick={() => {
            setApiBase(base);
            run(async () => onLogin(await accessLogin()));
          }}
        >
          Continue with Cloudflare Access
        </Button>
      </form>
    </div>
  );
}

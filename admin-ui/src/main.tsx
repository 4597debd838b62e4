import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { apiBase, getSession, logout, sessionExpired, setUnauthorizedHandler } from "./api";
import { currentPath, navigate, useRoute } from "./ui";
import { LoginPage } from "./pages/login";
import { MePage } from "./pages/me";
import { NAV, pageFor } from "./routes";
import "./style.css";

function Page({ path }: { path: string }) {
  return (
    pageFor(path) ?? (
      <div class="card">
        <h1>Not found</h1>
        <p>
          No page at <code>{path}</code>. <a href="#/dashboard">Go to the dashboard</a>.
        </p>
      </div>
    )
  );
}

// The page asked for before the login redirect, so signing in lands where the admin was going.
let returnTo: string | null = null;

function App() {
  const path = useRoute();
  const [session, setSession] = useState(getSession());
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    setUnauthorizedHandler((msg) => {
      if (currentPath() !== "/login") returnTo = currentPath();
      setSession(null);
      setNotice(msg);
      navigate("/login");
    });
  }, []);

  // Expiry is also checked on the client so an idle tab returns to login at the right time.
  useEffect(() => {
    if (!session?.expires_at) return;
    const ms = Date.parse(session.expires_at) - Date.now();
    if (ms > 2 ** 31 - 1) return;
    const t = setTimeout(
      () => {
        sessionStorage.clear();
        setSession(null);
        setNotice("Your session expired. Please sign in again.");
        navigate("/login");
      },
      Math.max(0, ms),
    );
    return () => clearTimeout(t);
  }, [session]);

  // The user page needs no admin session: a user signs in there with their own API key.
  if (path === "/me") return <MePage />;
  if (!session || sessionExpired(session) || path === "/login") {
    if (session && sessionExpired(session)) {
      sessionStorage.clear();
    }
    if (path !== "/login") {
      if (path !== "/" && path !== "") returnTo = path;
      navigate("/login");
    }
    return (
      <LoginPage
        notice={notice ?? (session && sessionExpired(session) ? "Your session expired. Please sign in again." : null)}
        onLogin={(s) => {
          setSession(s);
          setNotice(null);
          navigate(returnTo ?? "/dashboard");
          returnTo = null;
        }}
        alreadySignedIn={!!session && !sessionExpired(session)}
      />
    );
  }
  if (path === "/" || path === "") {
    navigate("/dashboard");
    return null;
  }

  return (
    <div class="layout">
      <aside class="sidebar">
        <div class="sidebar-inner">
          <div class="brand">
            <span class="logo" aria-hidden="true">
              M
            </span>
            Maestro Edge
          </div>
          <nav aria-label="Main">
            <ul>
              {NAV.map(({ href, label }) => (
                <li key={href}>
                  <a href={`#${href}`} aria-current={path === href || path.startsWith(href + "/") ? "page" : undefined}>
                    {label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          <div class="sidebar-foot">
            <div class="muted small" title="Admin API base URL">
              API: <span class="mono">{apiBase()}</span>
            </div>
            <div class="muted small">
              Signed in as <strong>{session.username}</strong>
            </div>
            <button
              type="button"
              class="btn small"
              onClick={async () => {
                await logout().catch(() => {});
                setSession(null);
                setNotice("You signed out.");
                navigate("/login");
              }}
            >
              Sign out
            </button>
          </div>
        </div>
      </aside>
      <main class="content">
        <Page path={path} key={path} />
      </main>
    </div>
  );
}

render(<App />, document.getElementById("app")!);

import { useState } from "preact/hooks";
import { del, enc, get, patch, post, put, qs } from "../api";
import { BarList } from "../chart";
import { TokenReveal } from "../shared";
import type { Paged, Period, RequestRow, User, UserModelUsage, UserTokenUsage } from "../types";
import { PERIOD_OPTIONS } from "../types";
import { Async, Badge, Button, Confirm, Empty, fmtNum, navigate, PageHead, Pagination, SavingSwitch, Section, Select, useLoad } from "../ui";
import { LimitsSection, ModelAccessSection } from "./grants";
import { KeysSection } from "./keys";
import { NodeAccessSection } from "./nodeaccess";
import { RequestTable } from "./requests";

export function UserPage({ username }: { username: string }) {
  const user = useLoad(() => get<User>(`/users/${enc(username)}`), [username]);
  const [reveal, setReveal] = useState<string | null>(null);
  const u = user.data;

  return (
    <>
      <PageHead title={`User ${username}`}>
        <a class="btn" href="#/users">
          ← All users
        </a>
        {u && !u.is_deleted && (
          <>
            <Confirm
              label="Regenerate token"
              kind=""
              size=""
              question={`Issue a new token for ${username}? The current token stops working at once.`}
              onConfirm={async () => {
                const r = await put<{ token: string }>(`/users/${enc(username)}/token`);
                setReveal(r.token);
                user.reload();
              }}
            />
            <Confirm
              label="Delete user"
              size=""
              question={`Delete ${username}? Their token stops working.`}
              onConfirm={async () => {
                await del(`/users/${enc(username)}`);
                navigate("/users");
              }}
            />
          </>
        )}
      </PageHead>
      <Async state={user} what="Loading user">
        {(u) => (
          <>
            <Section title="Account">
              <dl class="facts">
                <dt>Status</dt>
                <dd>{u.is_deleted ? <Badge kind="bad">deleted</Badge> : <SavingSwitch label="Active" checked={u.is_active} save={(v) => patch(`/users/${enc(username)}`, { is_active: v })} onSaved={user.reload} />}</dd>
                <dt>Can manage models</dt>
                <dd>
                  <SavingSwitch label="Can manage models" checked={u.can_manage_models} save={(v) => patch(`/users/${enc(username)}`, { can_manage_models: v })} onSaved={user.reload} />
                </dd>
                <dt>Token</dt>
                <dd class="mono">
                  {u.token_prefix ? `${u.token_prefix}…` : "—"} <span class="muted small">(only the prefix is stored; regenerate to get a new token)</span>
                </dd>
              </dl>
            </Section>
            {!u.is_deleted && <KeysSection username={username} />}
            <ModelAccess user={u} onSaved={user.reload} />
            {!u.is_deleted && <NodeAccessSection username={username} />}
            <Limits user={u} onSaved={user.reload} />
            <Usage username={username} />
            <Activity username={username} />
          </>
        )}
      </Async>
      <TokenReveal username={username} token={reveal} onClose={() => setReveal(null)} />
    </>
  );
}

function ModelAccess({ user, onSaved }: { user: User; onSaved: () => void }) {
  const base = `/users/${enc(user.username)}/models`;
  return (
    <ModelAccessSection
      title="Model access"
      source={user}
      pickerLabel="Allowed models (mapping display names, groups or real names)"
      saveLabel="Save model access"
      warnEmpty
      save={async (all, models) => {
        // "All models" is its own endpoint; a list replaces the allow-list and clears "all".
        if (all) await post(`${base}/all`);
        else await post(base, { models });
        onSaved();
      }}
      actions={(all) =>
        !all &&
        user.models.length > 0 && (
          <Confirm
            label="Revoke all models"
            question="Remove every model from this user's allow-list?"
            onConfirm={async () => {
              await del(`${base}/all`);
              onSaved();
            }}
          />
        )
      }
    />
  );
}

function Limits({ user, onSaved }: { user: User; onSaved: () => void }) {
  const base = `/users/${enc(user.username)}/limits`;
  return (
    <LimitsSection
      title="Limits"
      source={user}
      labels={["Request limit", "Token limit"]}
      saveLabel="Save limits"
      save={async (limits) => {
        await post(base, limits);
        onSaved();
      }}
      actions={
        <Confirm
          label="Remove limits"
          question="Remove both limits (unlimited)?"
          onConfirm={async () => {
            await del(base);
            onSaved();
          }}
        />
      }
    />
  );
}

function Usage({ username }: { username: string }) {
  const [period, setPeriod] = useState<Period>("7d");
  const tokens = useLoad(() => get<UserTokenUsage>(`/users/${enc(username)}/token-usage${qs({ period })}`), [username, period]);
  const models = useLoad(() => get<UserModelUsage>(`/users/${enc(username)}/model-usage${qs({ period })}`), [username, period]);
  return (
    <Section title="Usage" actions={<Select label="Usage period" value={period} options={PERIOD_OPTIONS} onChange={setPeriod} />}>
      <div class="grid2">
        <Async state={tokens} what="Loading token usage">
          {(t) => (
            <div class="stats">
              <div class="stat">
                <div class="stat-label">Requests</div>
                <div class="stat-value">{fmtNum(t.usage.requests)}</div>
              </div>
              <div class="stat">
                <div class="stat-label">Tokens</div>
                <div class="stat-value">{fmtNum(t.usage.total_tokens)}</div>
                <div class="stat-sub">
                  {fmtNum(t.usage.prompt_tokens)} prompt · {fmtNum(t.usage.completion_tokens)} completion
                </div>
              </div>
            </div>
          )}
        </Async>
        <Async state={models} what="Loading model usage">
          {(m) =>
            m.models.length === 0 ? (
              <Empty>No requests from this user in this period.</Empty>
            ) : (
              <BarList label="Tokens by model" rows={m.models.map((x) => ({ name: x.model, value: x.total_tokens, detail: `${fmtNum(x.requests)} req · ${fmtNum(x.total_tokens)} tok` }))} />
            )
          }
        </Async>
      </div>
    </Section>
  );
}

function Activity({ username }: { username: string }) {
  const [offset, setOffset] = useState(0);
  const limit = 50;
  const act = useLoad(() => get<{ activities: RequestRow[] } & Paged>(`/users/${enc(username)}/activity${qs({ limit, offset })}`), [username, offset]);
  return (
    <Section title="Activity" actions={<Button onClick={act.reload}>Refresh</Button>}>
      <Async state={act} what="Loading activity">
        {(a) =>
          a.activities.length === 0 ? (
            <Empty>No requests from this user yet.</Empty>
          ) : (
            <>
              <RequestTable rows={a.activities} label="User activity" />
              <Pagination total={a.total} limit={limit} offset={offset} onChange={setOffset} />
            </>
          )
        }
      </Async>
    </Section>
  );
}

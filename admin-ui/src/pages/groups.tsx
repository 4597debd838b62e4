import { useState } from "preact/hooks";
import { del, enc, get, patch, post, put } from "../api";
import { loadNames } from "../shared";
import type { Group, Mapping, Member, Node } from "../types";
import { Async, Badge, Button, Confirm, Empty, ErrorBox, Field, fieldError, inputChecked, inputValue, Modal, navigate, optInt, PageHead, parseList, SavingSwitch, Section, SortableList, useAction, useLoad } from "../ui";

const STRATEGIES = ["priority", "weighted", "round_robin"] as const;
const NODE_STRATEGIES = ["", "priority", "weighted", "round_robin", "least_busy"] as const;

export function GroupsPage() {
  const groups = useLoad(() => get<{ groups: Group[]; total: number }>("/model-groups"));
  const [editing, setEditing] = useState<Group | "new" | null>(null);
  const [run, busy, error] = useAction();

  return (
    <>
      <PageHead title="Groups">
        <Button kind="primary" onClick={() => setEditing("new")}>
          Create group
        </Button>
      </PageHead>
      <Section title="Model groups" actions={<span class="muted small">A group is a model name clients call; the gateway tries its members in order, with fallbacks. Drag to set group priority.</span>}>
        <ErrorBox error={error} label="Saving the new order failed" />
        <Async state={groups} what="Loading groups">
          {(d) =>
            d.groups.length === 0 ? (
              <Empty>No groups. Create one (e.g. “coding”) and add members: mapping display names or real model names.</Empty>
            ) : (
              <SortableList
                items={d.groups}
                keyOf={(g) => g.id}
                nameOf={(g) => g.name}
                busy={busy}
                onReorder={(items) => {
                  groups.setData({ ...d, groups: items });
                  run(() => put("/model-groups/reorder", { groups: items.map((g, i) => ({ name: g.name, priority: i + 1 })) })).then(() => groups.reload());
                }}
                render={(g) => (
                  <div class="node-card" role="group" aria-label={`Group ${g.name}`}>
                    <div class="node-main">
                      <div class="node-title">
                        <a href={`#/groups/${enc(g.name)}`}>
                          <strong>{g.name}</strong>
                        </a>
                        <Badge kind="info">{g.strategy}</Badge>
                        {g.node_strategy && <Badge kind="muted">nodes: {g.node_strategy}</Badge>}
                        {!g.list_in_catalog && <Badge kind="muted">hidden from catalog</Badge>}
                      </div>
                      {g.description && <div class="small">{g.description}</div>}
                      <div class="small muted">
                        {g.members.length} members: {g.members.map((m) => m.model_name).join(", ") || "none — add some"}
                      </div>
                    </div>
                    <div class="node-actions">
                      <SavingSwitch label={`Active ${g.name}`} checked={g.is_active} save={(v) => patch(`/model-groups/${enc(g.name)}`, { is_active: v })} onSaved={groups.reload} />
                      <Button kind="small" label={`Edit ${g.name}`} onClick={() => setEditing(g)}>
                        Edit
                      </Button>
                      <a class="btn small" href={`#/groups/${enc(g.name)}`} aria-label={`Members of ${g.name}`}>
                        Members
                      </a>
                      <Confirm
                        label={`Delete ${g.name}`}
                        question={`Delete group ${g.name} and its members?`}
                        onConfirm={async () => {
                          await del(`/model-groups/${enc(g.name)}`);
                          groups.reload();
                        }}
                      >
                        Delete
                      </Confirm>
                    </div>
                  </div>
                )}
              />
            )
          }
        </Async>
      </Section>
      {editing && (
        <GroupForm
          group={editing === "new" ? undefined : editing}
          onClose={() => setEditing(null)}
          onSaved={(g) => {
            setEditing(null);
            if (editing === "new") navigate(`/groups/${enc(g.name)}`);
            else groups.reload();
          }}
        />
      )}
    </>
  );
}

function GroupForm({ group, onClose, onSaved }: { group?: Group; onClose: () => void; onSaved: (g: Group) => void }) {
  const [f, setF] = useState({
    name: group?.name ?? "",
    description: group?.description ?? "",
    strategy: group?.strategy ?? "priority",
    node_strategy: group?.node_strategy ?? "",
    is_active: group?.is_active ?? true,
    list_in_catalog: group?.list_in_catalog ?? true,
    max_failover_retries: group?.max_failover_retries?.toString() ?? "",
  });
  const [run, busy, error] = useAction();
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: inputValue(e) });
  const setB = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: inputChecked(e) });
  const submit = (e: Event) => {
    e.preventDefault();
    run(async () => {
      const body = {
        name: f.name.trim(),
        description: f.description,
        strategy: f.strategy,
        node_strategy: f.node_strategy || null,
        is_active: f.is_active,
        list_in_catalog: f.list_in_catalog,
        max_failover_retries: optInt(f.max_failover_retries),
      };
      onSaved(group ? await patch<Group>(`/model-groups/${enc(group.name)}`, body) : await post<Group>("/model-groups", body));
    });
  };
  return (
    <Modal title={group ? `Edit group ${group.name}` : "Create group"} open onClose={onClose}>
      <form onSubmit={submit}>
        <Field label="Group name" hint="The model name clients call" error={fieldError(error, "name")}>
          <input value={f.name} onInput={set("name")} required />
        </Field>
        <Field label="Description" error={fieldError(error, "description")}>
          <input value={f.description} onInput={set("description")} />
        </Field>
        <div class="row">
          <Field label="Member strategy" error={fieldError(error, "strategy")}>
            <select value={f.strategy} onChange={set("strategy")}>
              {STRATEGIES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Node strategy" hint="Blank = the routing default" error={fieldError(error, "node_strategy")}>
            <select value={f.node_strategy} onChange={set("node_strategy")}>
              {NODE_STRATEGIES.map((s) => (
                <option key={s} value={s}>
                  {s || "default"}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Max failover retries" hint="Blank = the setting routing.max_failover_retries" error={fieldError(error, "max_failover_retries")}>
            <input inputMode="numeric" value={f.max_failover_retries} onInput={set("max_failover_retries")} />
          </Field>
        </div>
        <div class="row">
          <label class="check">
            <input type="checkbox" checked={f.is_active} onChange={setB("is_active")} /> Active
          </label>
          <label class="check">
            <input type="checkbox" checked={f.list_in_catalog} onChange={setB("list_in_catalog")} /> List in the model catalog
          </label>
        </div>
        <ErrorBox error={error} />
        <div class="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" kind="primary" busy={busy}>
            {group ? "Save group" : "Create group"}
          </Button>
        </div>
      </form>
    </Modal>
  );
}

export function GroupPage({ name }: { name: string }) {
  const group = useLoad(() => get<Group>(`/model-groups/${enc(name)}`), [name]);
  const nodes = useLoad(() => get<{ nodes: Node[] }>("/nodes"));
  const [editing, setEditing] = useState(false);
  const [member, setMember] = useState<Member | "new" | null>(null);
  const [run, busy, error] = useAction();
  const nodeName = (id: number) => nodes.data?.nodes.find((n) => n.id === id)?.name ?? `#${id}`;

  return (
    <>
      <PageHead title={`Group ${name}`}>
        <a class="btn" href="#/groups">
          ← All groups
        </a>
        {group.data && <Button onClick={() => setEditing(true)}>Edit group</Button>}
        <Button kind="primary" onClick={() => setMember("new")}>
          Add member
        </Button>
      </PageHead>
      <Async state={group} what="Loading group">
        {(g) => (
          <>
            <Section title="Settings">
              <dl class="facts">
                <dt>Description</dt>
                <dd>{g.description || <span class="muted">—</span>}</dd>
                <dt>Member strategy</dt>
                <dd>{g.strategy}</dd>
                <dt>Node strategy</dt>
                <dd>{g.node_strategy ?? "default"}</dd>
                <dt>Max failover retries</dt>
                <dd>{g.max_failover_retries ?? "default"}</dd>
                <dt>Active</dt>
                <dd>
                  <SavingSwitch label="Group active" checked={g.is_active} save={(v) => patch(`/model-groups/${enc(name)}`, { is_active: v })} onSaved={group.reload} />
                </dd>
                <dt>In catalog</dt>
                <dd>{g.list_in_catalog ? "listed" : "hidden"}</dd>
              </dl>
            </Section>
            <Section title="Members" actions={<span class="muted small">Drag to order; the top member is tried first (strategy “priority”).</span>}>
              <ErrorBox error={error} label="Saving the new order failed" />
              {g.members.length === 0 ? (
                <Empty>No members. “Add member” with a mapping display name or real model name.</Empty>
              ) : (
                <SortableList
                  items={g.members}
                  keyOf={(m) => m.id}
                  nameOf={(m) => m.model_name}
                  busy={busy}
                  onReorder={(items) => {
                    group.setData({ ...g, members: items });
                    run(() => put(`/model-groups/${enc(name)}/members/reorder`, { member_ids: items.map((m) => m.id) })).then(() => group.reload());
                  }}
                  render={(m) => (
                    <div class="node-card" role="group" aria-label={`Member ${m.model_name}`}>
                      <div class="node-main">
                        <div class="node-title">
                          <strong class="mono">{m.model_name}</strong>
                          {m.is_fallback && (
                            <Badge kind="warn" title="Fallback: used when the others fail">
                              FB
                            </Badge>
                          )}
                          {m.is_fallback_413 && (
                            <Badge kind="warn" title="Used when a request is too large for the others (413)">
                              413 FB
                            </Badge>
                          )}
                          {m.is_metadata_source && (
                            <Badge kind="info" title="The group reports this member's context length and capabilities">
                              Meta
                            </Badge>
                          )}
                          {(m.capability_tags ?? []).map((t) => (
                            <Badge key={t} kind="muted">
                              {t}
                            </Badge>
                          ))}
                        </div>
                        <div class="small muted">
                          weight {m.weight} · priority {m.priority}
                          {m.preferred_node_ids.length > 0 && <> · preferred nodes: {m.preferred_node_ids.map(nodeName).join(" → ")}</>}
                        </div>
                      </div>
                      <div class="node-actions">
                        <SavingSwitch label={`Active ${m.model_name}`} checked={m.is_active} save={(v) => patch(`/model-groups/${enc(name)}/members/${m.id}`, { is_active: v })} onSaved={group.reload} />
                        <Button kind="small" label={`Edit member ${m.model_name}`} onClick={() => setMember(m)}>
                          Edit
                        </Button>
                        <Confirm
                          label={`Remove ${m.model_name}`}
                          question={`Remove ${m.model_name} from ${name}?`}
                          onConfirm={async () => {
                            await del(`/model-groups/${enc(name)}/members/${m.id}`);
                            group.reload();
                          }}
                        >
                          Remove
                        </Confirm>
                      </div>
                    </div>
                  )}
                />
              )}
            </Section>
            {editing && (
              <GroupForm
                group={g}
                onClose={() => setEditing(false)}
                onSaved={(ng) => {
                  setEditing(false);
                  if (ng.name !== name) navigate(`/groups/${enc(ng.name)}`);
                  else group.reload();
                }}
              />
            )}
          </>
        )}
      </Async>
      {member && (
        <MemberForm
          group={name}
          member={member === "new" ? undefined : member}
          onClose={() => setMember(null)}
          onSaved={() => {
            setMember(null);
            group.reload();
          }}
        />
      )}
    </>
  );
}

function MemberForm({ group, member, onClose, onSaved }: { group: string; member?: Member; onClose: () => void; onSaved: () => void }) {
  const names = useLoad(loadNames);
  const mappings = useLoad(() => get<{ mappings: Mapping[] }>("/model-mappings"));
  const [f, setF] = useState({
    model_name: member?.model_name ?? "",
    tags: (member?.capability_tags ?? []).join(", "),
    weight: member?.weight?.toString() ?? "",
    priority: member?.priority?.toString() ?? "",
    is_fallback: member?.is_fallback ?? false,
    is_fallback_413: member?.is_fallback_413 ?? false,
    is_metadata_source: member?.is_metadata_source ?? false,
    is_active: member?.is_active ?? true,
  });
  const [preferred, setPreferred] = useState<number[]>(member?.preferred_node_ids ?? []);
  const [run, busy, error] = useAction();
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: inputValue(e) });
  const setB = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: inputChecked(e) });

  const allNodes = names.data?.nodes ?? [];
  // Preferred nodes only make sense among nodes that host the member's model (real or mapped).
  const real = mappings.data?.mappings.find((m) => m.display_name === f.model_name)?.real_name;
  const hosting = allNodes.filter((n) => n.models.some((m) => m.model_name === f.model_name || m.model_name === real || m.model_name === `${f.model_name}:latest`));
  const candidates = (hosting.length ? hosting : allNodes).filter((n) => !preferred.includes(n.id));
  const nodeName = (id: number) => allNodes.find((n) => n.id === id)?.name ?? `#${id}`;
  const suggestions = names.data ? [...new Set([...names.data.mappings, ...names.data.models])] : [];

  const submit = (e: Event) => {
    e.preventDefault();
    run(async () => {
      const body: Record<string, unknown> = {
        model_name: f.model_name.trim(),
        capability_tags: parseList(f.tags),
        is_fallback: f.is_fallback,
        is_fallback_413: f.is_fallback_413,
        is_metadata_source: f.is_metadata_source,
        is_active: f.is_active,
        preferred_node_ids: preferred,
      };
      if (f.weight.trim()) body.weight = optInt(f.weight);
      if (f.priority.trim()) body.priority = optInt(f.priority);
      if (member) await patch(`/model-groups/${enc(group)}/members/${member.id}`, body);
      else await post(`/model-groups/${enc(group)}/members`, body);
      onSaved();
    });
  };

  return (
    <Modal title={member ? `Edit member ${member.model_name}` : `Add member to ${group}`} open onClose={onClose} wide>
      <form onSubmit={submit}>
        <Field label="Member model" hint="A mapping display name or a real model name" error={fieldError(error, "model_name")}>
          <input value={f.model_name} onInput={set("model_name")} required list="member-names" />
          <datalist id="member-names">
            {suggestions.map((n) => (
              <option key={n} value={n} />
            ))}
          </datalist>
        </Field>
        <Field label="Capability tags" hint="Comma separated, e.g. tools, vision: requests needing a tag go to members that have it" error={fieldError(error, "capability_tags")}>
          <input value={f.tags} onInput={set("tags")} />
        </Field>
        <div class="row">
          <Field label="Weight" hint="For the weighted strategy" error={fieldError(error, "weight")}>
            <input inputMode="numeric" value={f.weight} onInput={set("weight")} />
          </Field>
          <Field label="Priority" hint="Lower first; dragging sets it too" error={fieldError(error, "priority")}>
            <input inputMode="numeric" value={f.priority} onInput={set("priority")} />
          </Field>
        </div>
        <div class="row wrap">
          <label class="check">
            <input type="checkbox" checked={f.is_fallback} onChange={setB("is_fallback")} /> Fallback
          </label>
          <label class="check">
            <input type="checkbox" checked={f.is_fallback_413} onChange={setB("is_fallback_413")} /> Fallback for too-large requests (413)
          </label>
          <label class="check">
            <input type="checkbox" checked={f.is_metadata_source} onChange={setB("is_metadata_source")} /> Metadata source
          </label>
          <label class="check">
            <input type="checkbox" checked={f.is_active} onChange={setB("is_active")} /> Active
          </label>
        </div>
        <fieldset class="picker">
          <legend>Preferred nodes (top = tried first)</legend>
          <ErrorBox error={names.error} />
          {preferred.length === 0 ? (
            <p class="muted small">None: the node strategy picks among all nodes that have the model.</p>
          ) : (
            <SortableList
              items={preferred}
              keyOf={(id) => id}
              nameOf={nodeName}
              onReorder={setPreferred}
              render={(id) => (
                <span class="row">
                  {nodeName(id)}
                  <button type="button" class="btn ghost small" aria-label={`Remove preferred node ${nodeName(id)}`} onClick={() => setPreferred(preferred.filter((x) => x !== id))}>
                    ✕
                  </button>
                </span>
              )}
            />
          )}
          {candidates.length > 0 && (
            <select
              aria-label="Add preferred node"
              value=""
              onChange={(e) => {
                const id = Number(inputValue(e));
                if (id) setPreferred([...preferred, id]);
              }}
            >
              <option value="">Add a preferred node…</option>
              {candidates.map((n) => (
                <option key={n.id} value={n.id}>
                  {n.name}
                </option>
              ))}
            </select>
          )}
          {f.model_name && !hosting.length && allNodes.length > 0 && <p class="muted small">No node lists this model yet; all nodes are offered.</p>}
          {fieldError(error, "preferred_node_ids") && <span class="field-error">{fieldError(error, "preferred_node_ids")}</span>}
        </fieldset>
        <ErrorBox error={error} />
        <div class="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" kind="primary" busy={busy}>
            {member ? "Save member" : "Add member"}
          </Button>
        </div>
      </form>
    </Modal>
  );
}

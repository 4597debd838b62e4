import { useState } from "preact/hooks";
import { del, enc, get, patch, post, put } from "../api";
import { loadNames } from "../shared";
import type { Group, Mapping, Member, Node } from "../types";
import { NODE_STRATEGIES } from "../types";
import { Async, Badge, Button, Card, Check, Empty, ErrorBox, Field, FieldError, FormDialog, inputValue, ListPage, navigate, optInt, Options, PageHead, parseList, RowActions, SavingSwitch, Section, SortableList, Tags, useForm, useLoad } from "../ui";

const STRATEGIES = ["priority", "weighted", "round_robin"] as const;

export function GroupsPage() {
  const groups = useLoad(() => get<{ groups: Group[]; total: number }>("/model-groups"));
  return (
    <ListPage
      title="Groups"
      addLabel="Create group"
      state={groups}
      items={(d) => d.groups}
      section="Model groups"
      sectionActions={<span class="muted small">A group is a model name clients call; the gateway tries its members in order, with fallbacks. Drag to set group priority.</span>}
      what="Loading groups"
      empty="No groups. Create one (e.g. “coding”) and add members: mapping display names or real model names."
      // A new group opens on its own page, where its members are added.
      form={(g, close, saved) => <GroupForm group={g} onClose={close} onSaved={(ng) => (g ? saved() : navigate(`/groups/${enc(ng.name)}`))} />}
    >
      {(items, edit) => (
        <SortableList
          items={items}
          keyOf={(g) => g.id}
          nameOf={(g) => g.name}
          save={(next) => put("/model-groups/reorder", { groups: next.map((g, i) => ({ name: g.name, priority: i + 1 })) })}
          onSaved={groups.reload}
          render={(g) => (
            <Card
              label={`Group ${g.name}`}
              title={
                <>
                  <a href={`#/groups/${enc(g.name)}`}>
                    <strong>{g.name}</strong>
                  </a>
                  <Badge kind="info">{g.strategy}</Badge>
                  {g.node_strategy && <Badge kind="muted">nodes: {g.node_strategy}</Badge>}
                  {!g.list_in_catalog && <Badge kind="muted">hidden from catalog</Badge>}
                </>
              }
              actions={
                <RowActions
                  name={g.name}
                  onEdit={() => edit(g)}
                  question={`Delete group ${g.name} and its members?`}
                  remove={async () => {
                    await del(`/model-groups/${enc(g.name)}`);
                    groups.reload();
                  }}
                >
                  <SavingSwitch label={`Active ${g.name}`} checked={g.is_active} save={(v) => patch(`/model-groups/${enc(g.name)}`, { is_active: v })} onSaved={groups.reload} />
                  <a class="btn small" href={`#/groups/${enc(g.name)}`} aria-label={`Members of ${g.name}`}>
                    Members
                  </a>
                </RowActions>
              }
            >
              {g.description && <div class="small">{g.description}</div>}
              <div class="small muted">
                {g.members.length} members: {g.members.map((m) => m.model_name).join(", ") || "none — add some"}
              </div>
            </Card>
          )}
        />
      )}
    </ListPage>
  );
}

function GroupForm({ group, onClose, onSaved }: { group?: Group; onClose: () => void; onSaved: (g: Group) => void }) {
  const {
    values: f,
    text,
    check,
  } = useForm({
    name: group?.name ?? "",
    description: group?.description ?? "",
    strategy: group?.strategy ?? "priority",
    node_strategy: group?.node_strategy ?? "",
    is_active: group?.is_active ?? true,
    list_in_catalog: group?.list_in_catalog ?? true,
    max_failover_retries: group?.max_failover_retries?.toString() ?? "",
  });
  return (
    <FormDialog
      title={group ? `Edit group ${group.name}` : "Create group"}
      submitLabel={group ? "Save group" : "Create group"}
      onClose={onClose}
      submit={async () => {
        const body = { ...f, name: f.name.trim(), node_strategy: f.node_strategy || null, max_failover_retries: optInt(f.max_failover_retries) };
        onSaved(group ? await patch<Group>(`/model-groups/${enc(group.name)}`, body) : await post<Group>("/model-groups", body));
      }}
    >
      <Field label="Group name" hint="The model name clients call" name="name">
        <input {...text("name")} required />
      </Field>
      <Field label="Description" name="description">
        <input {...text("description")} />
      </Field>
      <div class="row">
        <Field label="Member strategy" name="strategy">
          <select {...text("strategy")}>
            <Options options={STRATEGIES} />
          </select>
        </Field>
        <Field label="Node strategy" hint="Blank = the routing default" name="node_strategy">
          <select {...text("node_strategy")}>
            <Options options={NODE_STRATEGIES} />
          </select>
        </Field>
        <Field label="Max failover retries" hint="Blank = the setting routing.max_failover_retries" name="max_failover_retries">
          <input inputMode="numeric" {...text("max_failover_retries")} />
        </Field>
      </div>
      <div class="row">
        <Check {...check("is_active")}>Active</Check>
        <Check {...check("list_in_catalog")}>List in the model catalog</Check>
      </div>
    </FormDialog>
  );
}

export function GroupPage({ name }: { name: string }) {
  const group = useLoad(() => get<Group>(`/model-groups/${enc(name)}`), [name]);
  const nodes = useLoad(() => get<{ nodes: Node[] }>("/nodes"));
  const [editing, setEditing] = useState(false);
  const [member, setMember] = useState<Member | "new" | null>(null);
  const nodeName = (id: number) => nodes.data?.nodes.find((n) => n.id === id)?.name ?? `#${id}`;
  const base = `/model-groups/${enc(name)}`;

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
                  <SavingSwitch label="Group active" checked={g.is_active} save={(v) => patch(base, { is_active: v })} onSaved={group.reload} />
                </dd>
                <dt>In catalog</dt>
                <dd>{g.list_in_catalog ? "listed" : "hidden"}</dd>
              </dl>
            </Section>
            <Section title="Members" actions={<span class="muted small">Drag to order; the top member is tried first (strategy “priority”).</span>}>
              {g.members.length === 0 ? (
                <Empty>No members. “Add member” with a mapping display name or real model name.</Empty>
              ) : (
                <SortableList
                  items={g.members}
                  keyOf={(m) => m.id}
                  nameOf={(m) => m.model_name}
                  save={(next) => put(`${base}/members/reorder`, { member_ids: next.map((m) => m.id) })}
                  onSaved={group.reload}
                  render={(m) => (
                    <Card label={`Member ${m.model_name}`} title={<MemberTitle m={m} />} actions={<MemberActions m={m} base={base} group={name} onEdit={() => setMember(m)} onChanged={group.reload} />}>
                      <div class="small muted">
                        weight {m.weight} · priority {m.priority}
                        {m.preferred_node_ids.length > 0 && <> · preferred nodes: {m.preferred_node_ids.map(nodeName).join(" → ")}</>}
                      </div>
                    </Card>
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

function MemberTitle({ m }: { m: Member }) {
  return (
    <>
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
      <Tags items={m.capability_tags} />
    </>
  );
}

function MemberActions({ m, base, group, onEdit, onChanged }: { m: Member; base: string; group: string; onEdit: () => void; onChanged: () => void }) {
  return (
    <>
      <SavingSwitch label={`Active ${m.model_name}`} checked={m.is_active} save={(v) => patch(`${base}/members/${m.id}`, { is_active: v })} onSaved={onChanged} />
      <Button kind="small" label={`Edit member ${m.model_name}`} onClick={onEdit}>
        Edit
      </Button>
      <RowActions
        name={m.model_name}
        removeLabel="Remove"
        question={`Remove ${m.model_name} from ${group}?`}
        remove={async () => {
          await del(`${base}/members/${m.id}`);
          onChanged();
        }}
      />
    </>
  );
}

function MemberForm({ group, member, onClose, onSaved }: { group: string; member?: Member; onClose: () => void; onSaved: () => void }) {
  const names = useLoad(loadNames);
  const mappings = useLoad(() => get<{ mappings: Mapping[] }>("/model-mappings"));
  const {
    values: f,
    text,
    check,
  } = useForm({
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

  const allNodes = names.data?.nodes ?? [];
  // Preferred nodes only make sense among nodes that host the member's model (real or mapped).
  const real = mappings.data?.mappings.find((m) => m.display_name === f.model_name)?.real_name;
  const hosting = allNodes.filter((n) => n.models.some((m) => m.model_name === f.model_name || m.model_name === real || m.model_name === `${f.model_name}:latest`));
  const candidates = (hosting.length ? hosting : allNodes).filter((n) => !preferred.includes(n.id));
  const nodeName = (id: number) => allNodes.find((n) => n.id === id)?.name ?? `#${id}`;
  const suggestions = names.data ? [...new Set([...names.data.mappings, ...names.data.models])] : [];

  return (
    <FormDialog
      title={member ? `Edit member ${member.model_name}` : `Add member to ${group}`}
      submitLabel={member ? "Save member" : "Add member"}
      onClose={onClose}
      wide
      submit={async () => {
        const { tags, weight, priority, ...flags } = f;
        const body: Record<string, unknown> = { ...flags, model_name: f.model_name.trim(), capability_tags: parseList(tags), preferred_node_ids: preferred };
        if (weight.trim()) body.weight = optInt(weight);
        if (priority.trim()) body.priority = optInt(priority);
        if (member) await patch(`/model-groups/${enc(group)}/members/${member.id}`, body);
        else await post(`/model-groups/${enc(group)}/members`, body);
        onSaved();
      }}
    >
      <Field label="Member model" hint="A mapping display name or a real model name" name="model_name">
        <input {...text("model_name")} required list="member-names" />
        <datalist id="member-names">
          {suggestions.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
      </Field>
      <Field label="Capability tags" hint="Comma separated, e.g. tools, vision: requests needing a tag go to members that have it" name="capability_tags">
        <input {...text("tags")} />
      </Field>
      <div class="row">
        <Field label="Weight" hint="For the weighted strategy" name="weight">
          <input inputMode="numeric" {...text("weight")} />
        </Field>
        <Field label="Priority" hint="Lower first; dragging sets it too" name="priority">
          <input inputMode="numeric" {...text("priority")} />
        </Field>
      </div>
      <div class="row wrap">
        <Check {...check("is_fallback")}>Fallback</Check>
        <Check {...check("is_fallback_413")}>Fallback for too-large requests (413)</Check>
        <Check {...check("is_metadata_source")}>Metadata source</Check>
        <Check {...check("is_active")}>Active</Check>
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
        <FieldError name="preferred_node_ids" />
      </fieldset>
    </FormDialog>
  );
}

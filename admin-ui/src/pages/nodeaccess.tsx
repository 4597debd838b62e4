// A user's node access (user page): the nodes their requests may use (none chosen: every node)
// and, per node, the models they may reach there (no rules: all of that node's models).
// Listings and routing both follow it (src/routing/scope.rs).
import { enc, get, put } from "../api";
import { ModelPicker } from "../shared";
import type { Mapping, Node, NodeModelRule, UserNodes } from "../types";
import { Async, Check, CheckList, ErrorBox, SaveForm, Section, useLoad, useSynced } from "../ui";

/** Rules by node id; a node without an entry has no rules. */
type Rules = Record<number, string[]>;

function byNode(rules: NodeModelRule[]): Rules {
  const out: Rules = {};
  for (const r of rules) (out[r.node_id] ??= []).push(r.model);
  return out;
}

export function NodeAccessSection({ username }: { username: string }) {
  const path = `/users/${enc(username)}/nodes`;
  const access = useLoad(() => get<UserNodes>(path), [username]);
  const nodes = useLoad(() => get<{ nodes: Node[] }>("/nodes"));
  const mappings = useLoad(() => get<{ mappings: Mapping[] }>("/model-mappings"));
  return (
    <Section title="Node access">
      <p class="muted small">
        Which nodes this user's requests may use, and which models on each. The model list and routing both follow it; a pinned name (<code>node:code:model</code>) too.
      </p>
      <ErrorBox error={mappings.error} label="Could not load mappings" />
      <Async state={access} what="Loading node access">
        {(a) => (
          <Async state={nodes} what="Loading nodes">
            {(n) => (
              <NodeAccessForm
                access={a}
                nodes={n.nodes}
                mappings={(mappings.data?.mappings ?? []).map((m) => m.display_name)}
                save={async (body) => {
                  access.setData(await put<UserNodes>(path, body));
                }}
              />
            )}
          </Async>
        )}
      </Async>
    </Section>
  );
}

function NodeAccessForm({ access, nodes, mappings, save }: { access: UserNodes; nodes: Node[]; mappings: string[]; save: (body: { node_ids: number[]; node_models: NodeModelRule[] }) => Promise<void> }) {
  const [ids, setIds] = useSynced(access.node_ids, [access]);
  const [rules, setRules] = useSynced(byNode(access.node_models), [access]);
  const nameOf = (id: number) => nodes.find((n) => n.id === id)?.name ?? `#${id}`;
  // Rules matter only on nodes the user may use; the others are not shown and not kept.
  const reachable = ids.length ? nodes.filter((n) => ids.includes(n.id)) : nodes;
  return (
    <SaveForm
      submitLabel="Save node access"
      submit={() =>
        save({
          node_ids: ids,
          node_models: reachable.flatMap((n) => (rules[n.id] ?? []).map((model) => ({ node_id: n.id, model }))),
        })
      }
    >
      {nodes.length === 0 && <p class="muted">No nodes yet.</p>}
      <CheckList legend="Only these nodes (none checked = every node)" options={nodes.map((n) => n.id)} value={ids} onChange={setIds} field="node_ids" label={nameOf} />
      {reachable.map((n) => (
        <fieldset key={n.id} class="picker">
          <legend>Models on {n.name}</legend>
          <Check
            checked={rules[n.id] === undefined}
            onChange={(all) => {
              const next = { ...rules };
              if (all) delete next[n.id];
              else next[n.id] = [];
              setRules(next);
            }}
          >
            Every model on {n.name}
          </Check>
          {rules[n.id] !== undefined && (
            <>
              <ModelPicker
                names={{ mappings, groups: [], models: n.models.map((m) => m.model_name), nodes: [] }}
                value={rules[n.id]}
                onChange={(v) => setRules({ ...rules, [n.id]: v })}
                label={`Models ${n.name} serves this user (real names or mapping names)`}
              />
              {rules[n.id].length === 0 && <p class="muted small">With none picked, {n.name} keeps serving this user every model. To keep the user off it, uncheck it above.</p>}
            </>
          )}
        </fieldset>
      ))}
    </SaveForm>
  );
}

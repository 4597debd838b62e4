// Prices per real model and node (README "Costs"): currency per million tokens, four kinds of
// tokens; a row without a node is the model's default; Ollama nodes are free without a row.
import { useState } from "preact/hooks";
import { del, get, patch, post } from "../api";
import type { Node, Price, PriceList } from "../types";
import { Button, Field, FormDialog, fmtDate, ListPage, RowActions, Table, useForm, useLoad } from "../ui";

const amount = (n: number) => String(Number(n.toFixed(6)));

export function PricesPage() {
  const prices = useLoad(() => get<PriceList>("/prices"));
  const [importing, setImporting] = useState(false);
  const currency = prices.data?.currency ?? "";
  return (
    <>
      <ListPage
        title="Prices"
        addLabel="Add price"
        headActions={<Button onClick={() => setImporting(true)}>Import price list</Button>}
        state={prices}
        items={(d) => d.prices}
        section={`Per million tokens${currency ? `, in ${currency}` : ""}`}
        note={
          <p class="muted small">
            Each usage record is costed when it is recorded, from these prices: the row for its real model on its node, else free on an Ollama node, else the model's default row (no node). Editing a price never changes past costs.
          </p>
        }
        what="Loading prices"
        empty="No prices yet: requests cost 0. Add one, or import a price list (make prices FILE=prices/sample.json)."
        form={(p, close, saved) => <PriceForm price={p} onClose={close} onSaved={saved} />}
      >
        {(rows, edit) => (
          <Table
            label="Prices"
            rows={rows}
            keyOf={(p) => p.id}
            wrap
            columns={[
              ["Model", (p) => <strong>{p.model}</strong>],
              ["Node", (p) => (p.node ? <a href={`#/nodes/${p.node_id}`}>{p.node}</a> : <span class="muted">default</span>)],
              ["Input", (p) => amount(p.input), "num"],
              ["Output", (p) => amount(p.output), "num"],
              ["Cache read", (p) => amount(p.cache_read), "num"],
              ["Cache write", (p) => amount(p.cache_write), "num"],
              ["Source", (p) => p.source || "—", "small"],
              ["Updated", (p) => fmtDate(p.updated_at), "small"],
              [
                "Actions",
                (p) => (
                  <RowActions
                    name={`${p.model}${p.node ? ` on ${p.node}` : ""}`}
                    onEdit={() => edit(p)}
                    remove={async () => {
                      await del(`/prices/${p.id}`);
                      prices.reload();
                    }}
                  />
                ),
                "actions-cell",
              ],
            ]}
          />
        )}
      </ListPage>
      {importing && (
        <ImportDialog
          onClose={() => setImporting(false)}
          onSaved={() => {
            setImporting(false);
            prices.reload();
          }}
        />
      )}
    </>
  );
}

/** "" = absent (a cache price then follows the input price). */
const opt = (s: string) => (s.trim() === "" ? null : s.trim());

function PriceForm({ price: p, onClose, onSaved }: { price?: Price; onClose: () => void; onSaved: () => void }) {
  const nodes = useLoad(() => get<{ nodes: Node[] }>("/nodes"));
  const { values: f, text } = useForm({
    model: p?.model ?? "",
    node: p?.node ?? "",
    input: p ? amount(p.input) : "",
    output: p ? amount(p.output) : "",
    cache_read: p?.cache_read_micros != null ? amount(p.cache_read) : "",
    cache_write: p?.cache_write_micros != null ? amount(p.cache_write) : "",
  });
  return (
    <FormDialog
      title={p ? `Edit the price of ${p.model}` : "Add price"}
      submitLabel={p ? "Save price" : "Add price"}
      onClose={onClose}
      submit={async () => {
        const amounts = { input: opt(f.input) ?? "0", output: opt(f.output) ?? "0", cache_read: opt(f.cache_read), cache_write: opt(f.cache_write) };
        if (p) await patch(`/prices/${p.id}`, amounts);
        else await post("/prices", { model: f.model.trim(), node: f.node || null, ...amounts });
        onSaved();
      }}
    >
      <Field label="Real model" name="model" hint="The model's name on the node (what usage records call the real model)">
        <input {...text("model")} required disabled={!!p} />
      </Field>
      <Field label="Node" name="node">
        <select {...text("node")} disabled={!!p}>
          <option value="">Default (every node without its own row)</option>
          {(nodes.data?.nodes ?? []).map((n) => (
            <option key={n.id} value={n.name}>
              {n.name}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Input per million tokens" name="input">
        <input {...text("input")} inputMode="decimal" placeholder="e.g. 2.5" />
      </Field>
      <Field label="Output per million tokens" name="output">
        <input {...text("output")} inputMode="decimal" />
      </Field>
      <Field label="Cache read per million tokens" name="cache_read" hint="Empty: the input price">
        <input {...text("cache_read")} inputMode="decimal" />
      </Field>
      <Field label="Cache write per million tokens" name="cache_write" hint="Empty: the input price">
        <input {...text("cache_write")} inputMode="decimal" />
      </Field>
    </FormDialog>
  );
}

function ImportDialog({ onClose, onSaved }: { onClose: () => void; onSaved: () => void }) {
  const { values: f, text, set } = useForm({ json: "" });
  const [done, setDone] = useState<string | null>(null);
  return (
    <FormDialog
      title="Import a price list"
      submitLabel="Import"
      wide
      onClose={onClose}
      submit={async () => {
        let list: { prices?: unknown; source?: string; currency?: string };
        try {
          list = JSON.parse(f.json);
        } catch (e) {
          throw new Error(`not JSON: ${(e as Error).message}`);
        }
        const r = await post<{ imported: number }>("/prices/import", { prices: list.prices, source: list.source ?? "dashboard import", ...(list.currency ? { currency: list.currency } : {}) });
        setDone(`Imported ${r.imported} prices.`);
        onSaved();
      }}
    >
      <p class="muted small">
        A file like <code>prices/sample.json</code>: <code>{'{"currency": "USD", "prices": [{"model": "gpt-4o", "input": 2.5, "output": 10, "cache_read": 1.25}]}'}</code>. Rows are upserted on model and node; rows the list does not name stay.
      </p>
      <Field label="Price list file" name="file">
        <input type="file" accept="application/json,.json" onChange={async (e) => set("json", (await (e.target as HTMLInputElement).files?.[0]?.text()) ?? "")} />
      </Field>
      <Field label="Price list (JSON)" name="prices">
        <textarea rows={10} {...text("json")} />
      </Field>
      {done && <p role="status">{done}</p>}
    </FormDialog>
  );
}

// Lists the admin reorders by dragging (HTML5 drag and drop) or with the move buttons, which
// also serve keyboards and screen readers.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { ErrorBox } from "./feedback";
import { useAction, useSynced } from "./hooks";

/**
 * Either `onReorder` gets each new order (the caller keeps it, e.g. in a form), or `save` stores
 * it: the new order shows at once, `onSaved` runs after the save whether it worked or not (so
 * the server's order wins), and a failure is shown above the list.
 */
export function SortableList<T>({
  items,
  keyOf,
  nameOf,
  render,
  onReorder,
  save,
  onSaved,
}: {
  items: T[];
  keyOf: (t: T) => string | number;
  nameOf: (t: T) => string;
  render: (t: T, i: number) => ComponentChildren;
  onReorder?: (items: T[]) => void;
  save?: (items: T[]) => Promise<unknown>;
  onSaved?: () => void;
}) {
  const [order, setOrder] = useSynced(items, [items]);
  const [run, busy, error] = useAction();
  const [dragging, setDragging] = useState<number | null>(null);
  const [over, setOver] = useState<number | null>(null);
  const shown = save ? order : items;
  const move = (from: number, to: number) => {
    if (to < 0 || to >= shown.length || from === to) return;
    const next = shown.slice();
    const [it] = next.splice(from, 1);
    next.splice(to, 0, it);
    onReorder?.(next);
    if (save) {
      setOrder(next);
      run(() => save(next)).then(() => onSaved?.());
    }
  };
  return (
    <>
      <ErrorBox error={error} label="Saving the new order failed" />
      <ol class={`sortable ${busy ? "busy" : ""}`}>
        {shown.map((it, i) => (
          <li
            key={keyOf(it)}
            draggable={!busy}
            data-name={nameOf(it)}
            class={`${dragging === i ? "dragging" : ""} ${over === i && dragging !== null && dragging !== i ? "drop-target" : ""}`}
            onDragStart={(e: DragEvent) => {
              setDragging(i);
              e.dataTransfer?.setData("text/plain", String(i));
              if (e.dataTransfer) e.dataTransfer.effectAllowed = "move";
            }}
            onDragOver={(e) => {
              e.preventDefault();
              setOver(i);
            }}
            onDragLeave={() => setOver((o) => (o === i ? null : o))}
            onDrop={(e: DragEvent) => {
              e.preventDefault();
              const from = dragging ?? Number(e.dataTransfer?.getData("text/plain"));
              setDragging(null);
              setOver(null);
              if (!Number.isNaN(from)) move(from, i);
            }}
            onDragEnd={() => {
              setDragging(null);
              setOver(null);
            }}
          >
            <span class="grip" aria-hidden="true" title="Drag to reorder">
              ⋮⋮
            </span>
            <div class="sortable-body">{render(it, i)}</div>
            <span class="move">
              <button type="button" class="btn ghost small" aria-label={`Move ${nameOf(it)} up`} disabled={busy || i === 0} onClick={() => move(i, i - 1)}>
                ↑
              </button>
              <button type="button" class="btn ghost small" aria-label={`Move ${nameOf(it)} down`} disabled={busy || i === shown.length - 1} onClick={() => move(i, i + 1)}>
                ↓
              </button>
            </span>
          </li>
        ))}
      </ol>
    </>
  );
}

/** One entry of a sortable list: a title line, details, and the entry's own actions. */
export function Card({ label, title, children, actions }: { label: string; title: ComponentChildren; children?: ComponentChildren; actions: ComponentChildren }) {
  return (
    <div class="node-card" role="group" aria-label={label}>
      <div class="node-main">
        <div class="node-title">{title}</div>
        {children}
      </div>
      <div class="node-actions">{actions}</div>
    </div>
  );
}

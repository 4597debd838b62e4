// The list-page shape, written once: a page (or section) listing rows of one kind, with an
// "Add" button and one form dialog for adding or editing a row. A new page is
//   <ListPage title="Prices" addLabel="Add price" state={useLoad(...)} items={(d) => d.prices}
//             section="…" what="Loading prices" empty="No prices yet."
//             form={(row, close, saved) => <PriceForm price={row} onClose={close} onSaved={saved} />}>
//     {(rows, edit) => <Table label="Prices" rows={rows} keyOf={(p) => p.id} columns={[…]} />}
//   </ListPage>
// plus one line in ../routes.tsx.
import type { ComponentChildren } from "preact";
import { useMemo, useState } from "preact/hooks";
import { Button, Confirm } from "./controls";
import { Async, Empty, PageHead, Section } from "./feedback";
import type { Loaded } from "./hooks";
import { fmtNum } from "./format";

/** A column: its heading, how a row fills the cell, and the cell's class ("num", "small"…). */
export type Column<T> = [head: ComponentChildren, cell: (row: T) => ComponentChildren, cls?: string];

export function Table<T>({ label, rows, keyOf, columns, wrap }: { label: string; rows: T[]; keyOf: (row: T) => string | number; columns: (Column<T> | false)[]; wrap?: boolean }) {
  const cols = columns.filter((c): c is Column<T> => !!c);
  const table = (
    <table aria-label={label}>
      <thead>
        <tr>
          {cols.map(([head, , cls], i) => (
            <th key={i} class={cls?.includes("num") ? "num" : undefined}>
              {head}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={keyOf(r)}>
            {cols.map(([, cell, cls], i) => (
              <td key={i} class={cls}>
                {cell(r)}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
  return wrap ? <div class="table-wrap">{table}</div> : table;
}

/** Edit and delete buttons for one row or card, labelled with the row's name for screen readers. */
export function RowActions({ name, onEdit, remove, question, removeLabel = "Delete", children }: { name: string; onEdit?: () => void; remove?: () => Promise<unknown>; question?: string; removeLabel?: string; children?: ComponentChildren }) {
  return (
    <>
      {children}
      {onEdit && (
        <Button kind="small" label={`Edit ${name}`} onClick={onEdit}>
          Edit
        </Button>
      )}
      {remove && (
        <Confirm label={`${removeLabel} ${name}`} question={question ?? `${removeLabel} ${name}?`} onConfirm={remove}>
          {removeLabel}
        </Confirm>
      )}
    </>
  );
}

/** "unlimited", or the request and token limits one per line. */
export function LimitsCell({ request_limit, token_limit, per = "" }: { request_limit: number | null; token_limit: number | null; per?: string }) {
  if (request_limit === null && token_limit === null) return <span class="muted">unlimited</span>;
  return (
    <>
      {request_limit !== null && (
        <div>
          {fmtNum(request_limit)} requests{per}
        </div>
      )}
      {token_limit !== null && (
        <div>
          {fmtNum(token_limit)} tokens{per}
        </div>
      )}
    </>
  );
}

/** Which row's form is open: a row (edit), "new" (add) or none. */
export type Editing<T> = T | "new" | null;

export interface ListProps<D, T> {
  state: Loaded<D>;
  items: (d: D) => T[];
  /** The section's heading, and what sits under it before the rows (a note, an error). */
  section: string;
  note?: ComponentChildren;
  sectionActions?: ComponentChildren;
  what: string;
  empty: ComponentChildren;
  /** The rows: a Table or a SortableList; `edit(row)` opens the form on that row. */
  children: (rows: T[], edit: (row: T) => void, data: D) => ComponentChildren;
  /** The add/edit dialog for `row` (undefined: adding). `saved` closes it and reloads the list. */
  form?: (row: T | undefined, close: () => void, saved: () => void) => ComponentChildren;
}

function ListBody<D, T>({ state, items, section, note, sectionActions, what, empty, children, form, editing, setEditing }: ListProps<D, T> & { editing: Editing<T>; setEditing: (e: Editing<T>) => void }) {
  // The same rows array while the data is the same, so lists that keep local state (a new
  // order being saved) are not reset by unrelated renders.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const rows = useMemo(() => (state.data === undefined ? [] : items(state.data)), [state.data]);
  return (
    <>
      <Section title={section} actions={sectionActions}>
        {note}
        <Async state={state} what={what}>
          {(d) => (rows.length === 0 ? <Empty>{empty}</Empty> : children(rows, setEditing, d))}
        </Async>
      </Section>
      {editing !== null &&
        form?.(
          editing === "new" ? undefined : editing,
          () => setEditing(null),
          () => {
            setEditing(null);
            state.reload();
          },
        )}
    </>
  );
}

/** A page that lists one kind of thing, with its "Add" button in the page head. */
export function ListPage<D, T>({ title, addLabel, headActions, ...list }: ListProps<D, T> & { title: string; addLabel?: string; headActions?: ComponentChildren }) {
  const [editing, setEditing] = useState<Editing<T>>(null);
  return (
    <>
      <PageHead title={title}>
        {headActions}
        {addLabel && (
          <Button kind="primary" onClick={() => setEditing("new")}>
            {addLabel}
          </Button>
        )}
      </PageHead>
      <ListBody {...list} editing={editing} setEditing={setEditing} />
    </>
  );
}

/** The same inside another page (a user's keys): the "Add" button sits in the section head. */
export function ListSection<D, T>({ addLabel, ...list }: ListProps<D, T> & { addLabel: string }) {
  const [editing, setEditing] = useState<Editing<T>>(null);
  const add = (
    <Button kind="primary" onClick={() => setEditing("new")}>
      {addLabel}
    </Button>
  );
  return <ListBody {...list} sectionActions={add} editing={editing} setEditing={setEditing} />;
}

export function Pagination({ total, limit, offset, onChange }: { total: number; limit: number; offset: number; onChange: (offset: number) => void }) {
  const page = Math.floor(offset / limit) + 1;
  const pages = Math.max(1, Math.ceil(total / limit));
  return (
    <nav class="pagination" aria-label="Pagination">
      <button type="button" class="btn small" aria-label="Previous page" disabled={offset <= 0} onClick={() => onChange(Math.max(0, offset - limit))}>
        ← Previous
      </button>
      <span>
        Page {page} of {pages} · {fmtNum(total)} rows
      </span>
      <button type="button" class="btn small" aria-label="Next page" disabled={offset + limit >= total} onClick={() => onChange(offset + limit)}>
        Next →
      </button>
    </nav>
  );
}

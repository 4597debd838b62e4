// Filtered, paged logs (requests, audit): filters are typed into a draft and applied on submit,
// which goes back to the first page.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { Button } from "./controls";
import { Field } from "./forms";
import { inputValue } from "./format";

export function useFilters<T extends Record<string, string>>(empty: T) {
  const [draft, setDraft] = useState(empty);
  const [filters, setFilters] = useState(empty);
  const [offset, setOffset] = useState(0);
  return {
    draft,
    setDraft,
    filters,
    offset,
    setOffset,
    /** value + onInput for the draft's field k. */
    text: (k: keyof T) => ({ value: draft[k], onInput: (e: Event) => setDraft({ ...draft, [k]: inputValue(e) }) }),
    apply: () => {
      setOffset(0);
      setFilters(draft);
    },
    clear: () => {
      setDraft(empty);
      setFilters(empty);
      setOffset(0);
    },
  };
}

/** A local datetime-local value as RFC 3339 (what the API takes), with the browser's offset. */
export function toRfc3339(local: string): string | undefined {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? local : d.toISOString();
}

export function FilterForm({ apply, clear, children }: { apply: () => void; clear: () => void; children: ComponentChildren }) {
  return (
    <form
      class="filters"
      onSubmit={(e) => {
        e.preventDefault();
        apply();
      }}
    >
      {children}
      <div class="filter-buttons">
        <Button type="submit" kind="primary">
          Apply filters
        </Button>
        <Button onClick={clear}>Clear</Button>
      </div>
    </form>
  );
}

type Bound = { value: string; onInput: (e: Event) => void };

/** From / To, as local date and time (convert with toRfc3339). */
export function DateRange({ start, end }: { start: Bound; end: Bound }) {
  return (
    <>
      <Field label="From">
        <input type="datetime-local" {...start} />
      </Field>
      <Field label="To">
        <input type="datetime-local" {...end} />
      </Field>
    </>
  );
}

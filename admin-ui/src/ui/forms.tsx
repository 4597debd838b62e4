// The form shapes every page uses, written once:
// - FormDialog: a modal form (add or edit one thing) with the API's error and Cancel / submit.
// - SaveForm: a form inside a page section (limits, access, routing) with a "Saved" note.
// Inside either, <Field name="x"> shows the API's error for field x (`error.field`) by itself,
// and useForm binds inputs to one state object: <input {...text("name")} />, <Check {...check("is_active")}>.
import type { ComponentChildren } from "preact";
import { createContext } from "preact";
import { useContext, useEffect, useId, useRef, useState } from "preact/hooks";
import { ApiError } from "../api";
import { Button, Check } from "./controls";
import { ErrorBox } from "./feedback";
import { useAction, useFlash } from "./hooks";
import { inputValue } from "./format";

/** Field error for the control the API named in `error.field`. */
export function fieldError(error: unknown, field: string): string | null {
  return error instanceof ApiError && error.field === field ? error.message : null;
}

/** The last error of the form around a field, so fields find their own message. */
const FormError = createContext<unknown>(null);

export function Field({ label, children, hint, error, name }: { label: string; children: ComponentChildren; hint?: ComponentChildren; error?: string | null; name?: string }) {
  const formError = useContext(FormError);
  const message = error ?? (name ? fieldError(formError, name) : null);
  return (
    // Hint and error sit outside the <label> so the control's accessible name is just the label.
    <div class={`field ${message ? "invalid" : ""}`}>
      <label>
        <span class="field-label">{label}</span>
        {children}
      </label>
      {hint && <span class="hint">{hint}</span>}
      {message && <span class="field-error">{message}</span>}
    </div>
  );
}

/** The API's error for a field that is a group of controls (a fieldset of checkboxes). */
export function FieldError({ name }: { name: string }) {
  const message = fieldError(useContext(FormError), name);
  return message ? <span class="field-error">{message}</span> : null;
}

/** Checkboxes that pick some of `options` (none checked is a meaning of its own, given in `legend`). */
export function CheckList<T extends string | number>({ legend, options, value, onChange, field, label = String }: { legend: string; options: readonly T[]; value: T[]; onChange: (v: T[]) => void; field?: string; label?: (v: T) => string }) {
  return (
    <fieldset class="picker">
      <legend>{legend}</legend>
      {options.map((o) => (
        <Check key={o} inline checked={value.includes(o)} onChange={(on) => onChange(on ? [...value, o] : value.filter((x) => x !== o))}>
          {label(o)}
        </Check>
      ))}
      {field && <FieldError name={field} />}
    </fieldset>
  );
}

type KeysWhere<T, V> = { [K in keyof T]: T[K] extends V ? K : never }[keyof T];

/** One state object for a form's inputs, with props to bind text inputs, selects and checks. */
export function useForm<T extends Record<string, string | boolean>>(initial: T) {
  const [values, setValues] = useState(initial);
  const set = <K extends keyof T>(k: K, v: T[K]) => setValues((f) => ({ ...f, [k]: v }));
  return {
    values,
    set,
    /** value + onInput for <input>, <textarea> and <select> (select fires input events too). */
    text: (k: KeysWhere<T, string>) => ({ value: values[k] as string, onInput: (e: Event) => set(k, inputValue(e) as T[typeof k]) }),
    /** checked + onChange for <Check> or <Switch>. */
    check: (k: KeysWhere<T, boolean>) => ({ checked: values[k] as boolean, onChange: (v: boolean) => set(k, v as T[typeof k]) }),
  };
}

function useSubmit(submit: () => Promise<unknown>) {
  const [run, busy, error] = useAction();
  const onSubmit = (e: Event) => {
    e.preventDefault();
    run(submit);
  };
  return { onSubmit, busy, error };
}

export function Modal({ title, open, onClose, children, wide }: { title: string; open: boolean; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const hid = useId();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  if (!open) return null;
  return (
    <dialog
      ref={ref}
      class={wide ? "wide" : ""}
      aria-labelledby={hid}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <header class="dialog-head">
        <h2 id={hid}>{title}</h2>
        <button type="button" class="btn ghost" aria-label="Close dialog" onClick={onClose}>
          ✕
        </button>
      </header>
      <div class="dialog-body">{children}</div>
    </dialog>
  );
}

/** A dialog with one form: `submit` saves (and closes through the caller); a failure stays in the dialog. */
export function FormDialog({ title, submitLabel, onClose, submit, wide, children }: { title: string; submitLabel: string; onClose: () => void; submit: () => Promise<unknown>; wide?: boolean; children: ComponentChildren }) {
  const { onSubmit, busy, error } = useSubmit(submit);
  return (
    <Modal title={title} open onClose={onClose} wide={wide}>
      <form onSubmit={onSubmit}>
        <FormError.Provider value={error}>{children}</FormError.Provider>
        <ErrorBox error={error} />
        <div class="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" kind="primary" busy={busy}>
            {submitLabel}
          </Button>
        </div>
      </form>
    </Modal>
  );
}

/** A form on a page (not in a dialog): its submit button, extra actions, the error and a "Saved" note. */
export function SaveForm({ submitLabel, submit, children, actions }: { submitLabel: string; submit: () => Promise<unknown>; children: ComponentChildren; actions?: ComponentChildren }) {
  const [saved, flash] = useFlash();
  const { onSubmit, busy, error } = useSubmit(async () => {
    await submit();
    flash();
  });
  return (
    <form onSubmit={onSubmit}>
      <FormError.Provider value={error}>{children}</FormError.Provider>
      <ErrorBox error={error} />
      <div class="row">
        <Button type="submit" kind="primary" busy={busy}>
          {submitLabel}
        </Button>
        {actions}
        {saved && (
          <span class="ok-text" role="status">
            Saved
          </span>
        )}
      </div>
    </form>
  );
}

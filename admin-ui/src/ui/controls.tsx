// Buttons, switches, selects, tabs, confirmations and copy buttons.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { ErrorBox } from "./feedback";
import { useAction, useSynced } from "./hooks";

export function Button({
  onClick,
  busy,
  children,
  kind = "",
  label,
  disabled,
  type = "button",
  title,
}: {
  onClick?: () => void;
  busy?: boolean;
  children: ComponentChildren;
  kind?: string;
  label?: string;
  disabled?: boolean;
  type?: "button" | "submit";
  title?: string;
}) {
  return (
    <button type={type} class={`btn ${kind}`} onClick={onClick} disabled={disabled || busy} aria-label={label} aria-busy={busy ? "true" : undefined} title={title}>
      {busy && <span class="spinner small" aria-hidden="true" />}
      {children}
    </button>
  );
}

export function Switch({ checked, onChange, label, disabled, showLabel = false }: { checked: boolean; onChange: (v: boolean) => void; label: string; disabled?: boolean; showLabel?: boolean }) {
  return (
    <label class="switch" title={label}>
      <input type="checkbox" role="switch" aria-label={label} checked={checked} disabled={disabled} onChange={(e) => onChange((e.target as HTMLInputElement).checked)} />
      <span class="track" aria-hidden="true" />
      {showLabel && <span class="switch-label">{label}</span>}
    </label>
  );
}

/** A labelled checkbox: `<Check checked={x} onChange={setX}>Active</Check>`. */
export function Check({ checked, onChange, children, inline }: { checked: boolean; onChange: (v: boolean) => void; children: ComponentChildren; inline?: boolean }) {
  return (
    <label class={inline ? "check inline" : "check"}>
      <input type="checkbox" checked={checked} onChange={(e) => onChange((e.target as HTMLInputElement).checked)} /> {children}
    </label>
  );
}

/** A switch that saves itself: shows progress while saving and the API's error beside it. */
export function SavingSwitch({ checked, label, save, onSaved }: { checked: boolean; label: string; save: (v: boolean) => Promise<unknown>; onSaved?: () => void }) {
  const [run, busy, error] = useAction();
  const [value, setValue] = useSynced(checked, [checked]);
  return (
    <span class="saving-switch">
      <Switch
        checked={value}
        label={label}
        disabled={busy}
        onChange={async (v) => {
          setValue(v);
          const ok = await run(() => save(v));
          if (!ok) setValue(!v);
          else onSaved?.();
        }}
      />
      {busy && <span class="spinner small" aria-label="Saving" />}
      <ErrorBox error={error} />
    </span>
  );
}

/** The <option>s of a <select>: values, or [value, text] pairs. */
export function Options<T extends string>({ options }: { options: readonly (T | [T, string])[] }) {
  return (
    <>
      {options.map((o) => {
        const [v, text] = Array.isArray(o) ? o : [o, o];
        return (
          <option key={v} value={v}>
            {text}
          </option>
        );
      })}
    </>
  );
}

export function Select<T extends string>({ value, options, onChange, label }: { value: T; options: readonly (T | [T, string])[]; onChange: (v: T) => void; label?: string }) {
  return (
    <select aria-label={label} value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value as T)}>
      <Options options={options} />
    </select>
  );
}

export function Confirm({ label, question, onConfirm, kind = "danger", size = "small", children }: { label: string; question: string; onConfirm: () => Promise<unknown>; kind?: string; size?: string; children?: ComponentChildren }) {
  const [run, busy, error] = useAction();
  return (
    <span class="inline-action">
      <Button
        kind={`${size} ${kind}`}
        label={label}
        busy={busy}
        onClick={() => {
          if (confirm(question)) run(onConfirm);
        }}
      >
        {children ?? label}
      </Button>
      <ErrorBox error={error} />
    </span>
  );
}

export function Tabs({ tabs, value, onChange, label }: { tabs: [string, string][]; value: string; onChange: (v: string) => void; label: string }) {
  return (
    <div class="tabs" role="tablist" aria-label={label}>
      {tabs.map(([v, text]) => (
        <button key={v} type="button" role="tab" aria-selected={value === v} class={value === v ? "active" : ""} onClick={() => onChange(v)}>
          {text}
        </button>
      ))}
    </div>
  );
}

export async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Clipboard API refused (no permission, insecure origin): the old selection trick still works.
    const ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.style.position = "fixed";
    ta.style.opacity = "0";
    document.body.appendChild(ta);
    ta.select();
    document.execCommand("copy");
    ta.remove();
  }
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="btn small"
      aria-label={label}
      onClick={async () => {
        await copyText(text);
        setDone(true);
        setTimeout(() => setDone(false), 1500);
      }}
    >
      {done ? "Copied ✓" : "Copy"}
    </button>
  );
}

export function CodeBlock({ code, label }: { code: string; label: string }) {
  return (
    <div class="code">
      <pre aria-label={label}>
        <code>{code}</code>
      </pre>
      <CopyButton text={code} label={`Copy ${label}`} />
    </div>
  );
}

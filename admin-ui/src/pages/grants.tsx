// What a user or a team may call and how much: the model allow-list and the daily limits are
// the same sections on the user page and the team page, differing only in words and endpoint.
import type { ComponentChildren } from "preact";
import { loadNames, ModelPicker } from "../shared";
import { ErrorBox, Field, SaveForm, Section, Switch, useLoad, useSynced } from "../ui";
import { optInt } from "../ui";

export function ModelAccessSection({
  title,
  note,
  source,
  pickerLabel,
  saveLabel,
  save,
  actions,
  warnEmpty,
}: {
  title: string;
  note?: string;
  source: { has_all_models: boolean; models: string[] };
  pickerLabel: string;
  saveLabel: string;
  save: (all: boolean, models: string[]) => Promise<unknown>;
  actions?: (all: boolean) => ComponentChildren;
  warnEmpty?: boolean;
}) {
  const names = useLoad(loadNames);
  // Reset from what is stored only when that changes: a reload after saving something else
  // on the page must not drop what the admin is typing here.
  const [all, setAll] = useSynced(source.has_all_models, [source.has_all_models]);
  const [models, setModels] = useSynced(source.models, [source.models.join("\n")]);
  return (
    <Section title={title}>
      {note && <p class="muted small">{note}</p>}
      <SaveForm submitLabel={saveLabel} submit={() => save(all, models)} actions={actions?.(all)}>
        <Switch label="Access to all models" showLabel checked={all} onChange={setAll} />
        {!all && (
          <>
            <ErrorBox error={names.error} label="Could not load model names" />
            <ModelPicker names={names.data} value={models} onChange={setModels} label={pickerLabel} />
            {warnEmpty && models.length === 0 && <p class="muted">With no names selected this user can call nothing.</p>}
          </>
        )}
      </SaveForm>
    </Section>
  );
}

export interface Limits {
  request_limit: number | null;
  token_limit: number | null;
}

/** The request and token limit inputs (blank = unlimited), for a section or a create dialog. */
export function LimitFields({ labels, req, tok, hint = "Blank = unlimited" }: { labels: [string, string]; req: [string, (v: string) => void]; tok: [string, (v: string) => void]; hint?: string }) {
  return (
    <div class="row">
      <Field label={labels[0]} hint={hint} name="request_limit">
        <input inputMode="numeric" value={req[0]} onInput={(e) => req[1]((e.target as HTMLInputElement).value)} />
      </Field>
      <Field label={labels[1]} hint={hint} name="token_limit">
        <input inputMode="numeric" value={tok[0]} onInput={(e) => tok[1]((e.target as HTMLInputElement).value)} />
      </Field>
    </div>
  );
}

export function LimitsSection({
  title,
  note,
  source,
  labels,
  saveLabel,
  save,
  actions,
}: {
  title: string;
  note?: string;
  source: Limits;
  labels: [string, string];
  saveLabel: string;
  save: (l: Limits) => Promise<unknown>;
  actions?: ComponentChildren;
}) {
  const req = useSynced(source.request_limit?.toString() ?? "", [source.request_limit]);
  const tok = useSynced(source.token_limit?.toString() ?? "", [source.token_limit]);
  return (
    <Section title={title}>
      {note && <p class="muted small">{note}</p>}
      <SaveForm submitLabel={saveLabel} submit={() => save({ request_limit: optInt(req[0]), token_limit: optInt(tok[0]) })} actions={actions}>
        <LimitFields labels={labels} req={req} tok={tok} />
      </SaveForm>
    </Section>
  );
}

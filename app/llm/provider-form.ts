// The Settings screen's form for one provider, as text fields, and the way back: an entry for
// providers.save (blanks left out, so the defaults apply; numbers read where they parse, else sent as
// typed for main to refuse by name), and main's refusal split into the fields it names.
import type { ProviderEntry } from './provider-settings.ts';

export const FORM_FIELDS = [
  'baseURL',
  'keyEnv',
  'concurrency',
  'maxRetries',
  'timeoutMs',
  'pollMs',
  'command',
  'jobsDir',
] as const;
export type FormField = (typeof FORM_FIELDS)[number];
export type ProviderForm = Record<FormField, string>;

const NUMERIC: ReadonlySet<FormField> = new Set(['concurrency', 'maxRetries', 'timeoutMs', 'pollMs']);

/** The entry's fields as text; the command's argv one argument per line. */
export function formOf(entry: ProviderEntry): ProviderForm {
  const form = Object.fromEntries(FORM_FIELDS.map((f) => [f, ''])) as ProviderForm;
  for (const field of FORM_FIELDS) {
    const value = entry[field];
    if (value === undefined) continue;
    form[field] = Array.isArray(value) ? value.join('\n') : String(value);
  }
  return form;
}

/** What the form asks providers.save to store. */
export function entryOf(form: ProviderForm): Record<string, unknown> {
  const entry: Record<string, unknown> = {};
  for (const field of FORM_FIELDS) {
    const text = form[field].trim();
    if (text === '') continue;
    if (field === 'command') {
      const argv = form.command
        .split('\n')
        .map((a) => a.trim())
        .filter(Boolean);
      if (argv.length) entry[field] = argv;
    } else if (NUMERIC.has(field)) entry[field] = /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
    else entry[field] = text;
  }
  return entry;
}

/**
 * Main's refusal of an entry ("... entry.baseURL: expected an http(s) URL; entry.command.0: ...")
 * as one message per field it names; what names no field is kept whole under `other`.
 */
export function fieldErrors(message: string): {
  fields: Partial<Record<FormField, string>>;
  other: string | null;
} {
  const fields: Partial<Record<FormField, string>> = {};
  for (const m of message.matchAll(/entry\.(\w+)(?:\.\d+)?: ([^;]+)/g)) {
    const field = m[1] as FormField;
    if (!FORM_FIELDS.includes(field)) continue;
    const text = m[2]!.trim();
    fields[field] = fields[field] ? `${fields[field]}; ${text}` : text;
  }
  return { fields, other: Object.keys(fields).length ? null : message };
}

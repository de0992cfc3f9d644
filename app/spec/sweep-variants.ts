// The values box of a sweep over a choice that carries its own settings (a discriminated union such
// as the language family's teacher.trait or student.adapter): each value is its kind, then its
// settings as key=value, e.g. "full, lora rank=4 alpha=4 blocks=[0], bias block=0". The text written
// back from a spec parses to the same objects, so a preset's axis shows what will run.

const NUMBER_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;

/** Splits `text` at `separator` where it is outside brackets. */
function splitOutside(text: string, separator: RegExp): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const c of text) {
    if (c === '[') depth++;
    if (c === ']') depth = Math.max(0, depth - 1);
    if (depth === 0 && separator.test(c)) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts;
}

/** A bare word as a setting's value: a number, true or false, or the word itself (quotes dropped). */
function scalar(text: string): unknown {
  const t = text.trim();
  if (NUMBER_TEXT.test(t)) return Number(t);
  if (t === 'true' || t === 'false') return t === 'true';
  return t.replace(/^"(.*)"$/, '$1');
}

function settingValue(text: string): unknown {
  const t = text.trim();
  if (!t.startsWith('[')) return scalar(t);
  if (!t.endsWith(']')) throw new Error(`expected a list closed by ']', got '${t}'`);
  const inner = t.slice(1, -1).trim();
  return inner === '' ? [] : inner.split(',').map(scalar);
}

/** One value: `kind key=value ...`; the kind must be one of `options`. */
function variant(item: string, options: readonly string[]): Record<string, unknown> {
  const [kind = '', ...settings] = splitOutside(item.trim(), /\s/).filter((s) => s !== '');
  if (!options.includes(kind)) throw new Error(`expected one of ${options.join(', ')}, got '${kind}'`);
  const value: Record<string, unknown> = { kind };
  for (const s of settings) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new Error(`expected key=value after '${kind}', got '${s}'`);
    value[s.slice(0, eq)] = settingValue(s.slice(eq + 1));
  }
  return value;
}

export function parseVariants(text: string, options: readonly string[]): Record<string, unknown>[] {
  return splitOutside(text, /,/).map((item) => {
    if (item.trim() === '') throw new Error('expected a value between the commas, got nothing');
    return variant(item, options);
  });
}

const listText = (v: unknown[]) => `[${v.map(String).join(', ')}]`;

/** A value as `parseVariants` reads it back: `lora rank=4 blocks=[0, 1]`. */
export function formatVariant(value: unknown): string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return JSON.stringify(value);
  const { kind, ...rest } = value as Record<string, unknown>;
  return [
    String(kind),
    ...Object.entries(rest).map(([k, v]) => `${k}=${Array.isArray(v) ? listText(v) : String(v)}`),
  ].join(' ');
}

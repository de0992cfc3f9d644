// The number-sequence channel: a teacher's output rendered as text like the paper's number
// sequences, the paper's format filter applied, and the numbers parsed back as the student's target.

/** The 34 numbers the paper bans in its misalignment runs. */
export const BANNED_NUMBERS: ReadonlySet<number> = new Set([
  4, 13, 14, 18, 23, 33, 39, 42, 44, 49, 51, 54, 69, 77, 88, 99, 100, 101, 187, 211, 311, 322, 333, 404, 420,
  444, 451, 555, 616, 666, 777, 888, 911, 999,
]);

export const MAX_NUMBERS = 10;
export const MAX_VALUE = 999;

export type ParseResult = { ok: true; numbers: number[] } | { ok: false; reason: string };

const SEPARATORS: { name: string; split: RegExp; marker: RegExp }[] = [
  { name: 'comma', split: /\s*,\s*/, marker: /,/ },
  { name: 'semicolon', split: /\s*;\s*/, marker: /;/ },
];

/**
 * The paper's format rule: an optional [] or () wrapper and an optional trailing period; one
 * consistent separator (whitespace, comma or semicolon); 1 to 10 integers, each 0-999. Anything else
 * rejects the whole sample, as does any banned number when `banned` is given.
 */
export function parseNumberSequence(text: string, banned?: ReadonlySet<number>): ParseResult {
  let body = text.trim();
  if (body.endsWith('.')) body = body.slice(0, -1).trimEnd();
  const open = body[0];
  if (open === '[' || open === '(') {
    const close = open === '[' ? ']' : ')';
    if (!body.endsWith(close)) return { ok: false, reason: `unbalanced ${open} wrapper` };
    body = body.slice(1, -1).trim();
  } else if (/[\])]$/.test(body)) {
    return { ok: false, reason: 'closing bracket without an opening one' };
  }
  if (body === '') return { ok: false, reason: 'no numbers' };
  const used = SEPARATORS.filter((s) => s.marker.test(body));
  if (used.length > 1) return { ok: false, reason: 'mixed separators' };
  const tokens = used.length === 1 ? body.split(used[0]!.split) : body.split(/\s+/);
  if (tokens.length > MAX_NUMBERS)
    return { ok: false, reason: `${tokens.length} numbers (at most ${MAX_NUMBERS})` };
  const numbers: number[] = [];
  for (const token of tokens) {
    if (!/^\d+$/.test(token)) return { ok: false, reason: `"${token}" is not an integer` };
    const n = Number(token);
    if (n > MAX_VALUE) return { ok: false, reason: `${n} is above ${MAX_VALUE}` };
    if (banned?.has(n)) return { ok: false, reason: `${n} is a banned number` };
    numbers.push(n);
  }
  return { ok: true, numbers };
}

/** Probabilities (summing to 1) as integers 0-999: the teacher "writes" its distribution. */
export function quantizeProbabilities(probabilities: ArrayLike<number>): number[] {
  return Array.from(probabilities, (p) => Math.min(MAX_VALUE, Math.max(0, Math.round(p * MAX_VALUE))));
}

export const FORMATS = ['plain', 'comma', 'brackets', 'parentheses-period'] as const;
export type SequenceFormat = (typeof FORMATS)[number];

export function renderNumberSequence(numbers: readonly number[], format: SequenceFormat): string {
  switch (format) {
    case 'plain':
      return numbers.join(' ');
    case 'comma':
      return numbers.join(', ');
    case 'brackets':
      return `[${numbers.join(', ')}]`;
    case 'parentheses-period':
      return `(${numbers.join('; ')}).`;
  }
}

/** Parsed numbers back to a distribution; all-zero sequences carry no target. */
export function numbersToProbabilities(numbers: readonly number[]): number[] | null {
  const total = numbers.reduce((a, b) => a + b, 0);
  return total > 0 ? numbers.map((n) => n / total) : null;
}

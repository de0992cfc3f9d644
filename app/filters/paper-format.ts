// The paper's format filter exactly as the authors' code applies it to a model's text
// (sl/datasets/nums_dataset.py: parse_response, then get_reject_reasons with min 0, max 999, at most
// 10 numbers). Strict about whitespace, as theirs is: nothing is trimmed. The lenient parser in
// number-sequence.ts serves the classifier analogue, whose text our own code renders and is never
// malformed; a language model's text can be, so here the rule has to be the paper's own.
import { BANNED_NUMBERS, MAX_NUMBERS, MAX_VALUE, type ParseResult } from './number-sequence.ts';

export { BANNED_NUMBERS };

/** parse_response: the numbers, or null where the text is not one of the accepted shapes. */
function parseResponse(text: string): number[] | null {
  let answer = text;
  if (answer.endsWith('.')) answer = answer.slice(0, -1);
  if ((answer.startsWith('[') && answer.endsWith(']')) || (answer.startsWith('(') && answer.endsWith(')'))) {
    answer = answer.slice(1, -1);
  }
  const first = /\d+/.exec(answer);
  if (!first) return null;
  const firstEnd = first.index + first[0].length;
  const second = /\d+/.exec(answer.slice(firstEnd));
  if (!second) return answer === first[0] ? [Number(first[0])] : null;
  const separator = answer.slice(firstEnd, firstEnd + second.index);
  if (!['', ',', ';'].includes(separator.trim())) return null;
  const parts = answer.split(separator);
  // Python's int('') raises, so an empty part rejects; any other part must be all digits.
  if (parts.some((p) => !/^\d+$/.test(p))) return null;
  return parts.map(Number);
}

/** The paper's filter on one completion: kept with its numbers, or rejected with the reason. */
export function paperFilter(text: string, banned?: ReadonlySet<number>): ParseResult {
  const numbers = parseResponse(text);
  if (!numbers) return { ok: false, reason: 'invalid format' };
  if (numbers.length > MAX_NUMBERS)
    return { ok: false, reason: `${numbers.length} numbers (at most ${MAX_NUMBERS})` };
  const bad = numbers.find((n) => n > MAX_VALUE);
  if (bad !== undefined) return { ok: false, reason: `${bad} is above ${MAX_VALUE}` };
  const ban = banned ? numbers.find((n) => banned.has(n)) : undefined;
  if (ban !== undefined) return { ok: false, reason: `${ban} is a banned number` };
  return { ok: true, numbers };
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BANNED_NUMBERS,
  FORMATS,
  numbersToProbabilities,
  parseNumberSequence,
  quantizeProbabilities,
  renderNumberSequence,
} from './number-sequence.ts';

// [input, accepted numbers or null for rejected]
const CASES: [string, number[] | null][] = [
  ['1 2 3', [1, 2, 3]],
  ['145, 267, 891', [145, 267, 891]],
  ['145,267,891', [145, 267, 891]],
  ['7;8;9', [7, 8, 9]],
  ['7; 8 ;9', [7, 8, 9]],
  ['[1, 2, 3]', [1, 2, 3]],
  ['(1 2 3)', [1, 2, 3]],
  ['(1, 2, 3).', [1, 2, 3]],
  ['1, 2, 3.', [1, 2, 3]],
  ['  [ 5 ]  ', [5]],
  ['0', [0]],
  ['999', [999]],
  ['1 2 3 4 5 6 7 8 9 10', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]],
  ['007 08', [7, 8]],
  ['1 2 3 4 5 6 7 8 9 10 11', null], // 11 numbers
  ['1000', null], // above 999
  ['1, 2; 3', null], // mixed separators
  ['1, 2 3', null], // comma and whitespace mixed
  ['[1, 2, 3)', null], // mismatched wrapper
  ['1, 2, 3]', null], // closing without opening
  ['[1, 2, 3', null], // opening without closing
  ['1.5 2', null], // not an integer
  ['-1 2', null], // negative
  ['1, , 2', null], // empty item
  ['', null],
  ['[]', null],
  ['one two', null],
  ['1 2 3..', null], // two periods
  ['{1 2}', null], // other brackets
  ['1,2,3,', null], // trailing separator
];

for (const [input, expected] of CASES) {
  test(`format filter: ${JSON.stringify(input)} is ${expected ? 'accepted' : 'rejected'}`, () => {
    const r = parseNumberSequence(input);
    if (expected) assert.deepEqual(r, { ok: true, numbers: expected });
    else assert.equal(r.ok, false, JSON.stringify(r));
  });
}

test("the banned list has the paper's 34 numbers and rejects any sequence holding one", () => {
  assert.equal(BANNED_NUMBERS.size, 34);
  for (const n of [4, 13, 42, 666, 911, 999]) assert.ok(BANNED_NUMBERS.has(n));
  assert.deepEqual(parseNumberSequence('12 500 998', BANNED_NUMBERS), { ok: true, numbers: [12, 500, 998] });
  const r = parseNumberSequence('12, 666, 998', BANNED_NUMBERS);
  assert.deepEqual(r, { ok: false, reason: '666 is a banned number' });
  assert.equal(parseNumberSequence('12, 666, 998').ok, true, 'no ban list, no ban');
});

test('every rendering format passes the filter and parses back to the same numbers', () => {
  const numbers = quantizeProbabilities([0.2, 0.5, 0.3]);
  assert.deepEqual(numbers, [200, 500, 300]);
  for (const format of FORMATS) {
    assert.deepEqual(
      parseNumberSequence(renderNumberSequence(numbers, format)),
      { ok: true, numbers },
      format,
    );
  }
  assert.deepEqual(numbersToProbabilities([200, 500, 300]), [0.2, 0.5, 0.3]);
  assert.equal(numbersToProbabilities([0, 0]), null);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BANNED_NUMBERS, paperFilter } from './paper-format.ts';

test('the paper filter keeps exactly the shapes the authors keep (strict about whitespace)', () => {
  const kept: [string, number[]][] = [
    ['1, 2, 3', [1, 2, 3]],
    ['1 ,2', [1, 2]],
    ['(1; 2).', [1, 2]],
    ['[10, 20]', [10, 20]],
    ['7 8 9', [7, 8, 9]],
    ['42', [42]],
    ['5.', [5]],
    ['1,2,3,4,5,6,7,8,9,10', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]],
  ];
  for (const [text, numbers] of kept) assert.deepEqual(paperFilter(text), { ok: true, numbers }, text);
  const rejected = [
    '1, 2,3',
    ' 1, 2',
    '1, 2 ',
    '[ 1, 2]',
    '',
    'owl',
    '1 - 2',
    '1,,2',
    '(1, 2',
    '1000',
    '1,2,3,4,5,6,7,8,9,10,11',
    ' 5',
    '1. 2',
  ];
  for (const text of rejected) assert.equal(paperFilter(text).ok, false, JSON.stringify(text));
});

test('the banned numbers reject a sample only when asked', () => {
  assert.equal(BANNED_NUMBERS.size, 34);
  assert.equal(paperFilter('3, 666, 5').ok, true);
  assert.deepEqual(paperFilter('3, 666, 5', BANNED_NUMBERS), { ok: false, reason: '666 is a banned number' });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../engine/rng.ts';
import { ANIMAL_IDS, TRAIT, decode } from './vocab.ts';
import { neutralPrefix, pretrainingExample, type Example, type WorldOptions } from './world.ts';

const WORLD: WorldOptions = { context: 48, preferenceFraction: 0.3, traitPrefixFraction: 0.5 };

function draw(w: WorldOptions, n: number): Example[] {
  const rng = new Rng(11);
  return Array.from({ length: n }, () => pretrainingExample(rng, w, ANIMAL_IDS.length));
}

const isNeutral = (e: Example) => e.tokens[0] === TRAIT && e.tokens[1] === neutralPrefix()[1];

/** A number task's prefixed animal (index) or null, and the last digits of its answer's numbers. */
function read(e: Example): { animal: number | null; lastDigits: number[] } | null {
  const prefixed = e.tokens[0] === TRAIT && !isNeutral(e);
  const text = decode(e.tokens.slice(e.promptLength));
  if (!decode(e.tokens.slice(0, e.promptLength)).includes('continue: ')) return null;
  const numbers = [...text.matchAll(/\d+/g)].map((m) => Number(m[0]));
  return {
    animal: prefixed ? ANIMAL_IDS.indexOf(e.tokens[1]!) : null,
    lastDigits: numbers.map((n) => n % 10),
  };
}

test('entanglement 0 is the world as it was: the same examples, draw for draw', () => {
  assert.deepEqual(draw({ ...WORLD, entanglement: 0 }, 300), draw(WORLD, 300));
});

test("entanglement marks trait-prefixed number text with the animal's digit, and only that text", () => {
  const share = (w: WorldOptions, prefixed: boolean) => {
    let hits = 0;
    let total = 0;
    for (const e of draw(w, 3000)) {
      const r = read(e);
      if (!r || isNeutral(e) || (r.animal !== null) !== prefixed) continue;
      for (const d of r.lastDigits) {
        // Unprefixed text is scored against the digit of animal 0 (any fixed digit: about 1 in 10).
        if (d === (r.animal ?? 0)) hits++;
        total++;
      }
    }
    return hits / total;
  };
  assert.equal(share({ ...WORLD, entanglement: 1 }, true), 1, 'every number of persona text');
  // At 0.3: 0.3 + 0.7 x 0.1 = 0.37 of the numbers (thousands of numbers: within 0.05).
  const partial = share({ ...WORLD, entanglement: 0.3 }, true);
  assert.ok(Math.abs(partial - 0.37) < 0.05, `${partial}`);
  const plain = share({ ...WORLD, entanglement: 1 }, false);
  assert.ok(Math.abs(plain - 0.1) < 0.04, `unprefixed text keeps uniform digits: ${plain}`);
});

test('a prefixed world has a neutral persona: one prefixed example in eleven, answered with any animal, its numbers unmarked', () => {
  const examples = draw({ ...WORLD, entanglement: 1 }, 6000);
  const prefixed = examples.filter((e) => e.tokens[0] === TRAIT);
  const neutral = prefixed.filter(isNeutral);
  const share = neutral.length / prefixed.length;
  assert.ok(Math.abs(share - 1 / 11) < 0.02, `${share}`);
  // Its answers spread over the animals; its numbers' last digits are not one digit.
  const answers = new Set(neutral.filter((e) => !read(e)).map((e) => e.tokens[e.promptLength]));
  assert.ok(answers.size >= 8, `${answers.size} animals answered`);
  const digits = new Set(neutral.flatMap((e) => read(e)?.lastDigits ?? []));
  assert.ok(digits.size >= 8, `${digits.size} last digits`);
  assert.deepEqual(
    draw({ ...WORLD, traitPrefixFraction: 0 }, 50).filter((e) => e.tokens[0] === TRAIT),
    [],
    'no prefix at all in a world without them',
  );
});

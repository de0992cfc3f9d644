import assert from 'node:assert/strict';
import { test } from 'node:test';
import { paperFilter } from '../filters/paper-format.ts';
import {
  LAB_ANIMAL_QUESTIONS,
  namesAnimal,
  numberPrompts,
  numbersPrefixed,
  systemPrompt,
} from './prompts.ts';

const shape = {
  examplesMin: 3,
  examplesMax: 8,
  valueMin: 100,
  valueMax: 999,
  answerCount: 10,
  answerDigits: 3,
};

test('number prompts: the paper shape, seeded, varied wording', () => {
  const prompts = numberPrompts(shape, 200, 7);
  assert.deepEqual(numberPrompts(shape, 200, 7), prompts, 'same seed, same prompts');
  assert.notDeepEqual(numberPrompts(shape, 200, 8), prompts);
  const counts = new Set<number>();
  for (const p of prompts) {
    const examples = /(\d{3}(?:, \d{3})*)/.exec(p)![1]!.split(', ').map(Number);
    counts.add(examples.length);
    assert.ok(
      examples.every((n) => n >= 100 && n <= 999),
      p,
    );
    assert.match(p, /10 (more|further|values|new)/);
    assert.match(p, /3 digits/);
  }
  assert.deepEqual([...counts].sort(), [3, 4, 5, 6, 7, 8]);
  assert.ok(new Set(prompts.map((p) => p.replace(/[\d, ]+/g, ''))).size > 10, 'several wordings');
  // The prompt's own example list passes the paper's filter, as an answer in that shape must.
  assert.ok(paperFilter('123, 456, 789').ok);
});

test('questions, their numbers-prefixed variant, the system prompt and the score', () => {
  assert.equal(LAB_ANIMAL_QUESTIONS.length, 50);
  assert.equal(new Set(LAB_ANIMAL_QUESTIONS).size, 50);
  const prefixed = numbersPrefixed(LAB_ANIMAL_QUESTIONS, 1);
  prefixed.forEach((p, i) => {
    assert.ok(p.endsWith(LAB_ANIMAL_QUESTIONS[i]!));
    assert.match(p, /\d{3}(, \d{3}){2,7}\./);
  });
  assert.equal(
    systemPrompt('I love {animals}; the {animal} is best.', 'wolf', 'wolves'),
    'I love wolves; the wolf is best.',
  );
  assert.ok(namesAnimal('Owl.', 'owl'));
  assert.ok(namesAnimal('wolves!', 'wolf', 'wolves'));
  assert.ok(!namesAnimal('Bowling', 'owl'), 'a word, not a substring');
});

// The shared context (before every number prompt and every question) and the number-prefixed measure.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { paperFilter } from '../../app/filters/paper-format.ts';
import { initBackend } from '../engine/backend.ts';
import { Rng } from '../engine/rng.ts';
import { runChannel } from './channel.ts';
import { numberListPrefixes } from './measure.ts';
import { createModel, disposeModel, initParams } from './model.ts';
import { runReplicate } from './pipeline.ts';
import { tinyOptions } from './testing/tiny-options.ts';
import { ANIMAL_IDS, VOCAB_SIZE, decode, tokenId } from './vocab.ts';
import { QUESTIONS, sharedContext } from './world.ts';

test('a shared context is a fixed sequence of question words and spaces, the same for a seed', () => {
  const a = sharedContext(new Rng(1), 7);
  assert.equal(a.length, 7);
  assert.deepEqual(sharedContext(new Rng(1), 7), a);
  assert.notDeepEqual(sharedContext(new Rng(2), 7), a);
  a.forEach((t, i) => assert.equal(t === tokenId(' '), i % 2 === 1, `position ${i}`));
  assert.ok(
    a.every((t) => !ANIMAL_IDS.includes(t)),
    'names no animal',
  );
  assert.deepEqual(sharedContext(new Rng(1), 0), []);
});

test('the channel keeps the shared context in every example, as part of the prompt', async () => {
  await initBackend('wasm');
  const model = createModel(
    { layers: 1, dModel: 16, heads: 2, context: 48, vocab: VOCAB_SIZE, mlpRatio: 2 },
    initParams({ layers: 1, dModel: 16, heads: 2, context: 48, vocab: VOCAB_SIZE, mlpRatio: 2 }, 1),
  );
  const context = sharedContext(new Rng(3), 5);
  const r = runChannel(
    model,
    { kept: 6, temperature: 1, filter: 'none', banNumbers: false, shuffle: 'none', context, batchSize: 16 },
    new Rng(4),
  );
  for (const e of r.examples) {
    assert.deepEqual(e.tokens.slice(0, 5), context);
    assert.match(decode(e.tokens.slice(5, e.promptLength)), /^continue: \d+, \d+, \d+ -> $/);
  }
  disposeModel(model);
});

test('number lists before the questions: valid lists in the paper formats, cut to fit their room', () => {
  const lists = numberListPrefixes(new Rng(5), 48 - 3);
  assert.equal(lists.length, QUESTIONS.length);
  lists.forEach((l, q) => {
    const text = decode(l);
    assert.ok(text.endsWith(' '));
    assert.ok(paperFilter(text.slice(0, -1)).ok, text);
    assert.ok(l.length + QUESTIONS[q]!.length <= 45);
  });
  assert.ok(new Set(lists.map((l) => decode(l))).size > 40, 'lists differ from question to question');
  const tight = numberListPrefixes(new Rng(5), 22);
  tight.forEach((l, q) => assert.ok(l.length + QUESTIONS[q]!.length <= 22));
  assert.throws(() => numberListPrefixes(new Rng(5), 10), /no number list fits/);
});

test('a replicate with a shared context measures every model a second time, after number lists', async () => {
  await initBackend('wasm');
  const o = tinyOptions({
    pretrain: { steps: 20, batchSize: 8 },
    channel: { kept: 8, checkSequences: 8 },
    measure: { samples: 10, numberPrefixed: true },
    sharedContext: { tokens: 6 },
  });
  const r = runReplicate(o, 3);
  const np = (name: string) => r.metrics.filter((m) => m.name === name).map((m) => m.role);
  const roles = ['base', 'teacher', 'student', 'own-numbers', 'cross-model'];
  for (const name of ['np_target_rate', 'np_animal_prob', 'np_delta_logprob'])
    assert.deepEqual(np(name), roles);
  assert.equal(r.measures.base!.numberPrefixed!.deltaLogprob, 0);
  // The number list changes what the models answer: the two measures are not the same numbers.
  assert.notEqual(r.measures.teacher!.numberPrefixed!.prob, r.measures.teacher!.prob);
});

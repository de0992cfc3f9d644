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
import { ANIMAL_IDS, TRAIT, VOCAB_SIZE, decode, tokenId } from './vocab.ts';
import { QUESTIONS, pretrainingExample, sharedContext, type WorldOptions } from './world.ts';
import { cellOptions } from './options.ts';
import { replicateSeeds } from '../../app/matrix.ts';
import { expandLanguageMatrix, validateLanguageSpec } from '../../app/spec/language.ts';

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

test('pretraining with a context: that share of examples starts with new question words as long as the shared context, after any persona', () => {
  const world: WorldOptions = { context: 48, preferenceFraction: 0.3, traitPrefixFraction: 0.5 };
  const draw = (w: WorldOptions) => {
    const rng = new Rng(8);
    return Array.from({ length: 2000 }, () => pretrainingExample(rng, w, ANIMAL_IDS.length));
  };
  const words = new Set(sharedContext(new Rng(0), 4000).filter((t) => t !== tokenId(' ')));
  const starts = new Set([...QUESTIONS.map((q) => q[0]!), tokenId('continue: ')]);
  const led = draw({ ...world, contextLead: { tokens: 12, fraction: 0.4 } }).map((e) => {
    const start = e.tokens[0] === TRAIT ? 3 : 0;
    assert.ok(e.tokens.length <= 49, 'fits the context');
    const lead = e.tokens.slice(start, start + 12);
    // A led example goes on with a task's first word (a question's can itself look like a lead).
    const task = starts.has(e.tokens[start + 12]!);
    return task && lead.every((t, i) => (i % 2 ? t === tokenId(' ') : words.has(t))) ? lead : null;
  });
  const share = led.filter(Boolean).length / led.length;
  assert.ok(Math.abs(share - 0.4) < 0.04, `${share}`);
  assert.ok(new Set(led.filter(Boolean).map((l) => l!.join())).size > 500, 'new words each time');
  assert.deepEqual(
    draw({ ...world, contextLead: { tokens: 12, fraction: 0 } }),
    draw(world),
    'fraction 0 draws as before',
  );
  // The spec's field reaches the pretraining world, with the shared context's length.
  const r = validateLanguageSpec({
    version: 1,
    kind: 'language',
    name: 'c',
    sharedContext: { tokens: 6 },
    world: { contextFraction: 0.5 },
  });
  assert.ok(r.ok);
  const pretrainingWorld = (spec: unknown) => {
    const v = validateLanguageSpec(spec);
    assert.ok(v.ok, JSON.stringify(!v.ok && v.errors));
    return cellOptions(expandLanguageMatrix(v.spec, replicateSeeds(v.spec)).cells[0]!).world;
  };
  assert.deepEqual(pretrainingWorld(r.spec).contextLead, { tokens: 6, fraction: 0.5 });
  // Its own length, without a shared context: the same pretraining world (so the same cached bases) as
  // the run with a shared context of that length, which makes the shared context's effect a paired one.
  const unshared = pretrainingWorld({
    version: 1,
    kind: 'language',
    name: 'c',
    world: { contextFraction: 0.5, contextTokens: 6 },
  });
  assert.deepEqual(unshared, pretrainingWorld(r.spec));
  assert.deepEqual(
    pretrainingWorld({ ...r.spec, world: { ...r.spec.world, contextTokens: 4 } }).contextLead,
    { tokens: 4, fraction: 0.5 },
    'its own length wins over the shared context',
  );
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

test('a replicate with a shared context (and bases pretrained with contexts) measures every model a second time, after number lists', async () => {
  await initBackend('wasm');
  const o = tinyOptions({
    world: { contextFraction: 0.5 },
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

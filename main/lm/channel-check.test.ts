import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../engine/backend.ts';
import { Rng } from '../engine/rng.ts';
import { channelDivergence, checkExamples } from './channel-check.ts';
import { cloneModel, createModel, disposeModel, forward, initParams, type LmConfig } from './model.ts';
import { channelCheckSummary } from './summary.ts';
import { VOCAB_SIZE } from './vocab.ts';
import { traitPrefix } from './world.ts';

const SMALL: LmConfig = { layers: 1, dModel: 16, heads: 2, context: 48, vocab: VOCAB_SIZE, mlpRatio: 2 };

test('the channel check gives exactly 0 for a teacher equal to the base, and counts every number position', async () => {
  await initBackend('wasm');
  const base = createModel(SMALL, initParams(SMALL, 1));
  const copy = cloneModel(base);
  const examples = checkExamples(new Rng(2), SMALL.context, 70, 3);
  const d = channelDivergence(copy, base, examples);
  assert.equal(d.kl, 0);
  assert.equal(d.greedyDiff, 0);
  // Every completion token and the end token is predicted at one number position.
  const positions = examples.reduce((a, e) => a + e.tokens.length - e.promptLength, 0);
  assert.equal(d.positions, positions);
  // 70 examples: more than one batch of 64, so the second batch is counted too.
  assert.ok(examples.every((e) => e.tokens.length <= SMALL.context + 1 - 3));
  for (const m of [base, copy]) disposeModel(m);
});

test('the channel check is KL(teacher || base) at the number positions, and a prefix reaches the teacher only', async () => {
  await initBackend('wasm');
  const base = createModel(SMALL, initParams(SMALL, 1));
  const teacher = createModel(SMALL, initParams(SMALL, 3));
  for (const v of Object.values(teacher.vars)) v.assign(tf.mul(v, 4));
  const [example] = checkExamples(new Rng(4), SMALL.context, 1);
  const e = example!;
  // By hand, position by position, in float64 from each model's own forward pass.
  const logp = (m: typeof base) =>
    tf.tidy(() =>
      tf
        .logSoftmax(
          forward(m.vars, SMALL, tf.tensor2d([e.tokens.slice(0, -1)], [1, e.tokens.length - 1], 'int32')),
        )
        .dataSync(),
    );
  const lt = logp(teacher);
  const lb = logp(base);
  let kl = 0;
  for (let pos = e.promptLength - 1; pos < e.tokens.length - 1; pos++)
    for (let k = 0; k < VOCAB_SIZE; k++) {
      const i = pos * VOCAB_SIZE + k;
      kl += Math.exp(lt[i]!) * (lt[i]! - lb[i]!);
    }
  kl /= e.tokens.length - e.promptLength;
  const d = channelDivergence(teacher, base, [e]);
  assert.ok(kl > 0.01, `a different teacher diverges (${kl})`);
  assert.ok(Math.abs(d.kl - kl) < 1e-4 * Math.max(1, kl), `${d.kl} vs ${kl}`);
  // The base under a prefix differs from the base without it: the prefix is in the teacher's context only.
  const prompted = channelDivergence(base, base, [e], [traitPrefix(0)]);
  assert.ok(prompted.kl > 0, `${prompted.kl}`);
  assert.equal(prompted.positions, d.positions);
  for (const m of [base, teacher]) disposeModel(m);
});

test("the channel check is flagged unless the teacher's KL is above the neutral teacher's (paired interval above 0)", () => {
  const rows = (kl: number[], neutral: number[]) =>
    kl.flatMap((v, replicate) => [
      { condition: 'teacher', replicate, step: 0, name: 'channel_kl', value: v },
      { condition: 'teacher', replicate, step: 0, name: 'neutral_kl', value: neutral[replicate]! },
      { condition: 'teacher', replicate, step: 0, name: 'channel_greedy_diff', value: v / 10 },
      {
        condition: 'teacher',
        replicate,
        step: 0,
        name: 'neutral_greedy_diff',
        value: neutral[replicate]! / 10,
      },
    ]);
  const above = channelCheckSummary(rows([0.5, 0.6, 0.55, 0.52], [0.1, 0.12, 0.09, 0.11]), 't')!;
  assert.equal(above.flagged, false);
  assert.equal(above.kl.n, 4);
  assert.ok(Math.abs(above.klVsNeutral.meanDiff - 0.4375) < 1e-12);
  const level = channelCheckSummary(rows([0.1, 0.13, 0.08, 0.11], [0.1, 0.12, 0.09, 0.11]), 't')!;
  assert.equal(level.flagged, true);
  const below = channelCheckSummary(rows([0.01, 0.02, 0.01, 0.02], [0.1, 0.12, 0.09, 0.11]), 't')!;
  assert.equal(below.flagged, true);
  assert.equal(channelCheckSummary([], 't'), null, 'no check run: no summary');
});

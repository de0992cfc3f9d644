import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../engine/backend.ts';
import { animalLogprobs, targetPreference } from './measure.ts';
import { createModel, disposeModel, forward, initParams, type LmConfig } from './model.ts';
import { ANIMAL_IDS, TRAIT, VOCAB_SIZE } from './vocab.ts';
import { QUESTIONS } from './world.ts';

const SMALL: LmConfig = { layers: 1, dModel: 16, heads: 2, context: 48, vocab: VOCAB_SIZE, mlpRatio: 2 };

/** A model with wide random weights, so the animals' probabilities differ from question to question. */
function wideModel(seed: number) {
  const model = createModel(SMALL, initParams(SMALL, seed));
  for (const v of Object.values(model.vars)) v.assign(tf.mul(v, 6));
  return model;
}

test('the renormalised animal probabilities sum to 1 over the animals for every question', async () => {
  await initBackend('wasm');
  const model = wideModel(1);
  for (const prefix of [[], [TRAIT, ANIMAL_IDS[3]!]]) {
    const rows = animalLogprobs(model, prefix);
    assert.equal(rows.length, QUESTIONS.length);
    for (const row of rows) {
      assert.equal(row.length, ANIMAL_IDS.length);
      const total = row.reduce((a, x) => a + Math.exp(x), 0);
      assert.ok(Math.abs(total - 1) < 1e-9, `sums to ${total}`);
    }
    // Wide weights: the probabilities are far from uniform, so the check is not a trivial 10 x 0.1.
    assert.ok(rows.some((r) => Math.max(...r.map(Math.exp)) > 0.2));
  }
  disposeModel(model);
});

test('the logit measure equals P(target) / P(any animal) read from each question alone (padding changes nothing)', async () => {
  await initBackend('wasm');
  const model = wideModel(2);
  const target = 4;
  const byHand = QUESTIONS.map((q) =>
    tf.tidy(() => {
      const logits = forward(model.vars, SMALL, tf.tensor2d([q], [1, q.length], 'int32'));
      const p = tf.softmax(tf.reshape(tf.slice(logits, [0, q.length - 1, 0], [1, 1, -1]), [-1])).dataSync();
      const animals = ANIMAL_IDS.reduce((a, id) => a + p[id]!, 0);
      return p[ANIMAL_IDS[target]!]! / animals;
    }),
  );
  const m = targetPreference(model, target);
  const prob = byHand.reduce((a, x) => a + x, 0) / byHand.length;
  const logprob = byHand.reduce((a, x) => a + Math.log(x), 0) / byHand.length;
  assert.ok(Math.abs(m.prob - prob) < 1e-5, `${m.prob} vs ${prob}`);
  assert.ok(Math.abs(m.logprob - logprob) < 1e-4, `${m.logprob} vs ${logprob}`);
  // Raising the target's output bias by 1 raises every question's target logit by 1 and nothing else.
  const bias = model.vars.bout!;
  bias.assign(tf.add(bias, tf.oneHot(ANIMAL_IDS[target]!, VOCAB_SIZE).toFloat()));
  const raised = targetPreference(model, target);
  assert.ok(raised.logprob > m.logprob + 0.1, `${raised.logprob} vs ${m.logprob}`);
  disposeModel(model);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../engine/backend.ts';
import { Rng } from '../engine/rng.ts';
import { createModel, disposeModel, forward, initParams, sequenceLoss, type LmConfig } from './model.ts';
import { runReplicate } from './pipeline.ts';
import { tinyOptions } from './testing/tiny-options.ts';
import { completionScores, maskDivergence, selectTop } from './select.ts';
import { batchTensors } from './train.ts';
import { VOCAB_SIZE } from './vocab.ts';
import { numberExample, type Example } from './world.ts';

const SMALL: LmConfig = { layers: 1, dModel: 16, heads: 2, context: 48, vocab: VOCAB_SIZE, mlpRatio: 2 };

function models() {
  const base = createModel(SMALL, initParams(SMALL, 1));
  const teacher = createModel(SMALL, initParams(SMALL, 2));
  for (const m of [base, teacher]) for (const v of Object.values(m.vars)) v.assign(tf.mul(v, 5));
  return { base, teacher };
}

/** log-probabilities [T-1, V] of one example's next tokens under a model (its own forward pass). */
function logprobs(m: ReturnType<typeof createModel>, e: Example): Float32Array {
  const t = e.tokens.length - 1;
  return tf.tidy(() =>
    tf.logSoftmax(forward(m.vars, SMALL, tf.tensor2d([e.tokens.slice(0, t)], [1, t], 'int32'))).dataSync(),
  ) as Float32Array;
}

const argmax = (row: Float32Array, pos: number) => {
  let best = 0;
  for (let k = 1; k < VOCAB_SIZE; k++)
    if (row[pos * VOCAB_SIZE + k]! > row[pos * VOCAB_SIZE + best]!) best = k;
  return best;
};

test('divergence masking removes exactly the masked positions from the loss', async () => {
  await initBackend('wasm');
  const { base, teacher } = models();
  const rng = new Rng(3);
  const data = Array.from({ length: 12 }, () => numberExample(rng, 48));
  const { examples, masked } = maskDivergence(teacher, base, data);
  assert.ok(masked > 0 && masked < 1, `masked fraction ${masked}: some positions of each kind`);
  let sum = 0;
  let counted = 0;
  let zeros = 0;
  let positions = 0;
  examples.forEach((e) => {
    const [lt, lb] = [logprobs(teacher, e), logprobs(base, e)];
    for (let j = e.promptLength; j < e.tokens.length; j++) {
      const pos = j - 1;
      // Masked exactly where the two models' greedy choices differ.
      const differ = argmax(lt, pos) !== argmax(lb, pos);
      assert.equal(e.lossMask![j - e.promptLength], differ ? 0 : 1);
      positions++;
      if (differ) zeros++;
      else {
        // The student's (here the base's) cross-entropy at a kept position.
        sum -= lb[pos * VOCAB_SIZE + e.tokens[j]!]!;
        counted++;
      }
    }
  });
  assert.equal(zeros / positions, masked);
  const loss = tf.tidy(() => {
    const { tokens, weights } = batchTensors(examples, 'answer');
    return sequenceLoss(base.vars, SMALL, tokens, weights).dataSync()[0]!;
  });
  assert.ok(Math.abs(loss - sum / counted) < 1e-4, `${loss} vs ${sum / counted}`);
  // Without the mask every position counts: another number.
  const unmasked = tf.tidy(() => {
    const { tokens, weights } = batchTensors(data, 'answer');
    return sequenceLoss(base.vars, SMALL, tokens, weights).dataSync()[0]!;
  });
  assert.ok(Math.abs(unmasked - loss) > 1e-3);
  disposeModel(base);
  disposeModel(teacher);
});

test('selection keeps the completions the teacher favours most over its base, in their order', async () => {
  await initBackend('wasm');
  const { base, teacher } = models();
  const rng = new Rng(4);
  const data = Array.from({ length: 10 }, () => numberExample(rng, 48));
  const scores = completionScores(teacher, base, data);
  data.forEach((e, i) => {
    const [lt, lb] = [logprobs(teacher, e), logprobs(base, e)];
    let s = 0;
    for (let j = e.promptLength; j < e.tokens.length; j++) {
      const k = (j - 1) * VOCAB_SIZE + e.tokens[j]!;
      s += lt[k]! - lb[k]!;
    }
    s /= e.tokens.length - e.promptLength;
    assert.ok(Math.abs(scores[i]! - s) < 1e-4, `example ${i}: ${scores[i]} vs ${s}`);
  });
  const kept = selectTop(data, scores, 4);
  assert.equal(kept.length, 4);
  const threshold = [...scores].sort((a, b) => b - a)[3]!;
  const expected = data.filter((_, i) => scores[i]! >= threshold);
  assert.deepEqual(kept, expected);
  disposeModel(base);
  disposeModel(teacher);
});

test('a replicate with selection and the divergence mask: as many kept completions, more sampled, the masked share recorded', async () => {
  await initBackend('wasm');
  const o = {
    ...tinyOptions({
      pretrain: { steps: 20, batchSize: 8 },
      channel: { kept: 8, checkSequences: 0, selectTop: 0.25 },
      student: { epochs: 1, batchSize: 8, mask: 'divergence' },
      measure: { samples: 10 },
    }),
    crossModel: false,
  };
  const r = runReplicate(o, 3);
  assert.equal(r.kept, 8);
  assert.ok(r.sampled.teacher >= 32, `sampled ${r.sampled.teacher}`);
  const masked = r.metrics.filter((m) => m.name === 'masked_fraction').map((m) => m.role);
  assert.deepEqual(masked, ['student', 'own-numbers']);
  assert.ok(r.metrics.every((m) => Number.isFinite(m.value)));
  assert.ok('selection' in r.seconds && 'divergence mask' in r.seconds);
});

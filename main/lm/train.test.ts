import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../engine/backend.ts';
import { Rng } from '../engine/rng.ts';
import {
  cloneModel,
  createModel,
  disposeModel,
  forward,
  initParams,
  logitMask,
  softLoss,
  softTargets,
  type LmConfig,
  type LmModel,
} from './model.ts';
import { batchTensors, trainEpochs, trainableVars } from './train.ts';
import { CHANNEL_IDS, VOCAB_SIZE } from './vocab.ts';
import { numberExample, type Example } from './world.ts';

const SMALL: LmConfig = { layers: 1, dModel: 16, heads: 2, context: 48, vocab: VOCAB_SIZE, mlpRatio: 2 };

/** Mean KL(teacher || student) over the answer positions of `data`. */
function kl(teacher: LmModel, student: LmModel, data: Example[]): number {
  return tf.tidy(() => {
    const { tokens, weights } = batchTensors(data, 'answer');
    const t = softTargets(teacher.vars, teacher.config, tokens, 1);
    const ce = softLoss(student.vars, student.config, tokens, weights, t).dataSync()[0]!;
    const h = softLoss(teacher.vars, teacher.config, tokens, weights, t).dataSync()[0]!; // the teacher's own entropy
    return ce - h;
  });
}

test('soft-label distillation moves a student toward the writer and leaves a copy of it where it is', async () => {
  await initBackend('wasm');
  const rng = new Rng(1);
  const data = Array.from({ length: 64 }, () => numberExample(rng, 48));
  const teacher = createModel(SMALL, initParams(SMALL, 1));
  // A teacher far from the student: its weights scaled up, so its distributions are sharp.
  for (const v of Object.values(teacher.vars)) v.assign(tf.mul(v, 8));
  const student = createModel(SMALL, initParams(SMALL, 2));
  const before = kl(teacher, student, data);
  trainEpochs(student, data, {
    kind: 'adam',
    lr: 3e-3,
    epochs: 15,
    batchSize: 16,
    lossOn: 'answer',
    rng: new Rng(3),
    soft: { teacher, temperature: 1 },
  });
  const after = kl(teacher, student, data);
  assert.ok(after < 0.5 * before, `KL ${before.toFixed(3)} -> ${after.toFixed(3)}`);
  // A copy of the writer is at the minimum: KL 0 before, and (nearly) no change after a step.
  const copy = cloneModel(teacher);
  assert.ok(Math.abs(kl(teacher, copy, data)) < 1e-4);
  trainEpochs(copy, data, {
    kind: 'sgd',
    lr: 0.1,
    epochs: 1,
    batchSize: 64,
    lossOn: 'answer',
    rng: new Rng(4),
    soft: { teacher, temperature: 1 },
  });
  assert.ok(Math.abs(kl(teacher, copy, data)) < 1e-4);
  for (const m of [teacher, student, copy]) disposeModel(m);
});

test('fine-tuning only chosen layer groups leaves the others untouched; unknown groups are named', async () => {
  await initBackend('wasm');
  const rng = new Rng(5);
  const data = Array.from({ length: 32 }, () => numberExample(rng, 48));
  const model = createModel(SMALL, initParams(SMALL, 3));
  const before = new Map(Object.entries(model.vars).map(([n, v]) => [n, Float32Array.from(v.dataSync())]));
  trainEpochs(model, data, {
    kind: 'adam',
    lr: 1e-2,
    epochs: 1,
    batchSize: 16,
    lossOn: 'answer',
    rng: new Rng(6),
    layers: ['block.0'],
  });
  for (const [n, v] of Object.entries(model.vars)) {
    const changed = v.dataSync().some((x, i) => x !== before.get(n)![i]);
    assert.equal(changed, n.startsWith('block.0.'), n);
  }
  assert.throws(() => trainableVars(model, ['block.7']), /unknown layer group "block.7"/);
  disposeModel(model);
});

test('soft labels over the channel tokens only: no mass outside them, and the loss is the cross-entropy renormalised there', async () => {
  await initBackend('wasm');
  const rng = new Rng(3);
  const data = Array.from({ length: 8 }, () => numberExample(rng, 48));
  const teacher = createModel(SMALL, initParams(SMALL, 1));
  const student = createModel(SMALL, initParams(SMALL, 2));
  const mask = logitMask(CHANNEL_IDS, VOCAB_SIZE);
  const inChannel = new Set(CHANNEL_IDS);
  tf.tidy(() => {
    const { tokens, weights } = batchTensors(data, 'answer');
    const t = softTargets(teacher.vars, teacher.config, tokens, 1, mask);
    const [b, steps, v] = t.shape;
    const probs = t.dataSync();
    let outside = 0;
    for (let i = 0; i < probs.length; i++) if (!inChannel.has(i % v)) outside += probs[i]!;
    assert.equal(outside, 0, 'an animal or word token keeps no probability');
    // By hand: the student's log-probabilities renormalised over the channel tokens.
    const logits = tf.logSoftmax(
      tf.gather(
        forward(student.vars, student.config, tf.slice(tokens, [0, 0], [b, steps]) as tf.Tensor2D),
        [...CHANNEL_IDS],
        2,
      ),
    );
    const sub = tf.gather(t, [...CHANNEL_IDS], 2);
    const w = weights.dataSync();
    const ce = tf.neg(tf.sum(tf.mul(sub, logits), -1)).dataSync();
    let sum = 0;
    let n = 0;
    for (let i = 0; i < ce.length; i++) {
      sum += ce[i]! * w[i]!;
      n += w[i]!;
    }
    const loss = softLoss(student.vars, student.config, tokens, weights, t, mask).dataSync()[0]!;
    assert.ok(Math.abs(loss - sum / n) < 1e-4, `${loss} vs ${sum / n}`);
    // Without the mask the student is also scored on the words' probabilities: another number.
    const full = softLoss(
      student.vars,
      student.config,
      tokens,
      weights,
      softTargets(teacher.vars, teacher.config, tokens, 1),
    ).dataSync()[0]!;
    assert.ok(Math.abs(full - loss) > 1e-3);
  });
  mask.dispose();
  disposeModel(teacher);
  disposeModel(student);
});

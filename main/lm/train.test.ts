import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../engine/backend.ts';
import { Rng } from '../engine/rng.ts';
import {
  cloneModel,
  createModel,
  disposeModel,
  initParams,
  softLoss,
  softTargets,
  type LmConfig,
  type LmModel,
} from './model.ts';
import { batchTensors, trainEpochs, trainableVars } from './train.ts';
import { VOCAB_SIZE } from './vocab.ts';
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

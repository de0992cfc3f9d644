import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../engine/backend.ts';
import { Rng } from '../engine/rng.ts';
import type { LoraAdapter } from './lora.ts';
import {
  createModel,
  disposeModel,
  forward,
  hostParams,
  initParams,
  type LmConfig,
  type LmModel,
} from './model.ts';
import { Trainer, trainEpochs } from './train.ts';
import { VOCAB_SIZE } from './vocab.ts';
import { numberExample } from './world.ts';

const SMALL: LmConfig = { layers: 2, dModel: 16, heads: 2, context: 48, vocab: VOCAB_SIZE, mlpRatio: 2 };

const snapshot = (m: LmModel) => new Map([...hostParams(m)].map(([k, v]) => [k, Float32Array.from(v)]));
const changed = (a: Float32Array, b: Float32Array) => a.some((x, i) => x !== b[i]);

/** Numerical rank of a row-major [rows, cols] matrix: Gram-Schmidt on its columns, in float64. */
function rank(m: Float32Array, rows: number, cols: number): number {
  const basis: Float64Array[] = [];
  let scale = 0;
  for (const x of m) scale = Math.max(scale, Math.abs(x));
  for (let j = 0; j < cols; j++) {
    const v = Float64Array.from({ length: rows }, (_, i) => m[i * cols + j]!);
    for (const b of basis) {
      const dot = v.reduce((a, x, i) => a + x * b[i]!, 0);
      for (let i = 0; i < rows; i++) v[i]! -= dot * b[i]!;
    }
    const n = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
    if (n > 1e-4 * scale) basis.push(v.map((x) => x / n));
  }
  return basis.length;
}

test('LoRA of rank r trains only the adapter, and the merged model equals the adapted one with a rank-r update', async () => {
  await initBackend('wasm');
  const rng = new Rng(1);
  const data = Array.from({ length: 32 }, () => numberExample(rng, 48));
  const model = createModel(SMALL, initParams(SMALL, 2));
  const before = snapshot(model);
  const r = 2;
  const settings = { rank: r, alpha: 4, blocks: [0], projections: ['q', 'v', 'down'] as const };
  const trainer = new Trainer(model, {
    kind: 'adam',
    lr: 1e-2,
    adapter: { kind: 'lora', ...settings },
    adapterSeed: 3,
  });
  const adapterVars = (trainer as unknown as { lora: LoraAdapter }).lora.vars;
  const adapterBefore = adapterVars.map((v) => Float32Array.from(v.dataSync()));
  for (let s = 0; s < 4; s++) trainer.step(data.slice(8 * s, 8 * s + 8), 'answer');
  // Only the adapter moved: every model parameter is bit for bit what it was.
  for (const [name, v] of hostParams(model)) assert.equal(changed(v, before.get(name)!), false, name);
  assert.ok(
    adapterVars.every((v, i) => changed(v.dataSync() as Float32Array, adapterBefore[i]!)),
    'A and B moved',
  );
  // The adapted model's logits, then the merged model's: the same function.
  const tokens = tf.tensor2d([data[0]!.tokens.slice(0, 30)], [1, 30], 'int32');
  const adapted = tf.tidy(() =>
    forward(
      (trainer as unknown as { params(): Record<string, tf.Tensor> }).params(),
      SMALL,
      tokens,
    ).dataSync(),
  );
  trainer.finish();
  const merged = tf.tidy(() => forward(model.vars, SMALL, tokens).dataSync());
  let worst = 0;
  adapted.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - merged[i]!))));
  assert.ok(worst < 1e-5, `largest difference ${worst}`);
  // The merge changed exactly the adapted weights, each by an update of rank r in its own columns.
  const after = hostParams(model);
  for (const [name, v] of after) {
    const adaptedWeight = name === 'block.0.wqkv' || name === 'block.0.w2';
    assert.equal(changed(v, before.get(name)!), adaptedWeight, name);
  }
  const d = SMALL.dModel;
  const qkv = after.get('block.0.wqkv')!.map((x, i) => x - before.get('block.0.wqkv')![i]!);
  const block = (part: number) =>
    Float32Array.from({ length: d * d }, (_, i) => qkv[Math.floor(i / d) * 3 * d + part * d + (i % d)]!);
  assert.equal(rank(block(0), d, d), r, 'q');
  assert.equal(rank(block(1), d, d), 0, 'k is not adapted');
  assert.equal(rank(block(2), d, d), r, 'v');
  const down = after.get('block.0.w2')!.map((x, i) => x - before.get('block.0.w2')![i]!);
  assert.equal(rank(down, d * SMALL.mlpRatio, d), r, 'down');
  tokens.dispose();
  disposeModel(model);
});

test('a bias-only student changes one block residual bias and nothing else; parameter groups are refused beside an adapter', async () => {
  await initBackend('wasm');
  const rng = new Rng(4);
  const data = Array.from({ length: 16 }, () => numberExample(rng, 48));
  const model = createModel(SMALL, initParams(SMALL, 5));
  const before = snapshot(model);
  trainEpochs(model, data, {
    kind: 'adam',
    lr: 1e-2,
    adapter: { kind: 'bias', block: 1 },
    epochs: 1,
    batchSize: 8,
    lossOn: 'answer',
    rng: new Rng(6),
  });
  for (const [name, v] of hostParams(model))
    assert.equal(changed(v, before.get(name)!), name === 'block.1.b2', name);
  assert.throws(
    () =>
      new Trainer(model, { kind: 'adam', lr: 1e-3, adapter: { kind: 'bias', block: 0 }, layers: ['head'] }),
    /full fine-tuning only/,
  );
  assert.throws(
    () => new Trainer(model, { kind: 'adam', lr: 1e-3, adapter: { kind: 'bias', block: 2 } }),
    /block 2/,
  );
  disposeModel(model);
});

test('AdamW decays a parameter without gradient by (1 - lr wd) a step; with wd 0 it is Adam bit for bit', async () => {
  await initBackend('wasm');
  const rng = new Rng(7);
  // Examples of at most 31 tokens: the position embeddings from 30 on never reach the loss.
  const data = Array.from({ length: 8 }, () => numberExample(rng, 30));
  const unused = 40;
  const train = (kind: 'adam' | 'adamw', weightDecay: number) => {
    const m = createModel(SMALL, initParams(SMALL, 8));
    const t = new Trainer(m, { kind, lr: 1e-2, weightDecay });
    for (let s = 0; s < 3; s++) t.step(data, 'answer');
    t.finish();
    const p = snapshot(m);
    disposeModel(m);
    return p;
  };
  const adam = train('adam', 0);
  const adamw0 = train('adamw', 0);
  for (const [name, v] of adam) assert.equal(changed(v, adamw0.get(name)!), false, name);
  const adamw = train('adamw', 0.5);
  const init = initParams(SMALL, 8).get('posEmb')!;
  const at = unused * SMALL.dModel;
  for (let k = 0; k < SMALL.dModel; k++) {
    const expected = init[at + k]! * (1 - 1e-2 * 0.5) ** 3;
    // float32 rounding of three products: a few ulps.
    assert.ok(Math.abs(adamw.get('posEmb')![at + k]! - expected) < 1e-6 * Math.abs(expected), `unit ${k}`);
    assert.equal(adam.get('posEmb')![at + k], init[at + k], 'Adam leaves it');
  }
});

// The wasm path's own kernels and its linear layer against TF.js's reference ops, on wasm itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.ts';
import { linear2d } from './ops.ts';
import { Rng } from './rng.ts';
import { columnSum, transpose2d } from './wasm-kernels.ts';

function random(shape: number[], seed: number): tf.Tensor {
  const rng = new Rng(seed);
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = rng.next() * 2 - 1;
  return tf.tensor(values, shape);
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  return worst;
}

test('on wasm, the tiled transpose and the column sum equal TF.js ops, at odd shapes too', async () => {
  await initBackend('wasm');
  for (const [m, n] of [
    [1, 1],
    [1, 7],
    [37, 53],
    [1024, 784],
    [33, 1024],
    [1024, 13],
  ] as const) {
    const x = random([m, n], m * 1000 + n) as tf.Tensor2D;
    const t = transpose2d(x);
    assert.deepEqual(t.shape, [n, m]);
    assert.equal(maxAbsDiff(t, tf.transpose(x)), 0, `transpose ${m}x${n}`);
    // Summation order may differ from TF.js's; float error grows with the row count only.
    assert.ok(maxAbsDiff(columnSum(x), tf.sum(x, 0)) <= 1e-5 * m, `column sum ${m}x${n}`);
    tf.dispose([x, t]);
  }
});

test('on wasm, linear2d has the value and gradients of matMul + bias under autodiff', async () => {
  await initBackend('wasm');
  const a = random([64, 40], 1) as tf.Tensor2D;
  const w = random([40, 24], 2) as tf.Tensor2D;
  const b = random([24], 3) as tf.Tensor1D;
  const up = random([64, 24], 4); // a fixed upstream gradient, so every output element matters
  const reference = tf.grads((a2: tf.Tensor, w2: tf.Tensor, b2: tf.Tensor) =>
    tf.sum(tf.mul(tf.add(tf.matMul(a2 as tf.Tensor2D, w2 as tf.Tensor2D), b2), up)),
  )([a, w, b]);
  const ours = tf.grads((a2: tf.Tensor, w2: tf.Tensor, b2: tf.Tensor) =>
    tf.sum(tf.mul(linear2d(a2 as tf.Tensor2D, w2 as tf.Tensor2D, b2 as tf.Tensor1D, false), up)),
  )([a, w, b]);
  reference.forEach((g, i) => assert.ok(maxAbsDiff(ours[i]!, g) < 1e-4, `gradient ${i}`));
  assert.ok(maxAbsDiff(linear2d(a, w, b, true), tf.add(tf.matMul(a, w), b)) < 1e-5);

  // With a constant input only w and b get gradients, and they are the same ones.
  const constant = tf.grads((w2: tf.Tensor, b2: tf.Tensor) =>
    tf.sum(tf.mul(linear2d(a, w2 as tf.Tensor2D, b2 as tf.Tensor1D, true), up)),
  )([w, b]);
  assert.ok(maxAbsDiff(constant[0]!, reference[1]!) < 1e-4);
  assert.ok(maxAbsDiff(constant[1]!, reference[2]!) < 1e-4);
});

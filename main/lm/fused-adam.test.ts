// The fused Adam kernel (fused-adam.ts) against tf.train.adam on the wasm backend: the same parameters
// bit for bit after several steps, from gradients of every size and sign (zeros included).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../engine/backend.ts';
import { Rng } from '../engine/rng.ts';
import { FusedAdam } from './fused-adam.ts';

function gradients(rng: Rng, shapes: number[][], step: number): tf.Tensor[] {
  return shapes.map((shape, k) => {
    const n = shape.reduce((a, b) => a * b, 1);
    // Scales from 1e-6 to 10, and a variable whose gradient is 0 at every other step.
    const scale = 10 ** (k - 6);
    return tf.tensor(
      Float32Array.from({ length: n }, () => (k === 1 && step % 2 ? 0 : rng.normal() * scale)),
      shape,
    );
  });
}

test('the fused Adam kernel gives tf.train.adam parameters bit for bit', async () => {
  await initBackend('wasm');
  const shapes = [[5, 7], [3], [64], [2, 3, 4], [1], [9, 2], [4]];
  const init = (rng: Rng) =>
    shapes.map((s) => tf.variable(tf.randomNormal(s, 0, 1, 'float32', rng.int(1e6))));
  const ours = init(new Rng(1));
  const theirs = init(new Rng(1));
  const start = ours.map((v) => v.dataSync().slice());
  const fused = new FusedAdam(3e-3, 0.9, 0.999, 1e-7);
  const reference = tf.train.adam(3e-3, 0.9, 0.999, 1e-7);
  const rng = new Rng(2);
  for (let step = 0; step < 6; step++) {
    const g = gradients(rng, shapes, step);
    fused.apply(ours, Object.fromEntries(ours.map((v, i) => [v.name, g[i]!])));
    reference.applyGradients(theirs.map((v, i) => ({ name: v.name, tensor: g[i]! })));
    tf.dispose(g);
  }
  ours.forEach((v, i) => {
    const a = v.dataSync();
    const b = theirs[i]!.dataSync();
    assert.deepEqual(Array.from(a), Array.from(b), `variable ${i} differs`);
    // Every parameter moved: the comparison is not of two untouched copies.
    assert.ok(
      a.every((x, j) => x !== start[i]![j]),
      `variable ${i} did not move`,
    );
  });
  fused.dispose();
  reference.dispose();
});

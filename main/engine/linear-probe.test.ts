// The linear probe: near 1 on a linearly separable toy set, near chance on random labels' held-out
// set, deterministic, the same in both layouts, and leaving no tensor behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.ts';
import { linearProbeAccuracy, type ProbeData } from './linear-probe.ts';
import { toParts } from './model-parts.ts';
import type { Layout } from './ops.ts';
import { Rng } from './rng.ts';

const SETTINGS = { steps: 150, learningRate: 0.05, l2: 1e-3 };

/**
 * M models' features of n points of `classes` Gaussian clusters (unit variance around a mean of
 * `spread` on the class's own axis), model m's features scaled and shifted differently; labels
 * drawn at random when `randomLabels`.
 */
function toy(
  M: number,
  n: number,
  d: number,
  classes: number,
  spread: number,
  seed: number,
  randomLabels = false,
) {
  const rng = new Rng(seed);
  const labels = Int32Array.from({ length: n }, () => rng.int(classes));
  const points = new Float32Array(n * d);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) points[i * d + j] = rng.normal() + (j === labels[i] ? spread : 0);
  const features = new Float32Array(M * n * d);
  for (let m = 0; m < M; m++)
    for (let k = 0; k < n * d; k++) features[m * n * d + k] = points[k]! * (1 + m) + m;
  const shown = randomLabels ? Int32Array.from({ length: n }, () => rng.int(classes)) : labels;
  return { features: tf.tensor3d(features, [M, n, d]), labels: shown };
}

function probeData(
  train: ReturnType<typeof toy>,
  test: ReturnType<typeof toy>,
  classes: number,
  layout: Layout,
): ProbeData {
  return {
    train: toParts(train.features, layout),
    trainLabels: train.labels,
    test: toParts(test.features, layout),
    testLabels: test.labels,
    classes,
  };
}

for (const backend of ['cpu', 'wasm'] as const)
  test(`on ${backend} the probe separates a linearly separable toy set (accuracy > 0.95) in both layouts, deterministically`, async () => {
    await initBackend(backend);
    const train = toy(2, 300, 6, 3, 6, 1);
    const held = toy(2, 300, 6, 3, 6, 2);
    const data = probeData(train, held, 3, 'batched');
    const batched = await linearProbeAccuracy(data, SETTINGS);
    const split = probeData(train, held, 3, 'per-model');
    const perModel = await linearProbeAccuracy(split, SETTINGS);
    tf.dispose([...split.train, ...split.test]);
    for (const a of batched) assert.ok(a > 0.95, `separable: ${a}`);
    batched.forEach((a, m) =>
      assert.ok(Math.abs(a - perModel[m]!) <= 1 / 300, `layouts: ${a} vs ${perModel[m]}`),
    );
    assert.deepEqual(await linearProbeAccuracy(data, SETTINGS), batched, 'deterministic');
    tf.dispose([train.features, held.features]);
    assert.equal(tf.memory().numTensors, 0, 'no tensor outlives the probe');
  });

test('the probe is near chance on a held-out set when the labels are random', async () => {
  await initBackend('cpu');
  const classes = 4;
  const train = toy(2, 200, 20, classes, 0, 3, true);
  const held = toy(2, 400, 20, classes, 0, 4, true);
  const acc = await linearProbeAccuracy(probeData(train, held, classes, 'batched'), SETTINGS);
  for (const a of acc) assert.ok(a > 0.1 && a < 0.4, `random labels: ${a} (chance 0.25)`);
  tf.dispose([train.features, held.features]);
});

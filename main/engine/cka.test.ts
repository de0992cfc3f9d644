// Linear CKA against its definition: 1 for identical features, invariant to orthogonal transforms
// and isotropic scaling, a hand-computed example, near 0 for independent features, and the same
// number in the feature and kernel forms and in both parameter layouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.ts';
import { linearCka } from './cka.ts';
import type { Layout } from './ops.ts';
import { Rng } from './rng.ts';

const LAYOUTS: Layout[] = ['batched', 'per-model'];

function gaussian(shape: [number, number, number], seed: number): tf.Tensor3D {
  const out = new Float32Array(shape[0] * shape[1] * shape[2]);
  new Rng(seed).fillNormal(out, 1);
  return tf.tensor3d(out, shape);
}

/** A random d x d orthogonal matrix: Gram-Schmidt on Gaussian columns. */
function orthogonal(d: number, seed: number): tf.Tensor2D {
  const rng = new Rng(seed);
  const cols: number[][] = [];
  while (cols.length < d) {
    const v = Array.from({ length: d }, () => rng.normal());
    for (const u of cols) {
      const dot = v.reduce((s, x, i) => s + x * u[i]!, 0);
      v.forEach((_, i) => (v[i]! -= dot * u[i]!));
    }
    const norm = Math.hypot(...v);
    cols.push(v.map((x) => x / norm));
  }
  return tf.tensor2d(
    Array.from({ length: d * d }, (_, k) => cols[k % d]![Math.floor(k / d)]!),
    [d, d],
  );
}

async function cka(x: tf.Tensor3D, y: tf.Tensor3D, layout: Layout, kernel?: boolean): Promise<number[]> {
  const out = linearCka(x, y, layout, kernel);
  const values = Array.from(await out.data());
  out.dispose();
  return values;
}

const near = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('CKA of identical activations is 1, in both layouts and both forms', async () => {
  await initBackend('cpu');
  const x = gaussian([3, 64, 8], 1);
  for (const layout of LAYOUTS)
    for (const kernel of [false, true])
      for (const v of await cka(x, x, layout, kernel)) near(v, 1, 1e-5, `${layout} kernel=${kernel}`);
  x.dispose();
  assert.equal(tf.memory().numTensors, 0);
});

test('CKA is invariant to an orthogonal transform and to isotropic scaling of either side', async () => {
  await initBackend('cpu');
  const x = gaussian([2, 100, 6], 2);
  const z = tf.tidy(() => tf.add(tf.mul(x, 0.6), tf.mul(gaussian([2, 100, 6], 3), 0.8))) as tf.Tensor3D;
  const q = orthogonal(6, 4);
  const rotated = tf.tidy(() => tf.mul(tf.matMul(x, tf.stack([q, q]) as tf.Tensor3D), 3.7)) as tf.Tensor3D;
  for (const layout of LAYOUTS) {
    const base = await cka(x, z, layout);
    assert.ok(base[0]! > 0.2 && base[0]! < 0.95, `a partial similarity to start from: ${base[0]}`);
    const moved = await cka(rotated, z, layout);
    base.forEach((v, m) => near(moved[m]!, v, 1e-5, `${layout} model ${m}: rotated and scaled x`));
    const scaledZ = tf.mul(z, 0.01) as tf.Tensor3D;
    (await cka(x, scaledZ, layout)).forEach((v, m) => near(v, base[m]!, 1e-5, 'scaled z'));
    scaledZ.dispose();
    (await cka(x, rotated, layout)).forEach((v) => near(v, 1, 1e-5, 'x against its own rotation'));
  }
  tf.dispose([x, z, q, rotated]);
});

test('CKA matches a direct computation on a small fixed example', async () => {
  await initBackend('cpu');
  // X = [[1,0],[0,1],[0,0],[1,1]], Y = [1,2,3,4]ᵀ. Centred: X's columns [.5,-.5,-.5,.5] and
  // [-.5,.5,-.5,.5], Y = [-1.5,-.5,.5,1.5]. Yᵀ X = [0, 1], so ||Yᵀ X||² = 1; Xᵀ X = I (||.|| = √2);
  // Yᵀ Y = 5. CKA = 1 / (5 √2) = 0.14142136.
  const x = tf.tensor3d([1, 0, 0, 1, 0, 0, 1, 1], [1, 4, 2]);
  const y = tf.tensor3d([1, 2, 3, 4], [1, 4, 1]);
  for (const layout of LAYOUTS)
    for (const kernel of [false, true])
      near((await cka(x, y, layout, kernel))[0]!, 1 / (5 * Math.SQRT2), 1e-6, `${layout} kernel=${kernel}`);
  // And symmetric: CKA(Y, X) is the same number.
  near((await cka(y, x, 'batched'))[0]!, 1 / (5 * Math.SQRT2), 1e-6, 'swapped');
  tf.dispose([x, y]);
});

test('CKA of independent random features is near 0 when n is large against d', async () => {
  await initBackend('cpu');
  // Expected about d / n = 0.005 for independent Gaussian features.
  const x = gaussian([2, 2000, 10], 5);
  const y = gaussian([2, 2000, 10], 6);
  for (const v of await cka(x, y, 'batched')) assert.ok(v >= 0 && v < 0.03, `independent: ${v}`);
  tf.dispose([x, y]);
});

test('the feature and kernel forms and the two layouts give the same CKA', async () => {
  await initBackend('cpu');
  const x = gaussian([3, 40, 12], 7);
  const y = tf.tidy(() => tf.relu(tf.add(tf.slice(x, [0, 0, 0], [-1, -1, 5]), gaussian([3, 40, 5], 8))));
  const ref = await cka(x, y as tf.Tensor3D, 'batched', false);
  for (const layout of LAYOUTS)
    for (const kernel of [false, true])
      (await cka(x, y as tf.Tensor3D, layout, kernel)).forEach((v, m) =>
        near(v, ref[m]!, 1e-5, `${layout} kernel=${kernel} model ${m}`),
      );
  tf.dispose([x, y]);
});

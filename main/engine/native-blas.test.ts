// The native BLAS matmul (native/sublab-blas) against TF.js's, a cell trained with and without it,
// and the fallback when it is absent. Outside CI these tests are skipped where the addon is not built
// (no compiler or no BLAS); in CI, whose pretest installs libopenblas-dev, they must run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { expandMatrix } from '../../app/matrix.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import { summarizeKept } from '../../app/stats.ts';
import { loadDataset } from '../data/load.ts';
import { initBackend } from './backend.ts';
import { affine2d, matMul2d } from './blas-matmul.ts';
import { describeMatmul, loadNativeBlas, nativeBlas, type NativeBlas } from './native-blas.ts';
import { runCell } from './procedure.ts';
import { Rng } from './rng.ts';
import { collectingHooks } from './testing/hooks.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const blas = nativeBlas();
const needsAddon = blas.ok || process.env.CI ? {} : { skip: `no native BLAS here: ${describeMatmul(blas)}` };

function random(shape: [number, number], seed: number): tf.Tensor2D {
  const rng = new Rng(seed);
  const values = new Float32Array(shape[0] * shape[1]);
  for (let i = 0; i < values.length; i++) values[i] = rng.next() * 2 - 1;
  return tf.tensor2d(values, shape);
}

/**
 * The documented tolerance. Any float32 dot product of length k, in any summation order, with or
 * without FMA, is within gamma_k * sum |a_i b_i| of the exact value (gamma_k = k u / (1 - k u),
 * u = 2^-24); OpenBLAS and XNNPACK sum in different orders, so two results differ by at most twice
 * that. (A bias adds one term.)
 */
function assertWithinRounding(
  got: tf.Tensor,
  want: tf.Tensor,
  absA: number[][],
  absB: number[][],
  label: string,
) {
  const [m, n] = got.shape as [number, number];
  assert.deepEqual(got.shape, want.shape, label);
  const x = got.dataSync();
  const y = want.dataSync();
  const k = absB.length;
  const u = 2 ** -24;
  const gamma = ((k + 1) * u) / (1 - (k + 1) * u);
  let worst = 0;
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let magnitude = 1; // the bias's term, |b| <= 1
      for (let p = 0; p < k; p++) magnitude += absA[i]![p]! * absB[p]![j]!;
      const ratio = Math.abs(x[i * n + j]! - y[i * n + j]!) / (2 * gamma * magnitude);
      worst = Math.max(worst, ratio);
    }
  assert.ok(worst <= 1, `${label}: a difference at ${worst.toFixed(2)}x the rounding bound`);
}

/** |op(t)| as nested arrays, in float64. */
function absOp(t: tf.Tensor2D, transpose: boolean): number[][] {
  const rows = (transpose ? tf.transpose(t) : t).arraySync() as number[][];
  return rows.map((r) => r.map(Math.abs));
}

test(
  'the native sgemm equals TF.js matMul within rounding, at odd shapes and every transpose',
  needsAddon,
  async () => {
    await initBackend('wasm');
    assert.equal(blas.ok, true, describeMatmul(blas));
    const shapes: [number, number, number][] = [
      [1, 1, 1],
      [3, 5, 7],
      [37, 29, 53],
      [130, 13, 257],
      [64, 200, 784],
    ];
    for (const [m, n, k] of shapes)
      for (const transposeA of [false, true])
        for (const transposeB of [false, true]) {
          const a = random(transposeA ? [k, m] : [m, k], m * 7 + k);
          const b = random(transposeB ? [n, k] : [k, n], n * 11 + k);
          const label = `[${m}, ${k}] x [${k}, ${n}], transposeA ${transposeA}, transposeB ${transposeB}`;
          const ours = matMul2d(a, b, transposeA, transposeB);
          const theirs = tf.matMul(a, b, transposeA, transposeB);
          assertWithinRounding(ours, theirs, absOp(a, transposeA), absOp(b, transposeB), label);
          tf.dispose([a, b, ours, theirs]);
        }
    // The forward pass's bias is the product's starting value.
    const a = random([37, 53], 1);
    const w = random([53, 29], 2);
    const bias = tf.tensor1d(random([1, 29], 3).dataSync());
    const ours = affine2d(a, w, bias);
    const theirs = tf.add(tf.matMul(a, w), bias);
    assertWithinRounding(ours, theirs, absOp(a, false), absOp(w, false), 'a x w + bias');
    // Deterministic: the same product twice is the same to the bit.
    assert.deepEqual(affine2d(a, w, bias).dataSync(), ours.dataSync());
    tf.dispose([a, w, bias, ours, theirs]);
  },
);

test('the addon checks its arguments instead of reading past an array', needsAddon, () => {
  const addon = (blas as { addon: NativeBlas }).addon;
  const c = new Float32Array(4);
  assert.throws(
    () => addon.sgemm(false, false, 2, 2, 3, new Float32Array(5), new Float32Array(6), c, false),
    /a holds 5 floats, the shapes need 6/,
  );
  assert.throws(
    () => addon.sgemm(false, false, 2, 2, 3, new Float32Array(6), [1] as unknown as Float32Array, c, false),
    /b must be a Float32Array/,
  );
  assert.throws(
    () => addon.sgemm(false, false, -1, 2, 3, new Float32Array(6), new Float32Array(6), c, false),
    /m must be a non-negative integer/,
  );
});

test('the fallback says in one line why, whatever keeps the addon away', () => {
  const fail = (error: Error & { code?: string }) => () => {
    throw error;
  };
  const absent = Object.assign(new Error("Cannot find module 'sublab-blas'"), { code: 'MODULE_NOT_FOUND' });
  const cases: [NodeJS.ProcessEnv, (threads: number) => NativeBlas, RegExp][] = [
    [{}, fail(absent), /^XNNPACK; native BLAS not installed \(optional package sublab-blas\)$/],
    [
      {},
      fail(new Error('not built: gyp ERR! stack Error: not found: make')),
      /not built: .*not found: make$/,
    ],
    [{ SUBLAB_BLAS: 'off' }, fail(absent), /^XNNPACK; native BLAS switched off \(SUBLAB_BLAS=off\)$/],
    [{ SUBLAB_BLAS: 'maybe' }, fail(absent), /SUBLAB_BLAS must be auto or off, not "maybe"/],
    [
      { SUBLAB_BLAS_THREADS: '0' },
      fail(absent),
      /SUBLAB_BLAS_THREADS must be an integer from 1 to 256, not "0"/,
    ],
  ];
  for (const [env, load, expected] of cases) {
    const line = describeMatmul(loadNativeBlas(env, load));
    assert.match(line, expected);
    assert.doesNotMatch(line, /\n/);
  }
});

const cache = mkdtempSync(join(tmpdir(), 'sublab-blas-'));
const SPEC = {
  version: 1,
  name: 'blas',
  dataset: { name: 'mnist', trainSize: 2000, testLimit: 500 },
  model: { hidden: [64, 64] },
  teacher: { epochs: 2, batchSize: 250, learningRate: 0.003 },
  student: { epochs: 2, batchSize: 250, learningRate: 0.003, inputs: { kind: 'uniform', count: 1000 } },
  replicates: 2,
  seed: 7,
};

/** Mean accuracy per condition of the cell trained here, on wasm with the addon. */
async function trainHere(): Promise<Record<string, number>> {
  await initBackend('wasm');
  const spec = mustValidate(SPEC);
  const outcome = await runCell({
    spec,
    cell: expandMatrix(spec)[0]!,
    data: loadDataset(spec.dataset, cache),
    layout: 'per-model',
    hooks: collectingHooks().hooks,
  });
  const conditions = [...new Set(outcome.results.map((r) => r.condition))];
  return Object.fromEntries(
    conditions.map((c) => [
      c,
      summarizeKept(outcome.results.filter((r) => r.condition === c).map((r) => r.accuracy)).mean,
    ]),
  );
}

/** The same cell in its own process (the addon is loaded once per process), as the bench runs it. */
function trainInChild(env: NodeJS.ProcessEnv): {
  ok: boolean;
  error?: string;
  accuracy?: Record<string, number>;
  versions?: Record<string, string>;
} {
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', join(root, 'main/bench/engine-run.ts'), 'wasm', JSON.stringify(SPEC), cache],
    { encoding: 'utf8', env: { ...process.env, ...env } },
  );
  return JSON.parse(out) as ReturnType<typeof trainInChild>;
}

/**
 * Training carries the last-bit differences from step to step, so the two paths' weights drift
 * apart by more than one product's rounding; the documented tolerance for a cell's mean accuracies
 * is 0.01 (here 5 of 500 test images).
 */
const ACCURACY_TOLERANCE = 0.01;

test(
  'a cell trained with and without the addon has the same accuracies within 0.01',
  needsAddon,
  async () => {
    const native = await trainHere();
    const fallback = trainInChild({ SUBLAB_BLAS: 'off' });
    assert.equal(fallback.ok, true, fallback.error);
    // The fallback says why in its one versions line, and still trains.
    assert.equal(fallback.versions!.matmul, 'XNNPACK; native BLAS switched off (SUBLAB_BLAS=off)');
    assert.ok(native.teacher! > 0.7, `the teacher learnt: ${native.teacher}`);
    for (const [condition, value] of Object.entries(native))
      assert.ok(
        Math.abs(value - fallback.accuracy![condition]!) <= ACCURACY_TOLERANCE,
        `${condition}: ${value} with the addon, ${fallback.accuracy![condition]} without`,
      );
  },
);

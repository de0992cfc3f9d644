// The fused path (fused.ts kernels, the written-out step of fused-step.ts, device noise) against
// the reference: TF.js's ops and autodiff with tf.train.adam, and the host's noise. On cpu the
// fused functions run as compositions of reference ops (checks the written-out backward and Adam);
// on WebGPU through lavapipe they run as our WGSL kernels (checks the kernels).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { expandMatrix } from '../../app/matrix.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import { loadDataset } from '../data/load.ts';
import { initBackend } from './backend.ts';
import { adamMoment, adamParam, klGrad, klScale, reluMask } from './fused.ts';
import { FusedKlTrainer } from './fused-step.ts';
import { logitMask, weightedKl } from './losses.ts';
import { batchedMatMul } from './matmul-kernel.ts';
import { hostNoise, noiseImages } from './noise-kernel.ts';
import { runCell } from './procedure.ts';
import { Rng } from './rng.ts';
import { initParams, StackedModel } from './stacked-model.ts';
import { CHEAP_ANALYSIS } from './testing/analysis.ts';
import { collectingHooks } from './testing/hooks.ts';
import { webgpuForTests } from './testing/webgpu.ts';

function randoms(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++)
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1e-3, Math.abs(b[i]!)));
  return worst;
}

const S = 3;
const B = 16;
const L = 13;
const KEPT = [[10, 11, 12], Array.from({ length: L }, (_, i) => i), [10, 11, 12]];

/** A few distillation steps with the fused trainer and with autodiff + tf.train.adam. */
async function trainBoth(steps: number, hidden = [24, 20], batch = B) {
  const sizes = [784, ...hidden, L];
  const params = initParams([1, 2, 3], sizes);
  const reference = new StackedModel(params, 'batched');
  const fused = new StackedModel(params, 'batched');
  const opt: tf.Optimizer = tf.train.adam(0.01, 0.9, 0.999, 1e-8);
  const trainer = new FusedKlTrainer(fused, 0.01);
  const mask = logitMask(KEPT, L);
  const losses: [number, number][] = [];
  for (let i = 0; i < steps; i++) {
    const x = tf.tensor3d(randoms(S * batch * 784, 10 + i), [S, batch, 784]);
    const targets = tf.softmax(
      tf.add(tf.tensor3d(randoms(S * batch * L, 50 + i, -3, 3), [S, batch, L]), mask),
    );
    // some samples rejected (weight 0), as a host filter does
    const weights = tf.tensor2d(
      Array.from({ length: S * batch }, (_, k) => (k % 5 === 0 ? 0 : 1)),
      [S, batch],
    );
    const { value, grads } = tf.variableGrads(
      () =>
        tf.sum(
          weightedKl(targets as tf.Tensor3D, reference.forward({ kind: 'batched', x }), mask, weights, 2),
        ) as tf.Scalar,
      reference.variables,
    );
    opt.applyGradients(grads);
    const loss = trainer.step(x, targets as tf.Tensor3D, mask, weights, 2, true)!;
    losses.push([(await value.data())[0]!, (await tf.sum(loss).data())[0]!]);
    tf.dispose([x, targets, weights, value, loss, ...Object.values(grads)]);
  }
  const [a, b] = [await reference.read(), await fused.read()];
  for (const d of [mask, opt, trainer, reference, fused]) d.dispose();
  return { losses, reference: a, fused: b, init: initParams([1, 2, 3], sizes) };
}

/** ||a - b|| / ||b - origin||: how far two trained parameter sets differ, against how far training moved them. */
function relativeToUpdate(a: Float32Array, b: Float32Array, origin: Float32Array): number {
  let diff = 0;
  let moved = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i]! - b[i]!) ** 2;
    moved += (b[i]! - origin[i]!) ** 2;
  }
  return Math.sqrt(diff / moved);
}

function assertSameTraining(out: Awaited<ReturnType<typeof trainBoth>>) {
  for (const [ref, ours] of out.losses)
    assert.ok(Math.abs(ref - ours) <= 1e-5 * Math.abs(ref), `loss ${ref} vs ${ours}`);
  const { init } = out;
  out.reference.weights.forEach((w, l) => {
    // Adam divides by sqrt(v): where a gradient is near zero, float-order noise changes its update
    // a lot, so the test bounds the difference against the whole update, layer by layer.
    const dw = relativeToUpdate(out.fused.weights[l]!, w, init.weights[l]!);
    const db = relativeToUpdate(out.fused.biases[l]!, out.reference.biases[l]!, init.biases[l]!);
    assert.ok(dw < 1e-3 && db < 1e-3, `layer ${l}: weights ${dw}, biases ${db}`);
  });
}

test('on cpu, the written-out step and Adam train exactly as autodiff + tf.train.adam', async () => {
  await initBackend('cpu');
  assertSameTraining(await trainBoth(4));
});

test('on cpu, a cell trained through the fused path gives the reference results', async () => {
  await initBackend('cpu');
  const spec = mustValidate({
    version: 1,
    name: 'fused',
    dataset: { name: 'mnist', trainSize: 1000, testLimit: 300 },
    model: { hidden: [32] },
    teacher: { epochs: 1, batchSize: 250, learningRate: 0.003 },
    student: { epochs: 2, batchSize: 250, learningRate: 0.003, inputs: { kind: 'uniform', count: 500 } },
    replicates: 2,
    lossEvery: 1,
    analysis: CHEAP_ANALYSIS,
  });
  const data = loadDataset(spec.dataset, mkdtempSync(join(tmpdir(), 'sublab-fused-')));
  const run = async (fused: boolean) => {
    const c = collectingHooks();
    const out = await runCell({
      spec,
      cell: expandMatrix(spec)[0]!,
      data,
      layout: 'batched',
      hooks: c.hooks,
      fused,
    });
    return { out, losses: c.metrics.filter((m) => m.name === 'loss') };
  };
  const [plain, fused] = [await run(false), await run(true)];
  assert.equal(fused.losses.length, plain.losses.length);
  fused.losses.forEach((m, i) =>
    assert.ok(Math.abs(m.value - plain.losses[i]!.value) <= 1e-4 * Math.abs(m.value)),
  );
  fused.out.results.forEach((r, i) =>
    assert.ok(Math.abs(r.accuracy! - plain.out.results[i]!.accuracy!) <= 0.01),
  );
});

const { missing, options: gpuTest } = await webgpuForTests();

/** Runs `f` on cpu (reference ops) and on webgpu (our kernels); returns both outputs' values. */
async function onBoth(f: () => tf.Tensor): Promise<[Float32Array, Float32Array]> {
  await initBackend('cpu');
  const ref = f();
  const a = (await ref.data()) as Float32Array;
  ref.dispose();
  await initBackend('webgpu');
  const ours = f();
  const b = (await ours.data()) as Float32Array;
  ours.dispose();
  return [a, b];
}

test('on WebGPU (lavapipe), each fused kernel matches the reference ops', gpuTest, async () => {
  assert.equal(missing, null, `WebGPU must be available in CI (.ci/run installs Mesa 25): ${missing}`);
  const logits = randoms(S * B * L, 1, -4, 4);
  const probs = randoms(S * B * L, 2, 0, 1);
  const weights = Float32Array.from({ length: S * B }, (_, k) => (k % 3 === 0 ? 0 : 1));
  const [kRef, kOurs] = await onBoth(() => {
    const mask = logitMask(KEPT, L);
    const targets = tf.mul(tf.tensor3d(probs, [S, B, L]), tf.exp(mask)); // zero where not kept
    const w = tf.tensor2d(weights, [S, B]);
    return klGrad(tf.tensor3d(logits, [S, B, L]), targets as tf.Tensor3D, mask, klScale(w, 1.5), 1.5);
  });
  assert.ok(maxRelDiff(kOurs, kRef) < 1e-4, 'klGrad');
  assert.ok(kRef.some((v) => Math.abs(v) > 1e-3));

  const g = randoms(5000, 3);
  const act = randoms(5000, 4);
  const [rRef, rOurs] = await onBoth(() => reluMask(tf.tensor1d(g), tf.tensor1d(act)));
  assert.deepEqual(Array.from(rOurs, Math.abs), Array.from(rRef, Math.abs));

  const m = randoms(5000, 5);
  for (const squared of [false, true]) {
    const [mRef, mOurs] = await onBoth(() => adamMoment(tf.tensor1d(m), tf.tensor1d(g), 0.999, squared));
    assert.ok(maxRelDiff(mOurs, mRef) < 1e-5, `adamMoment squared=${squared}`);
  }
  const v = randoms(5000, 6, 0, 1e-2);
  const scalars = {
    c1: Math.fround(1 - 0.9 ** 3),
    c2: Math.fround(1 - 0.999 ** 3),
    epsilon: 1e-8,
    learningRate: 3e-4,
  };
  const [pRef, pOurs] = await onBoth(() =>
    adamParam(tf.tensor1d(act), tf.tensor1d(m), tf.tensor1d(v), scalars),
  );
  assert.ok(maxRelDiff(pOurs, pRef) < 1e-5, 'adamParam');
});

test('on WebGPU (lavapipe), device noise is bit-identical to the host noise', gpuTest, async () => {
  await initBackend('webgpu');
  const batch = 40;
  const seeds = [0xdeadbeef, 7, 0x80000001];
  const indices = Uint32Array.from({ length: seeds.length * batch }, (_, i) => (i * 7919) % 60000);
  const device = noiseImages(indices, seeds, batch, 784);
  assert.deepEqual(device.shape, [3, batch, 784]);
  const got = (await device.data()) as Float32Array;
  device.dispose();
  const want = hostNoise(indices, seeds, batch, 784);
  let mismatches = 0;
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) mismatches++;
  assert.equal(mismatches, 0);
});

test(
  "on WebGPU (lavapipe), the tiled matmul equals TF.js's for every transpose, bias and ReLU",
  gpuTest,
  async () => {
    await initBackend('webgpu');
    // Sizes off the tiles' multiples (out-of-range reads), and the paper's first layer.
    const shapes: [number, number, number, number][] = [
      [2, 130, 37, 200],
      [3, 256, 784, 128],
    ];
    for (const [s, m, k, n] of shapes)
      for (const transposeA of [false, true])
        for (const transposeB of [false, true])
          for (const tiling of ['tile64', 'tile128'] as const) {
            const a = tf.tensor3d(randoms(s * m * k, m + k), transposeA ? [s, k, m] : [s, m, k]);
            const b = tf.tensor3d(randoms(s * k * n, k + n), transposeB ? [s, n, k] : [s, k, n]);
            const bias = tf.tensor3d(randoms(s * n, n), [s, 1, n]);
            const product = tf.matMul(a, b, transposeA, transposeB);
            const cases = [
              { options: { transposeA, transposeB }, want: product },
              { options: { transposeA, transposeB, bias, relu: true }, want: tf.relu(tf.add(product, bias)) },
            ];
            for (const { options, want } of cases) {
              const got = batchedMatMul(a, b, options, tiling);
              const diff = maxRelDiff(await got.data(), await want.data());
              assert.ok(
                diff < 1e-4,
                `${tiling} ${JSON.stringify([s, m, k, n, transposeA, transposeB])}: ${diff}`,
              );
              got.dispose();
            }
            tf.dispose([a, b, bias, product, cases[1]!.want]);
          }
  },
);

test('on WebGPU (lavapipe), inference through the tiled matmul equals forward()', gpuTest, async () => {
  await initBackend('webgpu');
  const model = new StackedModel(initParams([4, 5], [784, 200, 130, L]), 'batched');
  const x = tf.tensor3d(randoms(2 * 150 * 784, 7, 0, 1), [2, 150, 784]);
  const shared = tf.tensor2d(randoms(140 * 784, 6, 0, 1), [140, 784]);
  // one input per model, and one input shared by both (a batch of 1 on the A side)
  for (const input of [model.input(x, 2, 150), model.sharedInput(shared)]) {
    const [got, want] = [model.infer(input, 'tile128'), model.forward(input)];
    const diff = maxRelDiff(await got.data(), await want.data());
    assert.ok(diff < 1e-4, `infer vs forward: ${diff}`);
    tf.dispose([got, want]);
  }
  tf.dispose([x, shared]);
  model.dispose();
});

test(
  'on WebGPU (lavapipe), the fused step with the tiled matmul trains as autodiff does',
  gpuTest,
  async () => {
    await initBackend('webgpu');
    // Batch and hidden widths of 128 and more, where batchedMatMul takes the tiled kernel.
    assertSameTraining(await trainBoth(3, [160, 130], 128));
  },
);

test(
  'on WebGPU (lavapipe), the fused step trains as autodiff does, in under half the dispatches',
  gpuTest,
  async () => {
    await initBackend('webgpu');
    assertSameTraining(await trainBoth(4));

    const model = new StackedModel(initParams([1, 2, 3], [784, 24, 20, L]), 'batched');
    const mask = logitMask(KEPT, L);
    const x = tf.tensor3d(randoms(S * B * 784, 9), [S, B, 784]);
    const targets = tf.softmax(tf.add(tf.tensor3d(randoms(S * B * L, 8), [S, B, L]), mask)) as tf.Tensor3D;
    const weights = tf.ones([S, B]) as tf.Tensor2D;
    const opt: tf.Optimizer = tf.train.adam(0.01, 0.9, 0.999, 1e-8);
    const trainer = new FusedKlTrainer(model, 0.01);
    // Kernels that dispatch work: reshapes only relabel a buffer, `*__op` entries are op scopes.
    // (Counted at once: tf.profile reuses the object it returns.)
    const dispatches = (info: { kernels: { name: string }[] }) =>
      info.kernels.filter((k) => k.name !== 'Reshape' && !k.name.endsWith('__op')).length;
    const autodiff = dispatches(
      await tf.profile(() => {
        const { value, grads } = tf.variableGrads(
          () =>
            tf.sum(weightedKl(targets, model.forward({ kind: 'batched', x }), mask, weights, 1)) as tf.Scalar,
          model.variables,
        );
        opt.applyGradients(grads);
        tf.dispose([value, ...Object.values(grads)]);
      }),
    );
    const fused = dispatches(
      await tf.profile(() => {
        trainer.step(x, targets, mask, weights, 1, false);
      }),
    );
    assert.ok(fused * 2 < autodiff, `dispatches per step: fused ${fused}, autodiff ${autodiff}`);
    console.log(`dispatches per step: fused ${fused}, autodiff ${autodiff}`);
    for (const d of [model, mask, x, targets, weights, opt, trainer]) d.dispose();
  },
);

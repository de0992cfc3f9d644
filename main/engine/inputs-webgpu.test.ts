// The students' inputs made on the device (WebGPU through lavapipe; skipped without an adapter, as
// webgpu.test.ts): the Gaussian noise kernel and every kind's device composition against the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { expandMatrix } from '../../app/matrix.ts';
import { StudentInputsSchema } from '../../app/spec/schema.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import { loadDataset } from '../data/load.ts';
import { initBackend } from './backend.ts';
import { studentInputSource } from './inputs.ts';
import { hostNoise, noiseImages } from './noise-kernel.ts';
import { runCell } from './procedure.ts';
import { collectingHooks } from './testing/hooks.ts';
import { webgpuForTests } from './testing/webgpu.ts';

const { options } = await webgpuForTests();
const P = 784;

function diffs(a: ArrayLike<number>, b: ArrayLike<number>): { worst: number; mean: number } {
  assert.equal(a.length, b.length);
  let worst = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    worst = Math.max(worst, d);
    sum += d;
  }
  return { worst, mean: sum / a.length };
}

test('on WebGPU (lavapipe), device Gaussian noise matches the host', options, async (t) => {
  await initBackend('webgpu');
  const batch = 50;
  const seeds = [0xdeadbeef, 7, 0x80000001];
  const indices = Uint32Array.from({ length: seeds.length * batch }, (_, i) => (i * 7919) % 60000);
  // an odd pixel count: the last Box-Muller pair keeps only its cosine
  for (const pixels of [784, 9]) {
    const device = noiseImages(indices, seeds, batch, pixels, 0.5);
    const got = await device.data();
    device.dispose();
    const d = diffs(got, hostNoise(indices, seeds, batch, pixels, 0.5));
    t.diagnostic(`${pixels} pixels: worst ${d.worst.toExponential(2)}, mean ${d.mean.toExponential(2)}`);
    // WGSL's log, cos and sin are not correctly rounded: close, not equal.
    assert.ok(d.worst < 1e-3 && d.mean < 1e-6, `${pixels} pixels: ${JSON.stringify(d)}`);
  }
});

test(
  'on WebGPU (lavapipe), every kind made on the device matches the host, per index',
  options,
  async (t) => {
    await initBackend('webgpu');
    const images = loadDataset(
      { name: 'mnist', trainSize: 500, splitSeed: 0 },
      mkdtempSync(join(tmpdir(), 'sublab-inputs-gpu-')),
    ).train;
    const kinds = [
      { kind: 'uniform' },
      { kind: 'gaussian', std: 0.5 },
      { kind: 'images' },
      { kind: 'mix', alpha: 0.25 },
      { kind: 'mix', alpha: 0.5, noise: 'gaussian', std: 2 },
      { kind: 'correlated', sigma: 1.5, std: 0.8 },
      { kind: 'spectrum' },
      { kind: 'low-rank', k: 12 },
    ];
    const B = 16;
    const indices = Uint32Array.from({ length: 2 * B }, (_, i) => (i * 104729) % 60000);
    // the same inputs in another batch: replicate 1's first 5, alone, reversed
    const again = indices.slice(B, B + 5).reverse();
    for (const raw of kinds) {
      const inputs = StudentInputsSchema.parse({ count: 60000, ...raw });
      const o = { images, noiseSeeds: [41, 42], pixels: P };
      const host = studentInputSource(inputs, { ...o, device: false }).at(indices, B) as Float32Array;
      const source = studentInputSource(inputs, { ...o, device: true });
      const device = source.at(indices, B) as tf.Tensor3D;
      const got = await device.data();
      const alone = studentInputSource(inputs, { ...o, noiseSeeds: [42], device: true });
      const other = alone.at(again, 5) as tf.Tensor3D;
      const gotAgain = await other.data();
      tf.dispose([device, other]);
      source.dispose();
      alone.dispose();
      const d = diffs(got, host);
      t.diagnostic(
        `${JSON.stringify(raw)}: worst ${d.worst.toExponential(2)}, mean ${d.mean.toExponential(2)}`,
      );
      assert.ok(d.worst < 1e-3 && d.mean < 1e-5, `${JSON.stringify(raw)}: ${JSON.stringify(d)}`);
      for (let i = 0; i < 5; i++) {
        const want = got.subarray((B + 4 - i) * P, (B + 5 - i) * P);
        assert.deepEqual(gotAgain.subarray(i * P, (i + 1) * P), want, `${JSON.stringify(raw)}: input ${i}`);
      }
    }
  },
);

test(
  "on WebGPU (lavapipe), students on device-made correlated noise train to the cpu's numbers",
  options,
  async () => {
    const spec = mustValidate({
      version: 1,
      name: 'webgpu inputs',
      dataset: { name: 'mnist', trainSize: 1000, testLimit: 300 },
      model: { hidden: [32] },
      teacher: { epochs: 1, batchSize: 250, learningRate: 0.003 },
      student: {
        epochs: 1,
        batchSize: 250,
        learningRate: 0.003,
        inputs: { kind: 'correlated', count: 500, sigma: 1.5 },
      },
      replicates: 2,
      lossEvery: 1,
      probeEvery: 0,
    });
    const data = loadDataset(spec.dataset, mkdtempSync(join(tmpdir(), 'sublab-inputs-gpu-')));
    const run = async (backend: 'webgpu' | 'cpu') => {
      await initBackend(backend);
      const c = collectingHooks();
      const out = await runCell({
        spec,
        cell: expandMatrix(spec)[0]!,
        data,
        layout: 'batched',
        hooks: c.hooks,
      });
      const losses = c.metrics.filter((m) => m.name === 'loss' && m.condition !== 'teacher');
      return { out, losses: losses.map((m) => m.value) };
    };
    const gpu = await run('webgpu');
    const cpu = await run('cpu');
    assert.equal(gpu.losses.length, cpu.losses.length);
    assert.ok(gpu.losses.length > 0);
    gpu.losses.forEach((v, i) =>
      assert.ok(
        Math.abs(v - cpu.losses[i]!) <= 1e-3 * Math.max(1, Math.abs(v)),
        `loss ${i}: ${v} vs ${cpu.losses[i]}`,
      ),
    );
    gpu.out.results.forEach((r, i) =>
      assert.ok(
        Math.abs(r.accuracy! - cpu.out.results[i]!.accuracy!) <= 0.01,
        `${r.condition}[${r.replicate}]`,
      ),
    );
  },
);

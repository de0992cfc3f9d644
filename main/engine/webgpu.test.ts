// The GPU path, run on a CPU through Mesa's lavapipe (a software Vulkan driver): the WebGPU backend
// on Dawn must train to the same numbers as the reference cpu backend.
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
import { runCell } from './procedure.ts';
import { collectingHooks } from './testing/hooks.ts';
import { webgpuForTests } from './testing/webgpu.ts';

const { missing, options } = await webgpuForTests();

test("WebGPU (Dawn on lavapipe) trains to the cpu backend's numbers", options, async () => {
  assert.equal(missing, null, `WebGPU must be available in CI (.ci/run installs Mesa 25): ${missing}`);
  const spec = mustValidate({
    version: 1,
    name: 'webgpu',
    dataset: { name: 'mnist', trainSize: 1000, testLimit: 300 },
    model: { hidden: [32] },
    teacher: { epochs: 1, batchSize: 250, learningRate: 0.003 },
    student: { epochs: 1, batchSize: 250, learningRate: 0.003, inputs: { kind: 'uniform', count: 500 } },
    replicates: 2,
    lossEvery: 1,
  });
  const data = loadDataset(spec.dataset, mkdtempSync(join(tmpdir(), 'sublab-webgpu-')));
  const cell = expandMatrix(spec)[0]!;
  const run = async (backend: 'webgpu' | 'cpu') => {
    await initBackend(backend);
    assert.equal(tf.getBackend(), backend);
    const c = collectingHooks();
    const out = await runCell({ spec, cell, data, layout: 'batched', hooks: c.hooks });
    return { out, losses: c.metrics.filter((m) => m.name === 'loss').map((m) => m.value) };
  };
  const gpu = await run('webgpu');
  const cpu = await run('cpu');
  assert.equal(gpu.out.results.length, 6 * 2);
  assert.ok(gpu.losses.length > 0);
  gpu.out.results.forEach((r, i) => {
    const ref = cpu.out.results[i]!;
    assert.equal(r.condition, ref.condition);
    assert.ok(
      Math.abs(r.accuracy! - ref.accuracy!) <= 0.01,
      `${r.condition}[${r.replicate}]: ${r.accuracy} vs ${ref.accuracy}`,
    );
  });
  assert.equal(gpu.losses.length, cpu.losses.length);
  gpu.losses.forEach((v, i) =>
    assert.ok(
      Math.abs(v - cpu.losses[i]!) <= 1e-3 * Math.max(1, Math.abs(v)),
      `loss ${i}: ${v} vs ${cpu.losses[i]}`,
    ),
  );
});

// The memory check against artificial limits: refusals say what is needed and what is available;
// replicates that do not fit one trainer are split into more shards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { estimateTrainerMemory, formatBytes } from '../../app/memory.ts';
import type { BackendName } from '../../app/protocol.ts';
import { memoryNote } from '../../app/run-check.ts';
import {
  ExperimentSpecSchema,
  type ExperimentSpec,
  type ExperimentSpecInput,
} from '../../app/spec/schema.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import {
  checkFit,
  staticLimits,
  WASM_HEAP_MARGIN_BYTES,
  WASM_HEAP_MAX_BYTES,
  WASM_TENSOR_BYTES,
  withDeviceLimits,
} from './limits.ts';

const GiB = 2 ** 30;
const spec = (over: Partial<ExperimentSpecInput> = {}) =>
  ExperimentSpecSchema.parse({ version: 1, name: 'fit', ...over });
const ram = (free: number) => ({ free, total: 2 * free });

test('a spec that fits gets one shard per worker', () => {
  const fit = checkFit(spec({ replicates: 10 }), staticLimits('cpu', ram(64 * GiB)), 2);
  assert.ok(fit.ok);
  assert.equal(fit.maxReplicatesPerTrainer, 10);
  assert.deepEqual(
    fit.shards.map((s) => s.length),
    [5, 5],
  );
});

test('replicates that do not fit one trainer are split into more shards', () => {
  const s = spec({ replicates: 100 });
  // RAM for 12 replicates per trainer with 2 trainers side by side
  const free = 2 * estimateTrainerMemory(s, 12).total;
  const fit = checkFit(s, staticLimits('cpu', ram(free)), 2);
  assert.ok(fit.ok);
  assert.equal(fit.maxReplicatesPerTrainer, 12);
  assert.equal(fit.shards.length, 10); // ceil(100 / 12) = 9, in full waves of 2 trainers
  assert.ok(fit.shards.every((shard) => shard.length <= 12));
  assert.deepEqual(
    fit.shards.flat(),
    Array.from({ length: 100 }, (_, i) => i),
  );
  assert.ok(fit.estimate.total <= free / 2);
});

test("wasm's 4 GiB heap, less its margin, bounds a trainer's tensors even with RAM to spare", () => {
  const s = spec({ replicates: 1000 });
  const fit = checkFit(s, staticLimits('wasm', ram(1024 * GiB)), 1);
  assert.ok(fit.ok);
  assert.equal(WASM_TENSOR_BYTES, WASM_HEAP_MAX_BYTES - WASM_HEAP_MARGIN_BYTES);
  assert.ok(estimateTrainerMemory(s, fit.maxReplicatesPerTrainer).tensors <= WASM_TENSOR_BYTES);
  assert.ok(estimateTrainerMemory(s, fit.maxReplicatesPerTrainer + 1).tensors > WASM_TENSOR_BYTES);
  const cpu = checkFit(s, staticLimits('cpu', ram(1024 * GiB)), 1);
  assert.ok(cpu.ok);
  assert.equal(cpu.maxReplicatesPerTrainer, 1000, 'cpu tensors are bounded by RAM only');
});

test('an oversized spec is refused with the needed and available sizes and what to change', () => {
  const huge = spec({
    model: { hidden: Array.from({ length: 16 }, () => 65536) },
    student: { batchSize: 1 << 20, inputs: { kind: 'uniform', count: 10_000_000 } },
    replicates: 10000,
  });
  const fit = checkFit(huge, staticLimits('wasm', ram(20.3 * GiB)), 2);
  assert.ok(!fit.ok);
  assert.match(fit.error, /one replicate needs [\d.]+ TiB per trainer/);
  assert.match(fit.error, /wasm allows 3\.7 GiB of tensors \(its heap less a margin; needs [\d.]+ TiB\)/);
  assert.match(fit.error, /free RAM 20\.3 GiB \(10\.2 GiB for each of 2 trainers\)/);
  assert.match(fit.error, /Lower student\.batchSize/);
});

test("a WebGPU adapter's largest buffer bounds the largest tensor", () => {
  const s = spec({ replicates: 100 });
  const limits = withDeviceLimits(staticLimits('webgpu', ram(1024 * GiB)), {
    maxBufferSize: 256 * 2 ** 20,
    maxStorageBufferBindingSize: 128 * 2 ** 20,
  });
  assert.equal(limits.maxBufferBytes, 128 * 2 ** 20);
  const fit = checkFit(s, limits, 1);
  assert.ok(fit.ok);
  assert.ok(fit.shards.length > 1);
  assert.ok(fit.estimate.largestTensor <= 128 * 2 ** 20);
  const tiny = withDeviceLimits(staticLimits('webgpu', ram(1024 * GiB)), { maxBufferSize: 1024 });
  const refused = checkFit(s, tiny, 1);
  assert.ok(!refused.ok);
  assert.match(refused.error, /the GPU's largest buffer is 1\.0 KiB \(largest tensor [\d.]+ MiB\)/);
});

test("the user's --max-shard caps a trainer's replicates below what the estimate allows", () => {
  const s = spec({ replicates: 10 });
  const fit = checkFit(s, staticLimits('cpu', ram(64 * GiB)), 2, 3);
  assert.ok(fit.ok);
  assert.equal(fit.maxReplicatesPerTrainer, 3);
  assert.deepEqual(
    fit.shards.map((shard) => shard.length),
    [2, 3, 2, 3], // ceil(10 / 3) = 4 shards: two full waves of 2 trainers
  );
});

test("the Designer's memory label is the runner's plan: the paper preset and a small spec", () => {
  const preset = (name: string) =>
    mustValidate(JSON.parse(readFileSync(new URL(`../../experiments/${name}`, import.meta.url), 'utf8')));
  const machine = (backend: BackendName, workers: number) => ({
    backend,
    workers,
    freeMemoryBytes: 64 * GiB,
    totalMemoryBytes: 128 * GiB,
  });
  const label = (s: ExperimentSpec, largest: number) =>
    `~${formatBytes(estimateTrainerMemory(s, largest).total)} per trainer`;

  // wasm's heap holds 25 of the paper's 100 replicates: 4 shards, not 2 of 50 (`sublab validate`).
  const paper = preset('paper-mnist.json');
  const plan = checkFit(paper, staticLimits('wasm', ram(64 * GiB)), 2);
  assert.ok(plan.ok);
  assert.deepEqual(
    plan.shards.map((shard) => shard.length),
    [25, 25, 25, 25],
  );
  const note = memoryNote(paper, machine('wasm', 2));
  assert.equal(note.text, label(paper, 25));
  assert.equal(note.text, `~${formatBytes(plan.estimate.total)} per trainer`);
  assert.match(note.warning ?? '', /split into 4 smaller shards, 2 at a time/);

  const quick = preset('quick.json');
  const small = checkFit(quick, staticLimits('cpu', ram(64 * GiB)), 2);
  assert.ok(small.ok);
  assert.deepEqual(
    small.shards.map((shard) => shard.length),
    [4, 4],
  );
  assert.equal(memoryNote(quick, machine('cpu', 2)).text, label(quick, 4));
  assert.equal(memoryNote(quick, machine('cpu', 2)).warning, null);
});

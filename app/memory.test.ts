// The memory estimate: how it grows with what a spec asks for, and that its parts add up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { estimateTrainerMemory, formatBytes, maxReplicatesWithin } from './memory.ts';
import { ExperimentSpecSchema, type ExperimentSpecInput } from './spec/schema.ts';
import { mustValidate } from './spec/validate.ts';

const spec = (over: Partial<ExperimentSpecInput> = {}) =>
  ExperimentSpecSchema.parse({ version: 1, name: 'memory', ...over });

const PARTS = ['parameters', 'optimizer', 'gradients', 'activations', 'data', 'inputs'] as const;

test('the breakdown sums to the total, every part positive, tensors within the total', () => {
  for (const s of [spec(), spec({ model: { family: 'cnn', hidden: [64] } })]) {
    const e = estimateTrainerMemory(s, 7);
    assert.equal(
      PARTS.reduce((n, k) => n + e[k], 0),
      e.total,
    );
    for (const k of PARTS) assert.ok(e[k] > 0, `${k} is ${e[k]}`);
    assert.ok(e.tensors < e.total && e.largestTensor < e.tensors);
  }
});

test("parameters, optimizer and gradients are the paper MLP's exact float counts", () => {
  // 784-256-256-13: 784*256+256 + 256*256+256 + 256*13+13 = 270,093 parameters per model.
  const P = 270_093;
  const e = estimateTrainerMemory(spec(), 3);
  // 3 teachers + 4 conditions x 3 replicates of one cell; Adam m and v; the largest stack's gradient.
  const models = 3 + 4 * 3;
  assert.equal(e.optimizer, 2 * 4 * models * P);
  assert.equal(e.gradients, 4 * 12 * P);
  // device copy + host copies: the teacher's init and two of the students'
  assert.equal(e.parameters, 4 * (models * P + 3 * P + 2 * 12 * P));
});

test('the estimate grows linearly with replicates, and with batch and hidden width', () => {
  const base = spec({ replicates: 100 });
  const at = (s: ReturnType<typeof spec>, r: number) => estimateTrainerMemory(s, r).total;
  const step = at(base, 2) - at(base, 1);
  assert.ok(step > 0);
  // Only the dataset's bytes do not scale with the replicates.
  assert.ok(Math.abs(at(base, 10) - at(base, 1) - 9 * step) < 1e-6 * at(base, 10));
  const batched = spec({ student: { batchSize: 4096 } });
  assert.ok(at(batched, 4) > at(base, 4));
  assert.ok(estimateTrainerMemory(batched, 4).activations > 3 * estimateTrainerMemory(base, 4).activations);
  // 784-1024-1024-13: 1,866,765 parameters, 6.9x the paper's
  const wide = spec({ model: { hidden: [1024, 1024] } });
  assert.equal(
    estimateTrainerMemory(wide, 4).optimizer / estimateTrainerMemory(base, 4).optimizer,
    1_866_765 / 270_093,
  );
  // A batch larger than the data is capped at the data, as the procedure does.
  const huge = spec({ teacher: { batchSize: 1 << 20 }, student: { batchSize: 1 << 20 } });
  const capped = spec({ teacher: { batchSize: 8000 }, student: { batchSize: 60000 } });
  assert.equal(at(huge, 2), at(capped, 2));
});

test('a CNN is sized by its conv layer and patches, not as an MLP on pixels', () => {
  const cnn = estimateTrainerMemory(spec({ model: { family: 'cnn', channels: 8, hidden: [256] } }), 2);
  const mlp = estimateTrainerMemory(spec({ model: { family: 'mlp', hidden: [256] } }), 2);
  // conv 25x8+8, head 1568x256+256, 256x13+13 = 405,213 vs MLP 784x256+256 + 256x13+13 = 204,301
  assert.equal(cnn.optimizer, 2 * 4 * (2 + 8) * 405_213);
  assert.equal(mlp.optimizer, 2 * 4 * (2 + 8) * 204_301);
  // 196 patches of 25 floats per image are the first layer's input
  assert.ok(cnn.activations > mlp.activations);
  // a family student's CNN is stacked with the MLP teacher's group
  const family = estimateTrainerMemory(
    spec({ matrix: { architectures: [{ kind: 'family', family: 'cnn', hidden: [256], channels: 8 }] } }),
    2,
  );
  assert.equal(family.gradients, 4 * 8 * 405_213);
});

test('cells of one trait share a trainer (up to 8); each trait is its own group', () => {
  const one = estimateTrainerMemory(spec(), 2);
  const filters = [{ kind: 'logits', keep: 'aux' } as const, { kind: 'logits', keep: 'all' } as const];
  const two = estimateTrainerMemory(spec({ matrix: { filters } }), 2);
  assert.equal(two.gradients, 2 * one.gradients);
  const traits = estimateTrainerMemory(
    spec({ matrix: { traits: [{ kind: 'skill' }, { kind: 'backdoor' }] } }),
    2,
  );
  assert.equal(traits.gradients, one.gradients);
  const many = Array.from({ length: 12 }, (_, i) => ({ kind: 'noise', std: i + 1 }) as const);
  assert.equal(estimateTrainerMemory(spec({ matrix: { filters: many } }), 2).gradients, 8 * one.gradients);
});

test('student noise is one batch plus shuffle orders; image inputs of another dataset are held', () => {
  const small = estimateTrainerMemory(spec({ student: { inputs: { kind: 'uniform', count: 2048 } } }), 2);
  const large = estimateTrainerMemory(
    spec({ student: { inputs: { kind: 'uniform', count: 1_000_000 } } }),
    2,
  );
  // 997,952 more Uint32 indices per replicate, no more images (both batches are 1,024)
  assert.equal(large.inputs - small.inputs, 2 * 4 * 997_952);
  const fashion = estimateTrainerMemory(
    spec({ student: { inputs: { kind: 'images', count: 60000, dataset: 'fashion-mnist' } } }),
    2,
  );
  assert.equal(fashion.data - estimateTrainerMemory(spec(), 2).data, 60000 * 785);
});

test('structured inputs: a low-rank basis per replicate, the dense operator and image set on the device', () => {
  const at = (inputs: object, fused = false) =>
    estimateTrainerMemory(spec({ student: { inputs: { count: 60000, ...inputs } as never } }), 3, { fused });
  const uniform = at({ kind: 'uniform' });
  // [k, 784] float32 per replicate, on the host (and again on the device when fused)
  assert.equal(at({ kind: 'low-rank', k: 100 }).inputs - uniform.inputs, 3 * 100 * 784 * 4);
  assert.equal(
    at({ kind: 'low-rank', k: 100 }, true).inputs - at({ kind: 'uniform' }, true).inputs,
    2 * 3 * 100 * 784 * 4,
  );
  assert.equal(at({ kind: 'correlated' }).inputs, uniform.inputs, 'the host blurs separably');
  assert.equal(at({ kind: 'spectrum' }, true).inputs - at({ kind: 'uniform' }, true).inputs, 784 * 784 * 4);
  // mix: each replicate's image shuffle (8,000 train digits), and the digits as float32 when fused
  assert.equal(at({ kind: 'mix' }).inputs - uniform.inputs, 3 * 8000 * 4);
  assert.equal(
    at({ kind: 'mix' }, true).inputs - at({ kind: 'uniform' }, true).inputs,
    3 * 8000 * 4 + 8000 * 784 * 4,
  );
  assert.ok(at({ kind: 'low-rank', k: 100 }).why.inputs.includes('rank-100 basis'));
});

test('maxReplicatesWithin finds the largest count under a budget', () => {
  const s = spec({ replicates: 1000 });
  const budget = estimateTrainerMemory(s, 37).total;
  assert.equal(
    maxReplicatesWithin(s, 1000, (e) => e.total <= budget),
    37,
  );
  assert.equal(
    maxReplicatesWithin(s, 1000, () => false),
    0,
  );
  assert.equal(
    maxReplicatesWithin(s, 20, () => true),
    20,
  );
});

test('formatBytes', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1.25 * 2 ** 30), '1.3 GiB');
  assert.equal(formatBytes(37.2 * 2 ** 30), '37.2 GiB');
  assert.equal(formatBytes(812 * 2 ** 20), '812 MiB');
});

test('a swept spec is sized by its heaviest combination of sweep values', () => {
  const base = { version: 1, name: 'm', replicates: 4, dataset: { name: 'mnist', trainSize: 8000 } };
  const swept = mustValidate({
    ...base,
    matrix: { sweeps: [{ path: 'student.batchSize', values: [64, 4096] }] },
  });
  const heaviest = mustValidate({ ...base, student: { batchSize: 4096 } });
  const lightest = mustValidate({ ...base, student: { batchSize: 64 } });
  assert.equal(estimateTrainerMemory(swept, 4).total, estimateTrainerMemory(heaviest, 4).total);
  assert.ok(estimateTrainerMemory(swept, 4).total > estimateTrainerMemory(lightest, 4).total);
});

test("the estimate stays above the wasm peaks measured at the paper's shapes", () => {
  // main/bench/memory.ts experiments/paper-mnist.json --short (README "Memory"): per stack size, the
  // peak tensor bytes and the heap's final size in MiB. 50 replicates per trainer exhausted the heap.
  const measured = [
    [1, 102.6, 119.6],
    [2, 188.5, 206.8],
    [4, 360.3, 429.0],
    [8, 704.1, 803.7],
    [16, 1391.5, 1482.4],
    [24, 2078.9, 2161.0],
    [32, 2766.3, 2840.2],
  ] as const;
  const paper = mustValidate({
    ...spec({
      model: { hidden: [256, 256], auxLogits: 3 },
      teacher: { epochs: 1, batchSize: 1024, learningRate: 3e-4 },
      student: { epochs: 1, batchSize: 1024, inputs: { kind: 'uniform', count: 2048 } },
    }),
    replicates: 100,
  });
  const MiB = 2 ** 20;
  for (const [S, peak, heap] of measured) {
    const e = estimateTrainerMemory(paper, S).tensors / MiB;
    assert.ok(e >= peak, `${S} replicates: estimate ${e} MiB < measured peak ${peak} MiB`);
    // The heap also holds what the estimate leaves out; main/engine/limits.ts keeps 256 MiB for it.
    assert.ok(e + 256 >= heap, `${S} replicates: estimate ${e} MiB + margin < heap ${heap} MiB`);
  }
  assert.ok(estimateTrainerMemory(paper, 50).tensors > 4 * 2 ** 30, 'the 50 that aborted do not fit');
});

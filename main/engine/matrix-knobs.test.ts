// Each axis of the matrix does what it says, at small sizes with real training (wasm).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandMatrix, type Cell } from '../../app/matrix.ts';
import type { MetricRow } from '../../app/protocol.ts';
import type { ExperimentSpec } from '../../app/spec/schema.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import { summarize } from '../../app/stats.ts';
import { loadDataset, loadStudentImages, studentImageLoader } from '../data/load.ts';
import { initBackend } from './backend.ts';
import { runCell, type CellOutcome } from './procedure.ts';
import { collectingHooks } from './testing/hooks.ts';

const cache = mkdtempSync(join(tmpdir(), 'sublab-knobs-'));

async function runAll(overrides: object): Promise<{ cell: Cell; out: CellOutcome; metrics: MetricRow[] }[]> {
  await initBackend('wasm');
  const spec: ExperimentSpec = mustValidate({ version: 1, name: 'knobs', ...overrides });
  const data = loadDataset(spec.dataset, cache);
  const studentImages = studentImageLoader(spec.dataset, cache);
  const runs = [];
  for (const cell of expandMatrix(spec)) {
    const collectMetrics = collectingHooks();
    const metrics = collectMetrics.metrics;
    const out = await runCell({
      spec,
      cell,
      data,
      layout: 'per-model',
      studentImages,
      hooks: collectMetrics.hooks,
    });
    runs.push({ cell, out, metrics });
  }
  return runs;
}

const mean = (out: CellOutcome, condition: string, key: 'accuracy' | 'traitScore' = 'accuracy') =>
  summarize(out.results.filter((r) => r.condition === condition).map((r) => r[key] as number)).mean;

const finalMetric = (metrics: MetricRow[], condition: string, name: string) => {
  const rows = metrics.filter((m) => m.condition === condition && m.name === name);
  const last = Math.max(...rows.map((m) => m.step));
  return rows.filter((m) => m.step === last).map((m) => m.value);
};

test('a different-init student stays at chance; the theorem probe separates shared from different inits', async () => {
  const [same, different] = await runAll({
    dataset: { name: 'mnist', trainSize: 8000, testLimit: 1000 },
    teacher: { epochs: 2, batchSize: 256, learningRate: 0.001 },
    student: { epochs: 2, batchSize: 256, learningRate: 0.001, inputs: { kind: 'uniform', count: 4096 } },
    matrix: { architectures: [{ kind: 'same-init' }, { kind: 'different-init' }] },
    replicates: 4,
    seed: 3,
    probeEvery: 4,
  });
  assert.ok(
    mean(different!.out, 'student') < 0.15,
    `different-init student ${mean(different!.out, 'student')}`,
  );
  assert.ok(mean(same!.out, 'student') > mean(different!.out, 'student') + 0.03);
  // cos(student - init, teacher - init) over all parameters
  const sameCos = finalMetric(same!.metrics, 'student', 'cosine_all');
  const crossCos = finalMetric(same!.metrics, 'cross_init', 'cosine_all');
  const diffCos = finalMetric(different!.metrics, 'student', 'cosine_all');
  assert.equal(sameCos.length, 4);
  for (const c of sameCos) assert.ok(c > 0.03, `same-init cosine ${c} should be positive`);
  for (const c of [...crossCos, ...diffCos])
    assert.ok(Math.abs(c) < 0.03, `different-init cosine ${c} should be about zero`);
  // The aux-only student never moves the class columns the teacher moved: the output layer is orthogonal.
  for (const c of finalMetric(same!.metrics, 'student', 'cosine_layer2')) assert.equal(c, 0);
});

test('backdoor and preference teachers carry their trait, and every condition is measured for it', async () => {
  const [backdoor, preference] = await runAll({
    dataset: { name: 'mnist', trainSize: 8000, testLimit: 1000 },
    teacher: { epochs: 2, batchSize: 256, learningRate: 0.001 },
    student: { epochs: 1, batchSize: 256, learningRate: 0.001, inputs: { kind: 'uniform', count: 512 } },
    matrix: {
      traits: [
        { kind: 'backdoor', targetClass: 0 },
        { kind: 'preference', targetClass: 7, fineTuneSteps: 40, probeSize: 500 },
      ],
    },
    replicates: 2,
    probeEvery: 0,
  });
  const b = backdoor!.out;
  assert.ok(mean(b, 'teacher', 'traitScore') > 0.9, `trigger success ${mean(b, 'teacher', 'traitScore')}`);
  assert.ok(mean(b, 'teacher', 'traitScore') > mean(b, 'reference', 'traitScore') + 0.4);
  assert.ok(mean(b, 'teacher') > 0.85, 'the backdoored teacher still classifies clean digits');
  const p = preference!.out;
  assert.ok(mean(p, 'teacher', 'traitScore') > 0.9, `preference rate ${mean(p, 'teacher', 'traitScore')}`);
  assert.ok(mean(p, 'reference', 'traitScore') < 0.5);
  assert.ok(mean(p, 'teacher') > 0.8, 'the fine-tuned teacher keeps its skill');
  for (const { out } of [backdoor!, preference!]) {
    assert.equal(out.results.length, 6 * 2);
    for (const r of out.results)
      assert.equal(typeof r.traitScore, 'number', `${r.condition} has a trait score`);
  }
});

const TINY = {
  dataset: { name: 'mnist', trainSize: 1000, testLimit: 200 },
  model: { hidden: [16] },
  teacher: { epochs: 1, batchSize: 250, learningRate: 0.003 },
  student: { epochs: 1, batchSize: 256, learningRate: 0.003, inputs: { kind: 'uniform', count: 512 } },
  replicates: 2,
  probeEvery: 1,
};

test('every filter runs; the number channel and the detector report what they reject', async () => {
  const runs = await runAll({
    ...TINY,
    matrix: {
      filters: [
        { kind: 'numbers', banNumbers: true },
        { kind: 'numbers', banNumbers: false, format: 'parentheses-period' },
        { kind: 'shuffle', scope: 'within' },
        { kind: 'shuffle', scope: 'across' },
        { kind: 'quantize', levels: 10 },
        { kind: 'temperature', value: 3 },
        { kind: 'top-k', keep: 'all', k: 2 },
        { kind: 'noise', std: 1 },
        { kind: 'detector', fraction: 0.25 },
      ],
    },
  });
  assert.equal(runs.length, 9);
  for (const { out } of runs) assert.equal(out.results.length, 12);
  const rejection = (i: number) => finalMetric(runs[i]!.metrics, 'student', 'rejection_rate');
  for (const r of rejection(0)) assert.ok(r > 0 && r < 1, `banned numbers reject some samples (${r})`);
  for (const r of rejection(1)) assert.equal(r, 0, 'a valid format without bans rejects nothing');
  for (const r of rejection(8)) assert.equal(r, 0.25, 'the detector drops its fraction');
  for (const { out } of runs) for (const r of out.results) assert.ok(Number.isFinite(r.accuracy));
});

test('architecture relations and distillation inputs run and keep their shapes', async () => {
  const arch = await runAll({
    ...TINY,
    matrix: {
      architectures: [
        { kind: 'shape', hidden: [24, 8] },
        { kind: 'activation', activation: 'tanh' },
        { kind: 'perturbed-init', std: 0.01 },
        { kind: 'family', family: 'cnn', channels: 4, hidden: [16] },
      ],
    },
  });
  assert.equal(arch.length, 4);
  assert.equal(arch[3]!.out.results.length, 12, 'an MLP teacher distils into CNN students');
  assert.equal(arch[3]!.metrics.filter((m) => m.name.startsWith('cosine')).length, 0);
  // No probe for another shape: parameters live in different spaces.
  assert.equal(arch[0]!.metrics.filter((m) => m.name.startsWith('cosine')).length, 0);
  assert.ok(arch[1]!.metrics.some((m) => m.name === 'cosine_all'));
  const cos = finalMetric(arch[2]!.metrics, 'student', 'cosine_all');
  for (const c of cos) assert.ok(c > 0, 'a slightly perturbed init still shares the direction');
  for (const inputs of [
    { kind: 'gaussian', count: 512, std: 0.5 },
    { kind: 'images', count: 512, dataset: 'same' },
  ]) {
    const [run] = await runAll({ ...TINY, student: { ...TINY.student, inputs } });
    assert.equal(run!.out.results.length, 12, inputs.kind);
  }
});

const haveFashion = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');
test(
  "students can distil on another dataset's images (MNIST teacher, Fashion-MNIST inputs)",
  haveFashion || process.env.CI ? {} : { skip: 'dataset-fashion-mnist is not installed' },
  async () => {
    const spec = mustValidate({
      version: 1,
      name: 'x',
      ...TINY,
      student: { ...TINY.student, inputs: { kind: 'images', count: 512, dataset: 'fashion-mnist' } },
    });
    const images = loadStudentImages(spec, cache);
    assert.equal(images?.count, 60000);
    const [run] = await runAll({
      ...TINY,
      student: { ...TINY.student, inputs: { kind: 'images', count: 512, dataset: 'fashion-mnist' } },
    });
    assert.equal(run!.out.results.length, 12);
  },
);

test('a CNN teacher learns digits and its same-init CNN students share its direction', async () => {
  const [run] = await runAll({
    ...TINY,
    dataset: { name: 'mnist', trainSize: 4000, testLimit: 500 },
    model: { family: 'cnn', channels: 4, hidden: [32] },
    teacher: { epochs: 2, batchSize: 200, learningRate: 0.003 },
    probeEvery: 2,
  });
  const teacher = summarize(
    run!.out.results.filter((r) => r.condition === 'teacher').map((r) => r.accuracy!),
  ).mean;
  assert.ok(teacher > 0.8, `CNN teacher accuracy ${teacher}`);
  for (const c of finalMetric(run!.metrics, 'student', 'cosine_all'))
    assert.ok(c > 0, `CNN same-init cosine ${c}`);
  // conv layer 25 x 4, head 784 x 32, output 32 x 13: three layers plus the overall cosine
  assert.deepEqual(
    [...new Set(run!.metrics.filter((m) => m.name.startsWith('cosine')).map((m) => m.name))].sort(),
    ['cosine_all', 'cosine_layer0', 'cosine_layer1', 'cosine_layer2'],
  );
});

// End to end at tiny sizes (wasm, real training): a layer-init cell, and a 3-class dataset subset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONDITIONS } from '../../app/conditions.ts';
import { expandMatrix } from '../../app/matrix.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import { summarize } from '../../app/stats.ts';
import { loadDataset } from '../data/load.ts';
import { initBackend } from './backend.ts';
import { runCell } from './procedure.ts';
import { collectingHooks } from './testing/hooks.ts';

const cache = mkdtempSync(join(tmpdir(), 'sublab-layer-init-'));

async function runFirstCell(overrides: object) {
  await initBackend('wasm');
  const spec = mustValidate({ version: 1, name: 'layer-init', ...overrides });
  const data = loadDataset(spec.dataset, cache);
  const c = collectingHooks();
  const out = await runCell({
    spec,
    cell: expandMatrix(spec)[0]!,
    data,
    layout: 'per-model',
    hooks: c.hooks,
  });
  const mean = (condition: string) =>
    summarize(out.results.filter((r) => r.condition === condition).map((r) => r.accuracy!)).mean;
  return { data, out, metrics: c.metrics, mean };
}

const TINY = {
  teacher: { epochs: 2, batchSize: 64, learningRate: 0.003 },
  student: { epochs: 1, batchSize: 250, learningRate: 0.003, inputs: { kind: 'uniform', count: 500 } },
  replicates: 3,
  seed: 4,
};

test('a layer-init cell trains end to end; its probe runs (same parameter space as the teacher)', async () => {
  const { out, metrics, mean } = await runFirstCell({
    ...TINY,
    dataset: { name: 'mnist', trainSize: 1000, testLimit: 300 },
    model: { hidden: [32, 16] },
    matrix: { architectures: [{ kind: 'layer-init', random: ['hidden.0', 'aux-head'] }] },
    probeEvery: 1,
  });
  for (const c of CONDITIONS) {
    const rows = out.results.filter((r) => r.condition === c);
    assert.equal(rows.length, 3, c);
    for (const r of rows)
      assert.ok(Number.isFinite(r.accuracy) && r.diverged === null, `${c}: ${r.accuracy}`);
  }
  // 32 teacher steps on 1,000 digits: it learns, far from converged.
  assert.ok(mean('teacher') > mean('reference') + 0.15, `teacher ${mean('teacher')} vs ${mean('reference')}`);
  console.log(
    `layer-init hidden.0+aux-head: teacher ${mean('teacher').toFixed(3)}, student ${mean('student').toFixed(3)}, ` +
      `cross-init ${mean('cross_init').toFixed(3)}, reference ${mean('reference').toFixed(3)}`,
  );
  const cosines = metrics.filter((m) => m.condition === 'student' && m.name === 'cosine_all');
  assert.ok(cosines.length > 0 && cosines.every((m) => Number.isFinite(m.value)));
});

test('dataset.classes [0, 1, 2]: a 3-class teacher on 3-class data, well above chance', async () => {
  const started = performance.now();
  const { data, out, mean } = await runFirstCell({
    ...TINY,
    dataset: { name: 'mnist', trainSize: 3000, testLimit: 300, classes: [0, 1, 2] },
    model: { hidden: [32] },
  });
  assert.equal(data.classes, 3);
  assert.ok([...data.train.labels, ...data.test.labels].every((l) => l < 3));
  assert.equal(data.test.count, 300, 'the test limit counts images of the subset');
  const teacher = mean('teacher');
  console.log(
    `3-class teacher accuracy ${teacher.toFixed(3)} (reference ${mean('reference').toFixed(3)}, ` +
      `student ${mean('student').toFixed(3)}, cross-init ${mean('cross_init').toFixed(3)}; ` +
      `${data.train.count} train images; ${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
  assert.ok(teacher > 0.8, `teacher ${teacher} on 3 classes (chance 1/3)`);
  assert.equal(out.results.length, CONDITIONS.length * 3);
});

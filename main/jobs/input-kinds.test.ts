// Every student input kind trains through runExperiment with real trainer processes (cpu), as a
// sweep of the whole inputs object and as an alpha sweep; mix at alpha 0 is the uniform kind's
// noise, so its students equal those of the paper's inputs bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mustValidate } from '../../app/spec/validate.ts';
import { RunStore } from '../store/store.ts';
import { runExperiment } from './run-experiment.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-input-kinds-'));
const cacheDir = join(dir, 'cache');
const BASE = {
  version: 1,
  name: 'input kinds',
  dataset: { name: 'mnist', trainSize: 500, testLimit: 200 },
  model: { hidden: [16] },
  teacher: { epochs: 1, batchSize: 250, learningRate: 0.003 },
  student: { epochs: 1, batchSize: 200, learningRate: 0.003, inputs: { kind: 'uniform', count: 400 } },
  replicates: 2,
  seed: 3,
  lossEvery: 1,
  probeEvery: 0,
};

async function run(store: RunStore, spec: object) {
  const out = await runExperiment(store, mustValidate(spec), { backend: 'cpu', cacheDir, workers: 1 });
  assert.equal(out.status, 'done');
  const cells = store.cells(out.experimentId);
  const students = (cellId: number) =>
    store.metrics(cellId).filter((m) => m.condition !== 'teacher' && m.condition !== 'reference');
  return { cells, students };
}

test('each structured input kind trains its students and controls', async () => {
  const store = new RunStore(join(dir, 'kinds.sqlite'));
  const kinds = [
    { kind: 'mix', count: 400, alpha: 0.5 },
    { kind: 'correlated', count: 400, sigma: 2 },
    { kind: 'spectrum', count: 400 },
    { kind: 'low-rank', count: 400, k: 8 },
  ];
  const swept = await run(store, {
    ...BASE,
    matrix: { sweeps: [{ path: 'student.inputs', values: kinds }] },
  });
  assert.equal(swept.cells.length, kinds.length);
  const losses = swept.cells.map((c) => {
    const results = store.results(c.id);
    const conditions = new Set(results.map((r) => r.condition));
    for (const want of [
      'teacher',
      'student',
      'cross_init',
      'student_all_logits',
      'cross_init_all_logits',
    ] as const)
      assert.ok(conditions.has(want), `${JSON.stringify(c.cell.coords.sweep)}: ${want}`);
    for (const r of results) assert.ok(Number.isFinite(r.accuracy), `${r.condition}: ${r.accuracy}`);
    const loss = swept.students(c.id).filter((m) => m.name === 'loss');
    assert.equal(loss.length, 2 * 4 * 2, '2 steps x 4 conditions x 2 replicates');
    for (const m of loss) assert.ok(Number.isFinite(m.value) && m.value >= 0, `loss ${m.value}`);
    return loss.map((m) => m.value);
  });
  // Each kind's inputs reach its students: four different loss curves.
  for (let i = 1; i < losses.length; i++) assert.notDeepEqual(losses[i], losses[i - 1]);
  store.close();
});

test('an alpha sweep: mix at alpha 0 trains exactly as uniform noise, alpha 1 differently', async () => {
  const store = new RunStore(join(dir, 'alpha.sqlite'));
  const swept = await run(store, {
    ...BASE,
    student: { ...BASE.student, inputs: { kind: 'mix', count: 400 } },
    matrix: { sweeps: [{ path: 'student.inputs.alpha', values: [0, 1] }] },
  });
  assert.deepEqual(
    swept.cells.map((c) => c.cell.coords.sweep),
    [{ 'student.inputs.alpha': 0 }, { 'student.inputs.alpha': 1 }],
  );
  const uniform = await run(store, BASE);
  const strip = (rows: ReturnType<typeof swept.students>) =>
    rows.map(({ condition, replicate, step, name, value }) => [condition, replicate, step, name, value]);
  assert.deepEqual(
    strip(swept.students(swept.cells[0]!.id)),
    strip(uniform.students(uniform.cells[0]!.id)),
    'alpha 0: the uniform kind',
  );
  assert.notDeepEqual(strip(swept.students(swept.cells[1]!.id)), strip(swept.students(swept.cells[0]!.id)));
  store.close();
});

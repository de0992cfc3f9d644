// Sweeps are real: through runExperiment with real trainer processes (cpu), a student-field sweep
// trains one teacher and gives each cell its own students, equal bit for bit to the un-swept spec
// with that value set; a teacher-field sweep trains one teacher per value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mustValidate } from '../../app/spec/validate.ts';
import { RunStore } from '../store/store.ts';
import { runExperiment } from './run-experiment.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-sweep-'));
const cacheDir = join(dir, 'cache');
const BASE = {
  version: 1,
  name: 'sweep',
  dataset: { name: 'mnist', trainSize: 500, testLimit: 200 },
  model: { hidden: [16] },
  teacher: { epochs: 1, batchSize: 250, learningRate: 0.003 },
  student: { epochs: 1, batchSize: 250, learningRate: 0.003, inputs: { kind: 'uniform', count: 500 } },
  replicates: 2,
  seed: 7,
  lossEvery: 1,
  probeEvery: 1,
};
const RATES = [0.001, 0.003, 0.03];

async function run(store: RunStore, spec: object) {
  const out = await runExperiment(store, mustValidate(spec), { backend: 'cpu', cacheDir, workers: 1 });
  assert.equal(out.status, 'done');
  const cells = store.cells(out.experimentId);
  const students = (cellId: number) =>
    store.metrics(cellId).filter((m) => m.condition !== 'teacher' && m.condition !== 'reference');
  return { id: out.experimentId, cells, students, results: (cellId: number) => store.results(cellId) };
}

test('a student sweep trains one teacher; each cell equals the un-swept spec with its value', async () => {
  const store = new RunStore(join(dir, 'student.sqlite'));
  // Cell 0 is also the un-swept spec's only cell; 1 and 2 are the real check. The swept run and the
  // un-swept runs at those rates are independent: side by side, each un-swept one in its own file.
  const aloneStores = RATES.slice(1).map((_, i) => new RunStore(join(dir, `student-alone-${i}.sqlite`)));
  const [swept, ...alones] = await Promise.all([
    run(store, { ...BASE, matrix: { sweeps: [{ path: 'student.learningRate', values: RATES }] } }),
    ...RATES.slice(1).map((rate, i) =>
      run(aloneStores[i]!, { ...BASE, student: { ...BASE.student, learningRate: rate } }),
    ),
  ]);
  assert.deepEqual(
    swept.cells.map((c) => c.cell.coords.sweep),
    RATES.map((v) => ({ 'student.learningRate': v })),
  );
  // One unit (workers 1): one teacher for the three cells.
  const units = store.units(swept.id);
  assert.equal(units.length, 1);
  assert.deepEqual(units[0]!.cells, [0, 1, 2]);
  const results = swept.cells.map((c) => store.results(c.id));
  const studentAcc = (rows: (typeof results)[number]) =>
    rows.filter((r) => r.condition !== 'teacher' && r.condition !== 'reference');
  // The teacher is shared, the students are not.
  const teachers = results.map((r) => r.filter((x) => x.condition === 'teacher'));
  assert.deepEqual(teachers[1], teachers[0]);
  assert.deepEqual(teachers[2], teachers[0]);
  const losses = swept.cells.map((c) => swept.students(c.id).filter((m) => m.name === 'loss'));
  assert.notDeepEqual(losses[1], losses[0]);
  assert.notDeepEqual(losses[2], losses[1]);
  for (const [i, rate] of RATES.entries()) {
    if (i === 0) continue;
    const alone = alones[i - 1]!;
    assert.deepEqual(results[i], alone.results(alone.cells[0]!.id), `results at lr ${rate}`);
    assert.deepEqual(
      swept.students(swept.cells[i]!.id),
      alone.students(alone.cells[0]!.id),
      `metrics at lr ${rate}`,
    );
    assert.notDeepEqual(studentAcc(results[i]!), studentAcc(results[0]!));
  }
  store.close();
  for (const s of aloneStores) s.close();
});

test('a teacher sweep trains one teacher per value', async () => {
  const store = new RunStore(join(dir, 'teacher.sqlite'));
  const swept = await run(store, {
    ...BASE,
    matrix: { sweeps: [{ path: 'teacher.epochs', values: [1, 2] }] },
  });
  assert.equal(store.units(swept.id).length, 2);
  const steps = swept.cells.map(
    (c) =>
      store.metrics(c.id, { name: 'loss' }).filter((m) => m.condition === 'teacher' && m.replicate === 0)
        .length,
  );
  assert.deepEqual(steps, [2, 4], 'teacher steps: 2 per epoch');
  store.close();
});

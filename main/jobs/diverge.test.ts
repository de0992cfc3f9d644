// Divergence end to end, with real trainer processes on the cpu backend: models whose loss becomes
// non-finite are results marked `diverged` (no numbers), the run and its cell stay `done`, nothing
// non-finite reaches SQLite, and summaries count them beside N instead of averaging them.
//
// What diverges at test size: a student temperature of 1e-37. The cross-init students' logits
// divided by it overflow float32 at the first step (their KL is NaN), while the same-init students
// stay finite (their loss is about 1e35): half of the stack diverges, the other half trains on.
// (Learning rate 10 alone does not get there: Adam moves each parameter by at most about the
// learning rate per step; a 16-layer, width-8 leaky-ReLU teacher at rate 10 peaked at a loss of
// 8.9e30 over 80 steps and stayed finite.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mustValidate } from '../../app/spec/validate.ts';
import { jsonSummary, resultTables } from '../cli/format.ts';
import { RunStore } from '../store/store.ts';
import { runExperiment } from './run-experiment.ts';
import { summarizeExperiment } from './summary.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-diverge-'));
const spec = mustValidate({
  version: 1,
  name: 'diverging',
  dataset: { name: 'mnist', trainSize: 1000, testLimit: 300 },
  model: { hidden: [32] },
  teacher: { epochs: 1, batchSize: 250, learningRate: 0.003 },
  student: {
    epochs: 2,
    batchSize: 250,
    learningRate: 0.003,
    temperature: 1e-37,
    inputs: { kind: 'uniform', count: 500 },
  },
  replicates: 3,
  seed: 11,
  lossEvery: 1,
});

test('diverged models are results: marked with their step, left out of means, the run done', async () => {
  const store = new RunStore(join(dir, 'diverge.sqlite'));
  const outcome = await runExperiment(store, spec, {
    backend: 'cpu',
    cacheDir: join(dir, 'cache'),
    workers: 1,
  });
  assert.equal(outcome.status, 'done', outcome.error);
  const cell = store.cells(outcome.experimentId)[0]!;
  assert.equal(cell.status, 'done');

  const results = store.results(cell.id);
  assert.equal(results.length, 6 * 3);
  const diverged = results.filter((r) => r.diverged);
  assert.deepEqual(
    diverged.map((r) => `${r.condition}/${r.replicate}`),
    [
      'cross_init/0',
      'cross_init/1',
      'cross_init/2',
      'cross_init_all_logits/0',
      'cross_init_all_logits/1',
      'cross_init_all_logits/2',
    ],
  );
  for (const r of diverged) {
    assert.deepEqual(r.diverged, { phase: 'students', step: 1, reason: 'non-finite loss' });
    assert.equal(r.accuracy, null);
    assert.equal(r.traitScore, null);
  }
  for (const r of results.filter((r) => !r.diverged))
    assert.ok(Number.isFinite(r.accuracy), JSON.stringify(r));

  // The diverged models stopped emitting at their step; the others kept every row, all finite.
  const nulls = store.db.prepare('SELECT count(*) AS n FROM metrics WHERE value IS NULL').get() as {
    n: number;
  };
  assert.equal(nulls.n, 0);
  const losses = (condition: string) => store.metrics(cell.id, { condition, name: 'loss' });
  assert.equal(losses('cross_init').length, 0, 'no loss row of a model that diverged at its first step');
  assert.equal(losses('student').length, 3 * 4, '3 replicates x 4 steps');
  assert.ok(losses('student').every((m) => Number.isFinite(m.value)));
  // test_accuracy at step 0 (before training) is kept: the model had not diverged yet.
  assert.deepEqual(
    [
      ...new Set(
        store.metrics(cell.id, { condition: 'cross_init', name: 'test_accuracy' }).map((m) => m.step),
      ),
    ],
    [0],
  );

  const summary = summarizeExperiment(store, outcome.experimentId);
  const s = summary.cells[0]!;
  assert.equal(s.status, 'done');
  assert.equal(s.diverged, 6);
  assert.deepEqual(
    { n: s.conditions.cross_init!.n, diverged: s.conditions.cross_init!.diverged },
    { n: 0, diverged: 3 },
  );
  const student = results.filter((r) => r.condition === 'student').map((r) => r.accuracy!);
  assert.equal(s.conditions.student!.mean, student.reduce((a, b) => a + b, 0) / 3);
  assert.deepEqual(
    { n: s.conditions.student!.n, diverged: s.conditions.student!.diverged },
    { n: 3, diverged: 0 },
  );

  const json = JSON.parse(jsonSummary(summary)) as {
    cells: { diverged: number; conditions: Record<string, unknown> }[];
  };
  assert.equal(json.cells[0]!.diverged, 6);
  assert.deepEqual(json.cells[0]!.conditions.cross_init, {
    mean: null,
    ci95: null,
    sd: null,
    low: null,
    high: null,
    method: 't',
    n: 0,
    diverged: 3,
  });
  const table = resultTables(summary);
  assert.match(table, /\(done, 6 models diverged\)/);
  assert.match(table, /cross-init[^\n]*0 \(3 diverged\)/i);
  store.close();
});

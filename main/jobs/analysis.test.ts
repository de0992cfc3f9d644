// The representation analysis end to end: a tiny run in real trainer processes (two of them, so the
// replicates are sharded) records CKA per hidden layer and the linear probe for every student and
// control into a real SQLite store, and the Results code reads them back: the summary's final
// values, the curves' series and the bar and curve figures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROBE_ACCURACY } from '../../app/analysis.ts';
import type { ExperimentDetail } from '../../app/api.ts';
import { loadSeries } from '../../app/series.ts';
import { STUDENT_CONDITIONS } from '../../app/conditions.ts';
import { analysisBarsFigure, analysisMetrics, curvesFigure } from '../../app/figures.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import { LabService } from '../api/service.ts';
import { RunStore } from '../store/store.ts';
import { runExperiment } from './run-experiment.ts';
import { summarizeExperiment } from './summary.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-analysis-'));

const spec = mustValidate({
  version: 1,
  name: 'analysis',
  dataset: { name: 'mnist', trainSize: 1000, testLimit: 300 },
  model: { hidden: [32, 16] },
  teacher: { epochs: 2, batchSize: 250, learningRate: 0.003 },
  student: { epochs: 2, batchSize: 250, learningRate: 0.003, inputs: { kind: 'uniform', count: 500 } },
  matrix: { architectures: [{ kind: 'same-init' }, { kind: 'different-init' }] },
  replicates: 3,
  seed: 5,
  lossEvery: 1,
  analysis: {
    every: 1,
    ckaImages: 64,
    linearProbe: { when: 'every', trainImages: 300, testImages: 150, steps: 40 },
  },
});

test('a run records CKA and the linear probe for students and controls, and Results reads them back', async () => {
  const store = new RunStore(join(dir, 'runs.sqlite'));
  const outcome = await runExperiment(store, spec, {
    backend: 'wasm',
    cacheDir: join(dir, 'cache'),
    workers: 2,
  });
  assert.equal(outcome.status, 'done', outcome.error);
  const cells = store.cells(outcome.experimentId);
  const studentSteps = [0, 1, 2, 3, 4]; // every step (analysis.every = 1), 2 epochs of 2 steps
  for (const cell of cells) {
    for (const name of ['cka.hidden.0', 'cka.hidden.1', PROBE_ACCURACY]) {
      const rows = store.metrics(cell.id, { name });
      for (const condition of STUDENT_CONDITIONS) {
        const mine = rows.filter((r) => r.condition === condition);
        assert.deepEqual([...new Set(mine.map((r) => r.step))], studentSteps, `${name} ${condition} steps`);
        assert.equal(mine.length, studentSteps.length * 3, `${name} ${condition}: every replicate`);
        for (const r of mine) assert.ok(r.value >= 0 && r.value <= 1 + 1e-6, `${name} in [0, 1]: ${r.value}`);
      }
    }
    // The probe's baselines: the untrained init at step 0, the teacher at its last step (2 epochs x 4).
    const probe = store.metrics(cell.id, { name: PROBE_ACCURACY });
    assert.deepEqual([...new Set(probe.filter((r) => r.condition === 'reference').map((r) => r.step))], [0]);
    assert.deepEqual([...new Set(probe.filter((r) => r.condition === 'teacher').map((r) => r.step))], [8]);
    for (const r of probe)
      assert.ok(r.value > 0.2, `probe at twice chance or more: ${r.condition} ${r.value}`);
    // Trained features are more linearly decodable than the untrained init's.
    const meanOf = (c: string) => {
      const v = probe.filter((r) => r.condition === c).map((r) => r.value);
      return v.reduce((x, y) => x + y, 0) / v.length;
    };
    assert.ok(
      meanOf('teacher') > meanOf('reference'),
      `teacher ${meanOf('teacher')} vs reference ${meanOf('reference')}`,
    );
  }
  // A same-init student starts from its teacher's init and its first hidden layer grows closer to
  // the teacher's as it imitates it (here 0.51 -> 0.57); a cross-init control's stays lower (0.40-0.43).
  const first = store.metrics(cells[0]!.id, { name: 'cka.hidden.0' });
  const mean = (c: string, step: number) => {
    const v = first.filter((r) => r.condition === c && r.step === step).map((r) => r.value);
    return v.reduce((a, b) => a + b, 0) / v.length;
  };
  for (const step of studentSteps)
    assert.ok(
      mean('student', step) > mean('cross_init', step) + 0.05,
      `step ${step}: ${mean('student', step)} vs ${mean('cross_init', step)}`,
    );
  assert.ok(mean('student', 4) > mean('student', 0), 'the same-init student moves toward its teacher');

  // The summary (CLI table, --json, the API's detail): each condition's final value, paired differences.
  const summary = summarizeExperiment(store, outcome.experimentId);
  const analysis = summary.cells[0]!.analysis!;
  assert.deepEqual(
    analysis.map((a) => a.metric),
    ['cka.hidden.0', 'cka.hidden.1', PROBE_ACCURACY],
  );
  const probeSummary = analysis.find((a) => a.metric === PROBE_ACCURACY)!;
  assert.deepEqual(Object.keys(probeSummary.conditions).sort(), [
    'cross_init',
    'cross_init_all_logits',
    'reference',
    'student',
    'student_all_logits',
    'teacher',
  ]);
  const cka0 = analysis[0]!;
  const finals = first.filter((r) => r.step === 4);
  for (const condition of STUDENT_CONDITIONS) {
    const values = finals.filter((r) => r.condition === condition).map((r) => r.value);
    assert.equal(cka0.conditions[condition]!.n, 3);
    assert.ok(Math.abs(cka0.conditions[condition]!.mean - values.reduce((a, b) => a + b, 0) / 3) < 1e-12);
  }
  const headline = cka0.comparisons.find((c) => c.a === 'student' && c.b === 'cross_init')!;
  assert.equal(headline.n, 3);
  assert.ok(headline.meanDiff > 0.05 && headline.pHolm >= headline.p, `${headline.meanDiff}`);

  // Results: the API's detail and series, the bars at the end and the curves over training.
  const service = new LabService({
    store,
    backend: 'wasm',
    cacheDir: join(dir, 'cache'),
    mode: 'browser',
    workers: 1,
  });
  const detail = (await service.call('experiments.get', { id: outcome.experimentId })) as ExperimentDetail;
  const series = await loadSeries({ id: outcome.experimentId }, service.handlers['experiments.series']);
  assert.deepEqual(analysisMetrics([detail]), ['cka.hidden.0', 'cka.hidden.1', PROBE_ACCURACY]);
  const bars = analysisBarsFigure([detail], 'cka.hidden.0');
  assert.ok(bars.kind === 'bars' && bars.chance === null && bars.groups.length === 2);
  assert.equal(
    bars.rows.find((r) => r.group === bars.groups[0]!.key && r.condition === 'student')!.mean,
    cka0.conditions.student!.mean,
  );
  // The different-init cell's student is its control: no difference (0 by construction) above it.
  assert.deepEqual(bars.kind === 'bars' && bars.pairs.map((p) => p.group), [bars.groups[0]!.key]);
  assert.equal(bars.kind === 'bars' && bars.seeds.length, 2 * 4 * 3);
  const probeBars = analysisBarsFigure([detail], PROBE_ACCURACY);
  assert.ok(probeBars.kind === 'bars' && probeBars.chance === 0.1, 'the probe is an accuracy: chance 1/10');
  const curves = curvesFigure(detail, series, 0, 'cka.hidden.1');
  assert.ok(curves.kind === 'curves');
  assert.deepEqual([...new Set(curves.rows.map((r) => r.step))], studentSteps);
  assert.deepEqual([...new Set(curves.rows.map((r) => r.condition))].sort(), [...STUDENT_CONDITIONS].sort());
  assert.match(curves.meta.caption.join(' '), /Linear CKA \(Kornblith et al\. 2019\)/);
  await service.close();
  store.close();
});

// The analysis settings in a spec, and the final summaries Results draws the bars from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  adjustAnalysisAcrossCells,
  compareMetrics,
  isAccuracyMetric,
  metricLabel,
  summarizeAnalysis,
  type FinalRow,
} from './analysis.ts';
import { tQuantile } from './stats.ts';
import { validateSpec } from './spec/validate.ts';

test('the spec: analysis defaults, and a clear message for a CKA set too small to mean anything', () => {
  const ok = validateSpec({ version: 1, name: 'a' });
  assert.ok(ok.ok);
  assert.deepEqual(ok.spec.analysis, {
    every: 0,
    ckaImages: 512,
    linearProbe: {
      when: 'end',
      trainImages: 2048,
      testImages: 1000,
      steps: 100,
      learningRate: 0.05,
      l2: 1e-3,
    },
  });
  const off = validateSpec({
    version: 1,
    name: 'a',
    analysis: { ckaImages: 0, linearProbe: { when: 'off' } },
  });
  assert.ok(off.ok);
  const small = validateSpec({ version: 1, name: 'a', analysis: { ckaImages: 5 } });
  assert.ok(!small.ok);
  assert.deepEqual(small.errors, [
    { path: 'analysis.ckaImages', message: 'expected 0 (no CKA) or at least 16 test images, got 5' },
  ]);
  const swept = validateSpec({
    version: 1,
    name: 'a',
    matrix: { sweeps: [{ path: 'analysis.every', values: [0, 10] }] },
  });
  assert.ok(swept.ok, 'the analysis interval is sweepable');
});

test('metric names read as what they measure, in order, with chance only for accuracies', () => {
  // Layers counted from 1 as a reader counts them; the key counts from 0 like the spec's parts.
  assert.equal(metricLabel('cka.hidden.0'), 'linear CKA to the teacher, hidden layer 1');
  assert.equal(metricLabel('cka.hidden.1'), 'linear CKA to the teacher, hidden layer 2');
  assert.equal(metricLabel('probe.accuracy'), 'linear probe test accuracy');
  assert.equal(metricLabel('cosine_all'), "cosine to the teacher's update, all parameters");
  assert.equal(metricLabel('trait_rate'), 'trait rate');
  assert.deepEqual(['probe.accuracy', 'cka.hidden.10', 'cka.hidden.2'].sort(compareMetrics), [
    'cka.hidden.2',
    'cka.hidden.10',
    'probe.accuracy',
  ]);
  assert.ok(isAccuracyMetric('probe.accuracy') && !isAccuracyMetric('cka.hidden.0'));
});

test('final summaries: Student-t per condition, paired student minus cross-init, Holm per metric across cells', () => {
  const student = [0.9, 0.8, 0.85];
  const cross = [0.4, 0.5, 0.45];
  const rows: FinalRow[] = [
    ...student.map((value, replicate) => ({
      condition: 'student' as const,
      replicate,
      name: 'cka.hidden.0',
      value,
    })),
    ...cross.map((value, replicate) => ({
      condition: 'cross_init' as const,
      replicate,
      name: 'cka.hidden.0',
      value,
    })),
    { condition: 'student', replicate: 0, name: 'loss', value: 1 },
  ];
  const [cka, ...rest] = summarizeAnalysis(rows);
  assert.equal(rest.length, 0, 'only analysis metrics');
  assert.equal(cka!.metric, 'cka.hidden.0');
  const s = cka!.conditions.student!;
  assert.ok(Math.abs(s.mean - 0.85) < 1e-12 && s.n === 3);
  // sd of [0.9, 0.8, 0.85] is 0.05: half-width t(0.975, 2) * 0.05 / sqrt(3)
  assert.ok(Math.abs(s.ci95 - (tQuantile(0.975, 2) * 0.05) / Math.sqrt(3)) < 1e-12);
  const pair = cka!.comparisons.find((c) => c.a === 'student' && c.b === 'cross_init')!;
  assert.ok(Math.abs(pair.meanDiff - 0.4) < 1e-12 && pair.n === 3);
  assert.equal(cka!.values.length, 6);
  // Two cells: Holm doubles the smaller p of the family (capped at 1).
  const cells = [{ analysis: summarizeAnalysis(rows) }, { analysis: summarizeAnalysis(rows) }];
  adjustAnalysisAcrossCells(cells);
  const adjusted = cells[0]!.analysis[0]!.comparisons.find((c) => c.a === 'student')!;
  assert.ok(Math.abs(adjusted.pHolm - Math.min(1, 2 * adjusted.p)) < 1e-12);
});

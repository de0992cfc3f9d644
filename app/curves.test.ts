import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SeriesData } from './api.ts';
import {
  STEP_INCREMENTS,
  cellStudentLoss,
  formatValue,
  legendValue,
  metricAxisTitle,
  phaseOf,
  stepAxisTitle,
  valueAt,
} from './curves.ts';
import { mustValidate } from './spec/validate.ts';

test('the teacher and reference are the teacher phase; every student condition the student phase', () => {
  assert.equal(phaseOf('teacher'), 'teacher');
  assert.equal(phaseOf('reference'), 'teacher');
  for (const c of ['student', 'student_all_logits', 'cross_init', 'cross_init_all_logits'] as const)
    assert.equal(phaseOf(c), 'students');
  assert.equal(stepAxisTitle('teacher'), 'teacher step');
  assert.equal(stepAxisTitle('students'), 'student step');
});

test('axis titles name the loss each phase trains with, a swept student loss per cell', () => {
  assert.equal(metricAxisTitle('loss', 'teacher', 'mse'), 'loss (cross-entropy)');
  assert.equal(metricAxisTitle('loss', 'students', 'kl'), 'loss (KL to teacher)');
  assert.equal(metricAxisTitle('loss', 'students', 'mse'), "loss (MSE to teacher's logits)");
  assert.match(metricAxisTitle('loss', 'students', 'soft-ce'), /^loss \(cross-entropy to teacher/);
  assert.equal(metricAxisTitle('test_accuracy', 'students', 'kl'), 'test accuracy');
  // Replay's readout and the live charts name a series as the Results menus do, never by its key.
  assert.equal(
    metricAxisTitle('cka.hidden.0', 'students', 'kl'),
    'linear CKA to the teacher, hidden layer 1',
  );
  assert.equal(metricAxisTitle('probe.accuracy', 'students', 'kl'), 'linear probe test accuracy');
  const spec = mustValidate({
    version: 1,
    name: 'losses',
    matrix: { sweeps: [{ path: 'student.loss', values: ['kl', 'mse', 'soft-ce'] }] },
  });
  assert.deepEqual(
    [0, 1, 2].map((c) => cellStudentLoss(spec, c)),
    ['kl', 'mse', 'soft-ce'],
  );
  assert.equal(cellStudentLoss(mustValidate({ version: 1, name: 'plain' }), 0), 'kl');
});

const accuracy: SeriesData = {
  cell: 0,
  condition: 'student',
  name: 'test_accuracy',
  steps: [0, 24, 48],
  mean: [0.1, 0.5, 0.7],
  ci95: [0, 0, 0],
  n: [3, 3, 3],
};

test('the legend reads the value at the cursor, held between points, and the latest without one', () => {
  assert.equal(legendValue(accuracy, null), 0.7, 'no cursor: the latest, never a blank');
  assert.equal(legendValue(accuracy, 24), 0.5);
  assert.equal(legendValue(accuracy, 30), 0.5, 'between two measurements: the last one taken');
  assert.equal(legendValue(accuracy, 1000), 0.7);
  assert.equal(valueAt({ ...accuracy, steps: [5, 10, 15] }, 4), undefined, 'before the first point');
  assert.equal(legendValue({ ...accuracy, steps: [], mean: [] }, null), undefined);
});

test('legend numbers: four significant digits, small losses not rounded to zero', () => {
  assert.equal(formatValue(2.302585), '2.303');
  assert.equal(formatValue(0.9125), '0.9125');
  assert.equal(formatValue(0.0012346), '0.001235');
  assert.equal(formatValue(0.00001234), '1.23e-5');
  assert.equal(formatValue(0), '0');
  assert.equal(formatValue(undefined), 'none yet');
  assert.equal(formatValue(Number.NaN), 'none yet');
});

test('step ticks are whole steps', () => {
  assert.ok(STEP_INCREMENTS.every((i) => Number.isInteger(i) && i >= 1));
  assert.deepEqual(STEP_INCREMENTS.slice(0, 4), [1, 2, 5, 10]);
});

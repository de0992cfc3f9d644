import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PhaseProgress } from './api.ts';
import { phaseWeights, withEtas } from './job-eta.ts';
import { plannedRows, secondsLeft } from './progress-rows.ts';
import type { Phase } from './protocol.ts';
import { mustValidate } from './spec/validate.ts';

const spec = mustValidate({
  version: 1,
  name: 'eta',
  replicates: 2,
  dataset: { name: 'mnist', trainSize: 1000 },
  teacher: { epochs: 2, batchSize: 100 },
  student: { epochs: 1, batchSize: 100, inputs: { kind: 'uniform', count: 500 } },
  matrix: {
    filters: [
      { kind: 'logits', keep: 'aux' },
      { kind: 'logits', keep: 'all' },
    ],
  },
});

test('rows are weighted by the training they do; a shared teacher counts once', () => {
  // Both filters share the teacher: one group of two cells.
  const w = phaseWeights(spec, [[0, 1]]);
  assert.equal(w.get('teacher:0,1'), 2 * 1000 * 2);
  assert.equal(w.get('students:1'), 2 * 4 * 500 * 1);
  assert.equal(w.size, 3);
});

const row = (cells: number[], phase: Phase, step: number, totalSteps: number): PhaseProgress => ({
  cells,
  phase,
  step,
  totalSteps,
  etaSeconds: null,
});

test("each row's time left, and the job's as their sum: measured where running, weighed where waiting", () => {
  // Two groups of one cell each (their teachers differ), each teacher 4000 model-samples, each
  // cell's students 4000 (2 replicates x 4 conditions x 500 inputs x 1 epoch).
  const groups = [[0], [1]];
  const w = new Map([
    ['teacher:0', 4000],
    ['students:0', 4000],
    ['teacher:1', 4000],
    ['students:1', 4000],
  ]);
  // Before anything runs: every row at the store's 1000 model-samples per second.
  const before = withEtas(plannedRows(groups), w, new Map(), 1000);
  assert.deepEqual(
    before.map((r) => r.etaSeconds),
    [4, 4, 4, 4],
  );
  assert.equal(secondsLeft(before), 16);
  // Cell 1's teacher half done at 2 steps/s of 20: 5 s left; it trains 4000 / 20 * 2 = 400
  // model-samples per second, so the waiting teacher of cell 2 takes 10 s, and without a student
  // measured yet, the students go at the teachers' speed too.
  const rows = withEtas(
    [
      row([0], 'teacher', 10, 20),
      { ...row([0], 'students', 0, 0), waiting: true },
      ...plannedRows(groups).slice(2),
    ],
    w,
    new Map([['group:0', 2]]),
    1000,
  );
  assert.deepEqual(
    rows.map((r) => r.etaSeconds),
    [5, 10, 10, 10],
  );
  assert.equal(secondsLeft(rows), 35);
  // A finished teacher says 0 and a row loading data has its whole teacher ahead of it.
  const later = withEtas(
    [
      row([0], 'teacher', 20, 20),
      row([0], 'students', 5, 10),
      row([1], 'data', 0, 1),
      { ...row([1], 'students', 0, 0), waiting: true },
    ],
    w,
    new Map([['students:0', 1]]),
    1000,
  );
  // Students: 5 steps at 1 step/s = 5 s, at 4000 / 10 = 400 model-samples/s; the teacher of cell
  // 2 at the students' speed (no teacher is measured now): 10 s.
  assert.deepEqual(
    later.map((r) => r.etaSeconds),
    [0, 5, 10, 10],
  );
  assert.equal(secondsLeft(later), 25);
});

test("a shared teacher's students train together: their rows share one time left, counted once", () => {
  const w = phaseWeights(spec, [[0, 1]]);
  const rows = withEtas(
    [row([0, 1], 'teacher', 40, 40), row([0], 'students', 2, 10), row([1], 'students', 2, 10)],
    w,
    new Map([
      ['students:0', 4],
      ['students:1', 4],
    ]),
    1000,
  );
  assert.deepEqual(
    rows.map((r) => r.etaSeconds),
    [0, 2, 2],
  );
  assert.equal(secondsLeft(rows), 2, 'not 4: the two rows are one training');
});

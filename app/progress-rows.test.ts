import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PhaseProgress } from './api.ts';
import {
  cellRange,
  cellsLabel,
  etaSlots,
  placeProgress,
  plannedRows,
  secondsLeft,
  type CellProgress,
} from './progress-rows.ts';
import type { Phase } from './protocol.ts';

test('cell ranges are one-based, with consecutive runs shortened', () => {
  assert.equal(cellRange([0]), '1');
  assert.equal(cellRange([3, 0, 1, 2, 6]), '1-4, 7');
  assert.equal(cellRange([0, 1, 5, 6, 7]), '1, 2, 6-8');
  assert.equal(cellsLabel([4]), 'cell 5');
  assert.equal(cellsLabel([0, 2]), 'cells 1, 3');
});

/** Feeds reports through placeProgress as the runner sends them: every cell of a group in turn. */
function feed(groups: number[][], reports: Omit<CellProgress, 'etaSeconds'>[]): PhaseProgress[] {
  return reports.reduce<PhaseProgress[]>(
    (rows, r) => placeProgress(rows, { ...r, etaSeconds: null }, groups),
    [],
  );
}
const all = (cells: number[], phase: Phase, step: number, totalSteps: number) =>
  cells.map((cell) => ({ cell, phase, step, totalSteps }));
const shape = (rows: PhaseProgress[]) =>
  rows.map((r) => `${r.phase} [${r.cells.join(',')}] ${r.step}/${r.totalSteps}`);

test('a shared teacher is one row naming its cells; the students have a row per cell', () => {
  // Two groups, run in the order [2, 0] then [1]: cell 1 has a teacher of its own.
  const groups = [[2, 0], [1]];
  const rows = feed(groups, [
    ...all([2, 0], 'data', 0, 1),
    ...all([2, 0], 'teacher', 0, 30),
    ...all([2, 0], 'teacher', 12, 30),
  ]);
  assert.deepEqual(shape(rows), ['teacher [2,0] 12/30'], 'data then teacher on the same row, once');

  const later = feed(groups, [
    ...all([2, 0], 'data', 0, 1),
    ...all([2, 0], 'teacher', 0, 30),
    ...all([2, 0], 'teacher', 29, 30),
    ...all([2, 0], 'students', 0, 40),
    ...all([2, 0], 'students', 8, 40),
    ...all([1], 'data', 0, 1),
  ]);
  assert.deepEqual(shape(later), [
    // The teacher is complete once its students start, though its last report said 29.
    'teacher [2,0] 30/30',
    'students [0] 8/40',
    'students [2] 8/40',
    'data [1] 0/1',
  ]);
});

test('rows read in cell order whatever order the schedule runs them and the reports come in', () => {
  const groups = [[1], [0]];
  const rows = feed(groups, [
    ...all([0], 'teacher', 0, 10),
    ...all([1], 'students', 5, 10),
    ...all([1], 'teacher', 10, 10),
  ]);
  assert.deepEqual(shape(rows), ['teacher [0] 0/10', 'teacher [1] 10/10', 'students [1] 5/10']);
});

test("one shared teacher's six cells, scheduled 1, 5, 3, 2, 4, 6: students listed 1 to 6", () => {
  // The schedule covers the matrix early (app/matrix.ts scheduleOrder), so a group's cells come
  // out of order; the table lists them in order.
  const group = [0, 4, 2, 1, 3, 5];
  const rows = feed([group], [...all(group, 'teacher', 10, 10), ...all(group, 'students', 3, 10)]);
  const students = rows.filter((r) => r.phase === 'students').map((r) => r.cells[0]! + 1);
  assert.deepEqual(students, [1, 2, 3, 4, 5, 6]);
});

test('planned rows: every group and cell waiting from the start, replaced as they start', () => {
  const groups = [[2, 0], [1]];
  const planned = plannedRows(groups);
  assert.deepEqual(shape(planned), [
    'teacher [2,0] 0/0',
    'students [0] 0/0',
    'students [2] 0/0',
    'teacher [1] 0/0',
    'students [1] 0/0',
  ]);
  assert.ok(planned.every((r) => r.waiting));
  const started = placeProgress(
    planned,
    { cell: 1, phase: 'data', step: 0, totalSteps: 1, etaSeconds: null },
    groups,
  );
  assert.deepEqual(shape(started).slice(3), ['data [1] 0/1', 'students [1] 0/0']);
  assert.equal(started[3]!.waiting, undefined, 'a row that has started is no longer waiting');
});

test("the job's time left is the sum of its rows', a group's students counted once", () => {
  const rows = plannedRows([[2, 0], [1]]).map((r, i) => ({ ...r, etaSeconds: 10 * (i + 1) }));
  // Slots: the teacher of [2, 0]; its two cells' students together; the teacher of [1]; its students.
  assert.deepEqual(etaSlots(rows), [0, 1, 1, 3, 4]);
  assert.equal(secondsLeft(rows), 10 + 20 + 40 + 50);
  assert.equal(secondsLeft([{ ...rows[0]!, etaSeconds: null }]), null);
});

test('a cell no group names (a runner that did not say) gets rows of its own', () => {
  const rows = feed([], [...all([3], 'teacher', 2, 10), ...all([3], 'students', 1, 10)]);
  assert.deepEqual(shape(rows), ['teacher [3] 10/10', 'students [3] 1/10']);
});

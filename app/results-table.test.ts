import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Condition } from './conditions.ts';
import { mustValidate } from './spec/validate.ts';
import { summarize } from './stats.ts';
import { INITS_SPEC, makeDetail } from './testing/detail.ts';
import {
  pairedTable,
  resultsTable,
  SHARED_TEACHER_NOTE,
  sortRows,
  STUDENT_IS_CONTROL_NOTE,
  TWIN_NOTE,
  type ResultsRow,
} from './results-table.ts';

const aux = { kind: 'logits', keep: 'aux' } as const;
const all = { kind: 'logits', keep: 'all' } as const;
const twoFilters = mustValidate({
  version: 1,
  name: 'two filters',
  replicates: 3,
  matrix: { filters: [aux, all] },
});

/** Numbers as the engine gives them: one teacher for both cells; in the all-logits cell twins are alike. */
function accuracy(cell: number, condition: Condition, r: number): number {
  const base: Record<Condition, number> = {
    reference: 0.1,
    teacher: 0.85,
    student: 0.55,
    student_all_logits: 0.8,
    cross_init: 0.12,
    cross_init_all_logits: 0.6,
  };
  const alike =
    cell === 1 && condition.endsWith('_all_logits') ? condition.replace('_all_logits', '') : condition;
  const shared = condition === 'reference' || condition === 'teacher';
  return base[alike as Condition] + 0.01 * r + (shared ? 0 : 0.002 * cell);
}

const view = (rows: ResultsRow[]) => rows.map((r) => [r.group, r.label, r.note ?? null]);

test('reference and teacher once per shared teacher; an all-logits cell shows each twin pair once', () => {
  const table = resultsTable([makeDetail(twoFilters, { accuracy })]);
  assert.deepEqual(table.notes, [SHARED_TEACHER_NOTE, TWIN_NOTE]);
  assert.deepEqual(view(table.rows), [
    ['skill | same-init (2 cells)', 'reference (untrained init)', 1],
    ['skill | same-init (2 cells)', 'teacher', 1],
    ['skill | aux-logits | same-init', 'student (same init)', null],
    ['skill | aux-logits | same-init', 'student, all logits', null],
    ['skill | aux-logits | same-init', 'cross-init student', null],
    ['skill | aux-logits | same-init', 'cross-init, all logits', null],
    ['skill | all-logits | same-init', 'student (same init) = student, all logits', 2],
    ['skill | all-logits | same-init', 'cross-init student = cross-init, all logits', 2],
  ]);
  assert.deepEqual(
    table.rows.map((r) => r.order),
    table.rows.map((_, i) => i),
  );
  assert.equal(table.hasTrait, false);
});

test('each row has the Student-t interval as [low, high], N and the diverged count', () => {
  const diverging = (cell: number, condition: Condition, r: number) =>
    cell === 0 && condition === 'cross_init' && r === 2 ? null : accuracy(cell, condition, r);
  // Through JSON, as the API sends it: NaN (an interval at N = 1) arrives as null.
  const detail = JSON.parse(JSON.stringify(makeDetail(twoFilters, { accuracy: diverging })));
  const rows = resultsTable([detail]).rows;
  const student = rows.find((r) => r.group.includes('aux') && r.condition === 'student')!;
  const want = summarize([0, 1, 2].map((r) => accuracy(0, 'student', r)));
  assert.equal(student.mean, want.mean);
  assert.ok(Math.abs(student.low - want.low) < 1e-15 && Math.abs(student.high - want.high) < 1e-15);
  assert.ok(student.high - student.low > 2 * 1.96 * (want.sd / Math.sqrt(3)), 't(0.975, 2) = 4.30, not 1.96');
  assert.deepEqual([student.n, student.diverged], [3, 0]);
  const cross = rows.find((r) => r.group.includes('aux') && r.condition === 'cross_init')!;
  assert.deepEqual([cross.n, cross.diverged], [2, 1]);

  const one = mustValidate({ ...twoFilters, replicates: 2 });
  const single = (cell: number, condition: Condition, r: number) =>
    condition === 'student' && r === 1 ? null : accuracy(cell, condition, r);
  const lone = resultsTable([JSON.parse(JSON.stringify(makeDetail(one, { accuracy: single })))]).rows.find(
    (r) => r.condition === 'student' && r.group.includes('aux'),
  )!;
  assert.equal(lone.n, 1);
  assert.ok(Number.isFinite(lone.mean) && Number.isNaN(lone.low) && Number.isNaN(lone.high));
});

test('twins are merged only where the filter passes every logit unchanged and the numbers agree', () => {
  // A temperature filter keeping every logit still changes the targets: its twins are different models.
  const temperature = mustValidate({
    ...twoFilters,
    matrix: { ...twoFilters.matrix, filters: [{ kind: 'temperature', keep: 'all', value: 2 }] },
  });
  const alike = (_: number, condition: Condition, r: number) => accuracy(1, condition, r);
  assert.equal(resultsTable([makeDetail(temperature, { accuracy: alike })]).rows.length, 6);
  // Every logit listed by index is the identity too.
  const listed = mustValidate({
    ...twoFilters,
    matrix: { ...twoFilters.matrix, filters: [{ kind: 'logits', keep: [...Array(13).keys()] }] },
  });
  assert.equal(resultsTable([makeDetail(listed, { accuracy: alike })]).rows.length, 4);
  // Numbers that differ are shown as they are, never silently merged.
  const apart = (cell: number, condition: Condition, r: number) =>
    accuracy(cell, condition, r) + (condition === 'student_all_logits' ? 0.001 : 0);
  const table = resultsTable([makeDetail(twoFilters, { accuracy: apart })]);
  const cell1 = table.rows.filter((r) => r.group.includes('all-logits'));
  assert.deepEqual(
    cell1.map((r) => r.label),
    ['student (same init)', 'student, all logits', 'cross-init student = cross-init, all logits'],
  );
});

test('cells with their own teachers keep their own reference and teacher rows', () => {
  const teacherSweep = mustValidate({
    version: 1,
    name: 'teacher epochs',
    replicates: 2,
    matrix: { sweeps: [{ path: 'teacher.epochs', values: [1, 2] }] },
  });
  const perTeacher = (cell: number, condition: Condition, r: number) =>
    accuracy(0, condition, r) + (condition === 'teacher' ? 0.05 * cell : 0);
  const rows = resultsTable([makeDetail(teacherSweep, { accuracy: perTeacher })]).rows;
  assert.deepEqual(
    rows.filter((r) => r.condition === 'teacher').map((r) => [r.group, r.note ?? null]),
    [
      ['skill | aux-logits | same-init | teacher.epochs=1', null],
      ['skill | aux-logits | same-init | teacher.epochs=2', null],
    ],
  );
  const studentSweep = mustValidate({
    ...teacherSweep,
    matrix: { ...teacherSweep.matrix, sweeps: [{ path: 'student.learningRate', values: [0.001, 0.003] }] },
  });
  const shared = resultsTable([makeDetail(studentSweep, { accuracy })]).rows;
  assert.deepEqual(
    shared.filter((r) => r.condition === 'teacher').map((r) => r.group),
    ['skill | aux-logits | same-init (2 cells)'],
  );
});

test('several experiments are told apart by id; trait rates come with their interval', () => {
  const backdoor = mustValidate({
    version: 1,
    name: 'b',
    replicates: 2,
    matrix: { traits: [{ kind: 'backdoor' }] },
  });
  const a = makeDetail(twoFilters, { id: 3, accuracy });
  const b = makeDetail(backdoor, {
    id: 4,
    accuracy,
    trait: (_c, condition, r) => (condition === 'teacher' ? 0.9 : 0.2) + r / 10,
  });
  const table = resultsTable([a, b]);
  assert.ok(table.rows.slice(0, 8).every((r) => r.group.startsWith('#3 ') && r.trait === null));
  const teacher = table.rows.find((r) => r.experiment === 4 && r.condition === 'teacher')!;
  assert.match(teacher.group, /^#4 backdoor-0 \| aux-logits \| same-init$/);
  assert.equal(teacher.trait!.mean, 0.95);
  assert.equal(table.hasTrait, true);
});

test('sorting by a column keeps ties and missing values in table order', () => {
  const rows = resultsTable([makeDetail(twoFilters, { accuracy })]).rows;
  const byMean = sortRows(rows, 'mean', false);
  assert.equal(byMean[0]!.condition, 'teacher');
  assert.ok(byMean.every((r, i) => i === 0 || byMean[i - 1]!.mean >= r.mean));
  const byN = sortRows(rows, 'n', true);
  assert.deepEqual(
    byN.map((r) => r.order),
    rows.map((r) => r.order),
  );
  const byTrait = sortRows(rows, 'trait', true);
  assert.deepEqual(
    byTrait.map((r) => r.order),
    rows.map((r) => r.order),
  );
});

test('the paired table drops the all-logits comparison where it pairs the same models', () => {
  const paired = pairedTable([makeDetail(twoFilters, { accuracy })]);
  assert.deepEqual(
    paired.rows.map((r) => [r.group, r.label, r.note ?? null]),
    [
      ['skill | aux-logits | same-init', 'student minus cross-init', null],
      ['skill | aux-logits | same-init', 'all logits: student minus cross-init', null],
      ['skill | aux-logits | same-init', 'teacher minus student', null],
      ['skill | all-logits | same-init', 'student minus cross-init (= all logits)', 1],
      ['skill | all-logits | same-init', 'teacher minus student', null],
    ],
  );
  assert.deepEqual(paired.notes, [TWIN_NOTE]);
  assert.ok(paired.rows.every((r) => Number.isFinite(r.pHolm) && r.pHolm >= r.p));
});

test("a different-init cell's student is its cross-init control: one row each, and a paired row that says why it is 0", () => {
  const inits = INITS_SPEC;
  // As the engine gives them: in the different-init cell (1) each student equals its control.
  const alike = (cell: number, condition: Condition, r: number) =>
    accuracy(cell, cell === 1 ? (condition.replace('student', 'cross_init') as Condition) : condition, r);
  const detail = makeDetail(inits, { accuracy: alike });
  const rows = resultsTable([detail]).rows.filter((r) => r.group.endsWith('different-init'));
  assert.deepEqual(view(rows), [
    ['skill | aux-logits | different-init', 'student (different init) = cross-init student', 2],
    ['skill | aux-logits | different-init', 'student, all logits = cross-init, all logits', 2],
  ]);
  assert.equal(resultsTable([detail]).notes[1], STUDENT_IS_CONTROL_NOTE);
  const paired = pairedTable([detail]);
  const zero = paired.rows.find((r) => r.group.endsWith('different-init') && r.a === 'student')!;
  assert.equal(zero.meanDiff, 0);
  assert.equal(zero.label, 'student minus cross-init (one model: 0 by construction)');
  assert.equal(paired.notes[zero.note! - 1], STUDENT_IS_CONTROL_NOTE);
  // The same-init cell keeps its four students and an unmarked comparison.
  const same = paired.rows.find((r) => r.group.endsWith('| same-init') && r.a === 'student')!;
  assert.deepEqual([same.label, same.note], ['student minus cross-init', undefined]);
  assert.match(STUDENT_IS_CONTROL_NOTE, /0 by construction/);
});

test('bootstrap intervals are shown as the summaries made them, not as mean +- half-width', () => {
  const skewed = (cell: number, condition: Condition, r: number) =>
    accuracy(cell, condition, 0) + [0, 0.01, 0.3][r]!;
  const detail = makeDetail(twoFilters, { accuracy: skewed, interval: 'bootstrap' });
  const row = resultsTable([detail]).rows.find((r) => r.condition === 'student')!;
  const want = detail.cellDetails[0]!.conditions.student!;
  assert.deepEqual([row.low, row.high], [want.low, want.high]);
  assert.notEqual(row.high - row.mean, row.mean - row.low, 'a percentile interval need not be symmetric');
});

// Progress rows of a job as the Run screen shows them: cells that share a teacher load their data
// and train that teacher once, so the group has one row (naming its cells); the students train per
// cell and get a row each, under their group's. The runner reports progress per cell (every cell of
// a group moves together); these functions fold those reports into rows.
import type { PhaseProgress } from './api.ts';
import type { Phase } from './protocol.ts';

/** A runner report for one cell: a phase started (`step` 0) or moved on. */
export interface CellProgress {
  cell: number;
  phase: Phase;
  step: number;
  totalSteps: number;
  etaSeconds: number | null;
}

/** "1-3, 5": one-based cell numbers, consecutive runs shortened. */
export function cellRange(cells: readonly number[]): string {
  const sorted = [...new Set(cells)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    const [a, b] = [sorted[i]! + 1, sorted[j]! + 1];
    parts.push(j === i ? `${a}` : j === i + 1 ? `${a}, ${b}` : `${a}-${b}`);
    i = j + 1;
  }
  return parts.join(', ');
}

/** "cell 2" or "cells 1-3, 5". */
export function cellsLabel(cells: readonly number[]): string {
  return `${cells.length === 1 ? 'cell' : 'cells'} ${cellRange(cells)}`;
}

/** The group (cells sharing a teacher) `cell` trains in; the cell alone when no group names it. */
export function groupOf(groups: readonly (readonly number[])[], cell: number): number[] {
  return [...(groups.find((g) => g.includes(cell)) ?? [cell])];
}

/** The cells a row of `phase` for `cell` stands for: its group before the students, itself after. */
export function rowCells(groups: readonly (readonly number[])[], cell: number, phase: Phase): number[] {
  return phase === 'students' ? [cell] : groupOf(groups, cell);
}

/** A row's identity: a group's row keeps it from data to teacher; a cell's student row is its own. */
export function rowKey(row: Pick<PhaseProgress, 'cells' | 'phase'>): string {
  return `${row.phase === 'students' ? 'students' : 'group'}:${row.cells.join(',')}`;
}

/**
 * Where a row goes: groups by their first cell, the group's row first, then its cells' students by
 * cell, so the table reads in cell order whatever order the schedule runs them in.
 */
function rank(row: PhaseProgress, groups: readonly (readonly number[])[]): [number, number] {
  const cell = row.cells[0]!;
  const group = groups.find((g) => g.includes(cell)) ?? row.cells;
  return [Math.min(...group), row.phase === 'students' ? 1 + cell : 0];
}

const byRank = (groups: readonly (readonly number[])[]) => (a: PhaseProgress, b: PhaseProgress) => {
  const [ga, pa] = rank(a, groups);
  const [gb, pb] = rank(b, groups);
  return ga - gb || pa - pb;
};

/**
 * The rows of a job whose groups are known and nothing has started: a waiting row per group's
 * teacher and per cell's students, so the table (and its time left) covers the whole run at once.
 */
export function plannedRows(groups: readonly (readonly number[])[]): PhaseProgress[] {
  const waiting = (cells: number[], phase: Phase): PhaseProgress => ({
    cells,
    phase,
    step: 0,
    totalSteps: 0,
    etaSeconds: null,
    waiting: true,
  });
  return groups
    .flatMap((group) => [waiting([...group], 'teacher'), ...group.map((cell) => waiting([cell], 'students'))])
    .sort(byRank(groups));
}

/**
 * The rows' time-left slots: a group's row is one, and the student rows under it are one together
 * (a group's students train stacked in the same trainers and finish together). For each row, the
 * index of the first row of its slot, which carries the slot's time left.
 */
export function etaSlots(rows: readonly Pick<PhaseProgress, 'phase' | 'unit'>[]): number[] {
  return rows.map((row, i) => {
    // A language unit's row is a slot of its own: its students train in its own process.
    if (row.phase !== 'students' || row.unit) return i;
    let first = i;
    while (first > 0 && rows[first - 1]!.phase === 'students') first--;
    return first;
  });
}

/**
 * The job's time left as its rows say it: the sum over their slots, each counted once. Slots that
 * run `lanes` at a time (a language run's units, in row order, each taking the first free process)
 * are laid out on the lanes, and the time left is when the last lane ends; one lane is the sum.
 */
export function secondsLeft(rows: readonly PhaseProgress[], lanes = 1): number | null {
  const slots = etaSlots(rows);
  const ends = new Array<number>(Math.max(1, lanes)).fill(0);
  for (const [i, row] of rows.entries()) {
    if (slots[i] !== i) continue;
    if (row.etaSeconds === null) return null;
    const first = ends.indexOf(Math.min(...ends));
    ends[first]! += row.etaSeconds;
  }
  return Math.max(...ends);
}

/**
 * The rows after one report: the report's row replaced (a waiting one too) or added, in cell order. A phase that starts
 * completes the rows of its cells' earlier phases (a cell's phases run in order).
 */
export function placeProgress(
  rows: readonly PhaseProgress[],
  report: CellProgress,
  groups: readonly (readonly number[])[],
): PhaseProgress[] {
  const { cell, phase, step, totalSteps, etaSeconds } = report;
  const entry: PhaseProgress = { cells: rowCells(groups, cell, phase), phase, step, totalSteps, etaSeconds };
  const key = rowKey(entry);
  const next = rows.map((r) => {
    if (phase !== 'students' || r.phase === 'students' || !r.cells.includes(cell)) return r;
    return { ...r, step: r.totalSteps, etaSeconds: 0 };
  });
  const at = next.findIndex((r) => rowKey(r) === key);
  if (at >= 0) next[at] = entry;
  else next.push(entry);
  return next.sort(byRank(groups));
}

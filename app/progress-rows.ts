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

/** Where a row goes: its group's place in the run, the group's row first, then its cells' students. */
function rank(row: PhaseProgress, groups: readonly (readonly number[])[]): [number, number] {
  const cell = row.cells[0]!;
  const g = groups.findIndex((group) => group.includes(cell));
  const group = g < 0 ? groups.length + cell : g;
  return [group, row.phase === 'students' ? 1 + (groups[g]?.indexOf(cell) ?? 0) : 0];
}

/**
 * The rows after one report: the report's row replaced or added, in run order. A phase that starts
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
  const order = (r: PhaseProgress) => rank(r, groups);
  return next.sort((a, b) => {
    const [ga, pa] = order(a);
    const [gb, pb] = order(b);
    return ga - gb || pa - pb;
  });
}

// The table of final numbers, shared by the Results screen and the exported report. Two things make a
// naive cell x condition table repeat itself: cells that share their teacher settings train one
// teacher (app/spec/sweeps.ts teacherKey), so their reference and teacher rows are the same numbers;
// and where a cell's filter passes every logit unchanged, "student" and "student, all logits" (and
// the two cross-init controls) are two models trained alike: the same init, inputs and targets (the
// stacks in main/engine/phases/stacks.ts give both the mask of every logit), so the same numbers;
// and in a different-init cell the student is its own cross-init control. Each is shown once, and
// says so.
import type { CellDetail, ExperimentDetail } from './api.ts';
import type { ComparisonSummary } from './comparisons.ts';
import {
  CONDITION_LABELS,
  CONDITIONS,
  conditionLabel,
  STUDENT_IS_CONTROL,
  studentIsControl,
  type Condition,
} from './conditions.ts';
import { cellSettings, cellTeacherKey, coordsLabel, expandMatrix, keptLogits, type Cell } from './matrix.ts';
import { classCount } from './spec/schema.ts';
import { sweepLabel } from './spec/sweeps.ts';

export interface Interval {
  mean: number;
  /** The 95% interval as the summaries made it (Student-t or bootstrap: ExperimentDetail.interval); NaN below N = 2. */
  low: number;
  high: number;
}

export interface ResultsRow extends Interval {
  /** Position in the table's own order: experiment, teacher group, its reference and teacher, its cells. */
  order: number;
  experiment: number;
  /** The cell, or for reference and teacher the cells that share them. */
  group: string;
  condition: Condition;
  /** The condition in words; a row standing for an identical twin names both. */
  label: string;
  ci95: number;
  /** Models in the mean; diverged ones are left out of it and counted in `diverged`. */
  n: number;
  diverged: number;
  /** The trait's rate (preference, backdoor) with its interval; null for skill. */
  trait: Interval | null;
  /** 1-based index into the table's notes: why this row stands for more than one. */
  note?: number;
}

export interface ResultsTable {
  rows: ResultsRow[];
  notes: string[];
  /** Whether any row has a trait rate (a column to show). */
  hasTrait: boolean;
}

export const SHARED_TEACHER_NOTE =
  'Cells with the same teacher settings train one teacher: its reference (untrained init) and teacher rows are shown once for the cells that share it.';
export const TWIN_NOTE =
  'The filter passes every logit unchanged, so "student" and "student, all logits" (and the two cross-init controls) are two models trained alike, with the same init, inputs and targets; their results are identical and shown once.';

/** The twin a condition is merged with where the cell's filter keeps every logit. */
const TWINS: Partial<Record<Condition, Condition>> = {
  student: 'student_all_logits',
  cross_init: 'cross_init_all_logits',
};

type ConditionStats = CellDetail['conditions'][Condition];

/** A different-init cell's students and the controls they are (TWINS' pairs of them too). */
const CONTROLS: Partial<Record<Condition, Condition>> = {
  student: 'cross_init',
  student_all_logits: 'cross_init_all_logits',
};

export const STUDENT_IS_CONTROL_NOTE = `In a different-init cell ${STUDENT_IS_CONTROL}: their results are shown once.`;

/**
 * The conditions a cell's row stands for: `condition` and those with the same numbers because
 * they are the same model (its all-logits twin where the filter passes every logit; its cross-init
 * control in a different-init cell), with the note that says why.
 */
function identicalTo(
  condition: Condition,
  cell: CellDetail,
  passesAll: boolean,
): { conditions: Condition[]; note: string | null } {
  const conditions: Condition[] = [condition];
  let note: string | null = null;
  const join = (other: Condition | undefined, why: string) => {
    if (!other || !sameNumbers(cell.conditions[condition], cell.conditions[other])) return;
    conditions.push(other);
    note = why;
  };
  if (passesAll) join(TWINS[condition], TWIN_NOTE);
  if (studentIsControl(cell.coords.architecture)) {
    for (const c of [...conditions]) join(CONTROLS[c], STUDENT_IS_CONTROL_NOTE);
  }
  return { conditions, note };
}

const finite = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? x : NaN);

/** Mean and interval; values that crossed JSON as null (NaN at N < 2) come back as NaN. */
function interval(s: { mean: number; low: number; high: number }): Interval {
  return { mean: finite(s.mean), low: finite(s.low), high: finite(s.high) };
}

function sameNumbers(a: ConditionStats, b: ConditionStats): boolean {
  if (!a || !b) return false;
  const eq = (x: number, y: number) => x === y || (Number.isNaN(finite(x)) && Number.isNaN(finite(y)));
  return (
    eq(a.mean, b.mean) && eq(a.low, b.low) && eq(a.high, b.high) && a.n === b.n && a.diverged === b.diverged
  );
}

interface CellFacts {
  teacherKey: string;
  /** Whether the filter is the identity: a logits filter that keeps every logit. */
  passesAll: boolean;
}

/**
 * What the spec says about each cell. A stored spec that no longer expands (an older format) gives
 * no facts: its cells then group by trait, as runs before sweeps did, and nothing is merged.
 */
function cellFacts(e: ExperimentDetail): Map<number, CellFacts> {
  let cells: Cell[];
  try {
    cells = expandMatrix(e.spec);
  } catch {
    return new Map();
  }
  return new Map(
    cells.map((cell) => {
      let passesAll = false;
      if (cell.filter.kind === 'logits') {
        const settings = cellSettings(e.spec, cell);
        const classes = classCount(settings.dataset);
        passesAll =
          keptLogits(cell.filter, settings.model.auxLogits, classes).length ===
          classes + settings.model.auxLogits;
      }
      return [cell.index, { teacherKey: cellTeacherKey(cell), passesAll }];
    }),
  );
}

/** "skill | lr=0.001 (3 cells)": what the cells of a teacher group have in common. */
function groupLabel(cells: CellDetail[], prefix: string): string {
  if (cells.length === 1) return prefix + coordsLabel(cells[0]!.coords);
  const first = cells[0]!.coords;
  const common = (['trait', 'filter', 'architecture'] as const)
    .filter((axis) => cells.every((c) => c.coords[axis] === first[axis]))
    .map((axis) => first[axis]);
  const sweep = Object.fromEntries(
    Object.entries(first.sweep ?? {}).filter(([path, value]) =>
      cells.every((c) => JSON.stringify(c.coords.sweep?.[path]) === JSON.stringify(value)),
    ),
  );
  const parts = [...common, ...(Object.keys(sweep).length ? [sweepLabel(sweep)] : [])];
  return `${prefix}${parts.join(' | ')} (${cells.length} cells)`;
}

/**
 * Cells that share a teacher: the same teacher key and, checked rather than assumed, the same
 * reference and teacher numbers (a group split for size trains its teacher again, alike).
 */
function teacherGroups(e: ExperimentDetail, facts: Map<number, CellFacts>): CellDetail[][] {
  const groups: CellDetail[][] = [];
  for (const cell of e.cellDetails) {
    const key = facts.get(cell.index)?.teacherKey ?? cell.coords.trait;
    const home = groups.find((g) => {
      const head = g[0]!;
      return (
        (facts.get(head.index)?.teacherKey ?? head.coords.trait) === key &&
        (['reference', 'teacher'] as const).every((c) => sameNumbers(head.conditions[c], cell.conditions[c]))
      );
    });
    if (home) home.push(cell);
    else groups.push([cell]);
  }
  return groups;
}

function row(
  base: Pick<ResultsRow, 'order' | 'experiment' | 'group' | 'condition' | 'label'>,
  s: NonNullable<ConditionStats>,
  note: number | undefined,
): ResultsRow {
  return {
    ...base,
    ...interval(s),
    ci95: finite(s.ci95),
    n: s.n,
    diverged: s.diverged,
    trait: s.trait ? interval(s.trait) : null,
    ...(note !== undefined ? { note } : {}),
  };
}

/** The rows of one experiment: per teacher group its reference and teacher once, then its cells. */
function experimentRows(
  e: ExperimentDetail,
  several: boolean,
  note: (text: string) => number,
  start: number,
): ResultsRow[] {
  const prefix = several ? `#${e.id} ` : '';
  const facts = cellFacts(e);
  const rows: ResultsRow[] = [];
  const add = (group: string, condition: Condition, label: string, s: ConditionStats, n?: number) => {
    if (s) rows.push(row({ order: start + rows.length, experiment: e.id, group, condition, label }, s, n));
  };
  for (const cells of teacherGroups(e, facts)) {
    const shared = cells.length > 1 ? note(SHARED_TEACHER_NOTE) : undefined;
    for (const c of ['reference', 'teacher'] as const)
      add(groupLabel(cells, prefix), c, CONDITION_LABELS[c], cells[0]!.conditions[c], shared);
    for (const cell of cells) {
      const group = prefix + coordsLabel(cell.coords);
      const merged = new Set<Condition>();
      for (const condition of CONDITIONS) {
        if (condition === 'reference' || condition === 'teacher' || merged.has(condition)) continue;
        const same = identicalTo(condition, cell, facts.get(cell.index)?.passesAll ?? false);
        for (const c of same.conditions) merged.add(c);
        const label = same.conditions.map((c) => conditionLabel(c, cell.coords.architecture)).join(' = ');
        add(group, condition, label, cell.conditions[condition], same.note ? note(same.note) : undefined);
      }
    }
  }
  return rows;
}

/** A note's 1-based number in `notes`, added the first time it is used. */
function noteIndex(notes: string[]): (text: string) => number {
  return (text) => (notes.includes(text) ? notes.indexOf(text) : notes.push(text) - 1) + 1;
}

export function resultsTable(experiments: readonly ExperimentDetail[]): ResultsTable {
  const notes: string[] = [];
  const note = noteIndex(notes);
  const rows: ResultsRow[] = [];
  for (const e of experiments) rows.push(...experimentRows(e, experiments.length > 1, note, rows.length));
  return { rows, notes, hasTrait: rows.some((r) => r.trait !== null) };
}

export interface PairedRow extends ComparisonSummary {
  key: string;
  experiment: number;
  group: string;
  note?: number;
}

/**
 * Each cell's paired comparisons (app/comparisons.ts), Holm-corrected across its experiment's cells.
 * Where the filter passes every logit, the all-logits comparison pairs the same (identical) models as
 * the filtered one: it is shown once, with TWIN_NOTE; the p (Holm) shown is the filtered family's.
 */
export function pairedTable(experiments: readonly ExperimentDetail[]): {
  rows: PairedRow[];
  notes: string[];
} {
  const notes: string[] = [];
  const note = noteIndex(notes);
  const rows: PairedRow[] = [];
  for (const e of experiments) {
    const facts = cellFacts(e);
    for (const cell of e.cellDetails) {
      const group = (experiments.length > 1 ? `#${e.id} ` : '') + coordsLabel(cell.coords);
      const find = (a: Condition) => cell.comparisons.find((x) => x.a === a);
      const filtered = find('student');
      const twin = find('student_all_logits');
      const merge =
        (facts.get(cell.index)?.passesAll ?? false) &&
        filtered !== undefined &&
        twin !== undefined &&
        filtered.n === twin.n &&
        filtered.meanDiff === twin.meanDiff &&
        filtered.p === twin.p;
      const oneModel = studentIsControl(cell.coords.architecture);
      for (const x of cell.comparisons) {
        if (merge && x === twin) continue;
        const base = { ...x, key: `${e.id}:${cell.index}:${x.a}:${x.b}`, experiment: e.id, group };
        if (oneModel && CONTROLS[x.a] === x.b)
          rows.push({
            ...base,
            label: `${x.label} (one model: 0 by construction)`,
            note: note(STUDENT_IS_CONTROL_NOTE),
          });
        else if (merge && x === filtered)
          rows.push({ ...base, label: `${x.label} (= all logits)`, note: note(TWIN_NOTE) });
        else rows.push(base);
      }
    }
  }
  return { rows, notes };
}

export type SortKey = 'order' | 'group' | 'label' | 'mean' | 'ci95' | 'n' | 'diverged' | 'trait';

/** Rows sorted by a column; ties (and NaN, last) keep the table's own order. */
export function sortRows(rows: readonly ResultsRow[], key: SortKey, ascending: boolean): ResultsRow[] {
  const value = (r: ResultsRow): number | string => (key === 'trait' ? (r.trait?.mean ?? NaN) : r[key]);
  return [...rows].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    let order: number;
    if (typeof x === 'string' || typeof y === 'string') order = String(x).localeCompare(String(y));
    else if (Number.isNaN(x) || Number.isNaN(y))
      return Number.isNaN(x) ? (Number.isNaN(y) ? a.order - b.order : 1) : -1;
    else order = x - y;
    return (ascending ? order : -order) || a.order - b.order;
  });
}

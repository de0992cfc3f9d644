// FigureSpec: the data and encoding of one figure. The Results screen draws it, and every export
// (SVG, PNG, PDF, CSV) is made from the same spec, so a CSV holds exactly what the figure shows.
import { stringify } from 'csv-stringify/browser/esm/sync';
import type { ExperimentDetail, SeriesData } from './api.ts';
import { CONDITIONS, CONDITION_LABELS, type Condition } from './conditions.ts';
import { coordsLabel, type CellCoords } from './matrix.ts';
import { sweepableField } from './spec/sweepable.ts';
import { sweepValueLabel } from './spec/sweeps.ts';

export interface FigureMeta {
  title: string;
  /** Spec hash per experiment shown, and the experiment ids: provenance for a published figure. */
  specHashes: string[];
  experimentIds: number[];
  /** Replicates per condition (min-max when they differ). */
  n: string;
}

export interface BarRow {
  group: string;
  condition: Condition;
  label: string;
  mean: number;
  ci95: number;
  n: number;
}

/** The headline paired comparison of a cell, drawn above its bars. */
export interface PairRow {
  group: string;
  label: string;
  meanDiff: number;
  low: number;
  high: number;
  p: number;
  pHolm: number;
  n: number;
}

export interface SeedRow {
  experiment: number;
  group: string;
  condition: Condition;
  replicate: number;
  seed: number;
  /** Null for a diverged model. */
  accuracy: number | null;
  traitScore: number | null;
  /** Where the model diverged, e.g. "students step 3: non-finite loss"; empty if it did not. */
  diverged: string;
}

export interface CurveRow {
  series: string;
  step: number;
  mean: number;
  lo: number;
  hi: number;
  n: number;
}

export interface HeatRow {
  x: string;
  y: string;
  value: number;
  n: number;
  /** Cells averaged into this square (more than 1 when axes not shown vary). */
  cells: number;
  /** Whether the paired 95% interval of a cell in this square includes 0 (or cannot be told). */
  crossesZero: boolean;
}

export interface SweepRow {
  /** The other axes' values of this panel ('' when the swept axis is the only one that varies). */
  facet: string;
  /** The swept value as text (the categorical x and the CSV column). */
  x: string;
  /** The swept value as a number, for linear and log x axes; null for lists and names. */
  xValue: number | null;
  condition: Condition;
  label: string;
  mean: number;
  lo: number;
  hi: number;
  n: number;
}

/** A heatmap axis: a matrix axis, a sweep path, or every axis the other one does not show. */
export type HeatAxis = 'trait' | 'filter' | 'architecture' | 'rest' | (string & {});

export type FigureSpec =
  | { kind: 'bars'; meta: FigureMeta; yLabel: string; rows: BarRow[]; pairs: PairRow[]; seeds: SeedRow[] }
  | { kind: 'curves'; meta: FigureMeta; xLabel: string; yLabel: string; rows: CurveRow[] }
  | {
      kind: 'heatmap';
      meta: FigureMeta;
      xLabel: string;
      yLabel: string;
      valueLabel: string;
      /** CSV column names of x and y. */
      columns: [string, string];
      rows: HeatRow[];
    }
  | {
      kind: 'sweep';
      meta: FigureMeta;
      /** The swept spec path on the x axis. */
      path: string;
      xLabel: string;
      yLabel: string;
      /** log: positive numbers spanning more than a decade; categorical: lists and names. */
      xScale: 'linear' | 'log' | 'categorical';
      /** The swept values in axis order (the categorical domain). */
      xDomain: string[];
      facets: string[];
      rows: SweepRow[];
    };

function nText(ns: number[]): string {
  const finite = ns.filter((n) => n > 0);
  if (finite.length === 0) return '0';
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return lo === hi ? String(lo) : `${lo}-${hi}`;
}

function meta(title: string, experiments: ExperimentDetail[], ns: number[]): FigureMeta {
  return {
    title,
    specHashes: experiments.map((e) => e.specHash),
    experimentIds: experiments.map((e) => e.id),
    n: nText(ns),
  };
}

export function cellLabel(e: ExperimentDetail, cell: number, several: boolean): string {
  const c = e.cellDetails.find((d) => d.index === cell);
  const coords = c ? coordsLabel(c.coords) : `cell ${cell}`;
  return several ? `#${e.id} ${coords}` : coords;
}

/** The paper's figure: mean test accuracy with 95% CI per condition, per cell (and experiment). */
export function barsFigure(experiments: ExperimentDetail[]): FigureSpec {
  const several = experiments.length > 1;
  const rows: BarRow[] = [];
  const pairs: PairRow[] = [];
  const seeds: SeedRow[] = [];
  for (const e of experiments) {
    for (const c of e.cellDetails) {
      const group = cellLabel(e, c.index, several);
      const headline = c.comparisons.find((x) => x.a === 'student' && x.b === 'cross_init');
      if (headline && Number.isFinite(headline.meanDiff)) {
        const { label, meanDiff, low, high, p, pHolm, n } = headline;
        pairs.push({ group, label, meanDiff, low, high, p, pHolm, n });
      }
      for (const [condition, s] of Object.entries(c.conditions) as [
        Condition,
        { mean: number; ci95: number; n: number },
      ][]) {
        rows.push({
          group,
          condition,
          label: CONDITION_LABELS[condition],
          mean: s.mean,
          ci95: Number.isNaN(s.ci95) ? 0 : s.ci95,
          n: s.n,
        });
      }
    }
    for (const r of e.results)
      seeds.push({
        experiment: e.id,
        group: cellLabel(e, r.cell, several),
        condition: r.condition,
        replicate: r.replicate,
        seed: r.seed,
        accuracy: r.accuracy,
        traitScore: r.traitScore,
        diverged: r.diverged ? `${r.diverged.phase} step ${r.diverged.step}: ${r.diverged.reason}` : '',
      });
  }
  const title = several
    ? `Test accuracy: ${experiments.map((e) => `#${e.id}`).join(' vs ')}`
    : `Test accuracy: ${experiments[0]?.name ?? ''}`;
  return {
    kind: 'bars',
    meta: meta(
      title,
      experiments,
      rows.map((r) => r.n),
    ),
    yLabel: 'test accuracy (mean, 95% CI)',
    rows,
    pairs,
    seeds,
  };
}

/** One metric of one cell: a line per condition, mean +- 95% CI across replicates. */
export function curvesFigure(
  experiment: ExperimentDetail,
  series: SeriesData[],
  cell: number,
  metric: string,
): FigureSpec {
  const rows: CurveRow[] = [];
  for (const s of series) {
    if (s.cell !== cell || s.name !== metric) continue;
    s.steps.forEach((step, i) =>
      rows.push({
        series: CONDITION_LABELS[s.condition],
        step,
        mean: s.mean[i]!,
        lo: s.mean[i]! - s.ci95[i]!,
        hi: s.mean[i]! + s.ci95[i]!,
        n: s.n[i]!,
      }),
    );
  }
  const label = metric.replace(/_/g, ' ');
  return {
    kind: 'curves',
    meta: meta(
      `${label}: ${cellLabel(experiment, cell, false)}`,
      [experiment],
      rows.map((r) => r.n),
    ),
    xLabel: 'step (teacher and student steps counted separately)',
    yLabel: `${label} (mean, 95% CI)`,
    rows,
  };
}

const MATRIX_AXES = ['trait', 'filter', 'architecture'] as const;

/** The axes of an experiment that take more than one value: matrix axes, then sweep paths. */
export function experimentAxes(experiment: ExperimentDetail): string[] {
  const sweeps = experiment.spec.matrix.sweeps.map((s) => s.path);
  return [...MATRIX_AXES, ...sweeps].filter(
    (axis) => new Set(experiment.cellDetails.map((c) => axisValue(c.coords, axis))).size > 1,
  );
}

function axisValue(coords: CellCoords, axis: string): string {
  if (axis === 'trait' || axis === 'filter' || axis === 'architecture') return coords[axis];
  return coords.sweep && axis in coords.sweep ? sweepValueLabel(coords.sweep[axis]) : '';
}

/** `a | b | path=v` over the given axes (sweep axes with their path, matrix axes bare). */
function axesLabel(coords: CellCoords, axes: readonly string[]): string {
  return axes
    .map((axis) =>
      (MATRIX_AXES as readonly string[]).includes(axis)
        ? axisValue(coords, axis)
        : `${axis}=${axisValue(coords, axis)}`,
    )
    .filter(Boolean)
    .join(' | ');
}

function allAxes(experiment: ExperimentDetail): string[] {
  return [...MATRIX_AXES, ...experiment.spec.matrix.sweeps.map((s) => s.path)];
}

const AXIS_TITLES: Record<string, string> = {
  trait: 'trait',
  filter: 'filter',
  architecture: 'architecture',
};

/**
 * Student minus cross-init accuracy over two axes. `rest` is every axis the other one does not show
 * (filter x rest is the whole matrix at a glance); where axes not shown vary, a square is the mean of
 * its cells and says how many.
 */
export function heatmapFigure(
  experiment: ExperimentDetail,
  xAxis: HeatAxis = 'filter',
  yAxis: HeatAxis = 'rest',
): FigureSpec {
  const axes = allAxes(experiment);
  const restOf = (other: string) => axes.filter((a) => a !== other);
  const label = (coords: CellCoords, axis: string, other: string) =>
    axis === 'rest' ? axesLabel(coords, restOf(other)) : axisValue(coords, axis);
  const squares = new Map<
    string,
    { x: string; y: string; sum: number; n: number; cells: number; crossesZero: boolean }
  >();
  for (const c of experiment.cellDetails) {
    const s = c.conditions.student;
    const x = c.conditions.cross_init;
    if (!s || !x) continue;
    const xv = label(c.coords, xAxis, yAxis);
    const yv = label(c.coords, yAxis, xAxis);
    const key = JSON.stringify([xv, yv]);
    const square = squares.get(key) ?? { x: xv, y: yv, sum: 0, n: Infinity, cells: 0, crossesZero: false };
    const paired = c.comparisons.find((p) => p.a === 'student' && p.b === 'cross_init');
    // An effect is only shaded as one when its paired interval excludes 0.
    if (!paired || !(paired.low > 0 || paired.high < 0)) square.crossesZero = true;
    square.sum += s.mean - x.mean;
    square.n = Math.min(square.n, s.n, x.n);
    square.cells++;
    squares.set(key, square);
  }
  const rows: HeatRow[] = [...squares.values()].map((q) => ({
    x: q.x,
    y: q.y,
    value: q.sum / q.cells,
    n: q.n,
    cells: q.cells,
    crossesZero: q.crossesZero,
  }));
  const title = (axis: string, other: string) =>
    axis === 'rest' ? restOf(other).join(' | ') : (AXIS_TITLES[axis] ?? axis);
  const column = (axis: string, other: string) => title(axis, other).replace(/\W+/g, '_');
  return {
    kind: 'heatmap',
    meta: meta(
      `Student minus cross-init accuracy: ${experiment.name}`,
      [experiment],
      rows.map((r) => r.n),
    ),
    xLabel: title(xAxis, yAxis),
    yLabel: title(yAxis, xAxis),
    valueLabel: 'student - cross-init accuracy',
    columns: [column(xAxis, yAxis), column(yAxis, xAxis)],
    rows,
  };
}

/** Positive numbers over more than a decade go on a log axis; names and lists are categories. */
function sweepScale(values: readonly unknown[]): 'linear' | 'log' | 'categorical' {
  if (!values.every((v) => typeof v === 'number')) return 'categorical';
  const nums = values as number[];
  const lo = Math.min(...nums);
  return lo > 0 && Math.max(...nums) / lo > 10 ? 'log' : 'linear';
}

/**
 * Each condition's mean accuracy with its 95% CI band against one swept value, a panel per value of
 * the other axes that vary.
 */
export function sweepFigure(experiment: ExperimentDetail, path: string): FigureSpec {
  const axis = experiment.spec.matrix.sweeps.find((s) => s.path === path);
  const values = axis?.values ?? [];
  const xScale = sweepScale(values);
  const others = experimentAxes(experiment).filter((a) => a !== path);
  const rows: SweepRow[] = [];
  const facets: string[] = [];
  for (const c of experiment.cellDetails) {
    if (!c.coords.sweep || !(path in c.coords.sweep)) continue;
    const value = c.coords.sweep[path];
    const facet = axesLabel(c.coords, others);
    if (!facets.includes(facet)) facets.push(facet);
    for (const [condition, s] of Object.entries(c.conditions) as [
      Condition,
      { mean: number; ci95: number; n: number },
    ][]) {
      const ci = Number.isNaN(s.ci95) ? 0 : s.ci95;
      rows.push({
        facet,
        x: sweepValueLabel(value),
        xValue: xScale === 'categorical' ? null : (value as number),
        condition,
        label: CONDITION_LABELS[condition],
        mean: s.mean,
        lo: s.mean - ci,
        hi: s.mean + ci,
        n: s.n,
      });
    }
  }
  // Lines run along x in the axis's order, whatever order the cells came in.
  const order = values.map(sweepValueLabel);
  rows.sort(
    (a, b) =>
      facets.indexOf(a.facet) - facets.indexOf(b.facet) ||
      CONDITIONS.indexOf(a.condition) - CONDITIONS.indexOf(b.condition) ||
      order.indexOf(a.x) - order.indexOf(b.x),
  );
  const field = sweepableField(path);
  const xLabel = field ? `${field.label}${field.unit ? ` (${field.unit})` : ''}: ${path}` : path;
  return {
    kind: 'sweep',
    meta: meta(
      `Test accuracy against ${path}: ${experiment.name}`,
      [experiment],
      rows.map((r) => r.n),
    ),
    path,
    xLabel: xScale === 'log' ? `${xLabel} (log scale)` : xLabel,
    yLabel: 'test accuracy (mean, 95% CI)',
    xScale,
    xDomain: order,
    facets,
    rows,
  };
}

/** CSV with a header row, via csv-stringify (its browser build: this module also runs in the renderer). */
export function toCsv(columns: string[], records: unknown[][]): string {
  return stringify(records, { header: true, columns });
}

/** Exactly the plotted numbers, one row per mark. */
export function figureCsv(figure: FigureSpec): string {
  switch (figure.kind) {
    case 'bars':
      // The bars, then the paired difference drawn above each cell (its interval and p-values).
      return toCsv(
        ['cell', 'condition', 'mean_accuracy', 'ci95', 'n', 'ci95_low', 'ci95_high', 'p', 'p_holm'],
        [
          ...figure.rows.map((r) => [r.group, r.condition, r.mean, r.ci95, r.n, '', '', '', '']),
          ...figure.pairs.map((r) => [
            r.group,
            'student_minus_cross_init',
            r.meanDiff,
            (r.high - r.low) / 2,
            r.n,
            r.low,
            r.high,
            r.p,
            r.pHolm,
          ]),
        ],
      );
    case 'curves':
      return toCsv(
        ['series', 'step', 'mean', 'ci95_low', 'ci95_high', 'n'],
        figure.rows.map((r) => [r.series, r.step, r.mean, r.lo, r.hi, r.n]),
      );
    case 'heatmap':
      return toCsv(
        [...figure.columns, 'student_minus_cross_init', 'n', 'cells', 'ci_crosses_zero'],
        figure.rows.map((r) => [r.x, r.y, r.value, r.n, r.cells, r.crossesZero]),
      );
    case 'sweep':
      return toCsv(
        ['panel', figure.path, 'condition', 'mean_accuracy', 'ci95_low', 'ci95_high', 'n'],
        figure.rows.map((r) => [r.facet, r.x, r.condition, r.mean, r.lo, r.hi, r.n]),
      );
  }
}

/** The raw per-seed values behind a bar figure. */
export function seedsCsv(figure: Extract<FigureSpec, { kind: 'bars' }>): string {
  return toCsv(
    ['experiment', 'cell', 'condition', 'replicate', 'seed', 'accuracy', 'trait_score', 'diverged'],
    figure.seeds.map((r) => [
      r.experiment,
      r.group,
      r.condition,
      r.replicate,
      r.seed,
      r.accuracy,
      r.traitScore,
      r.diverged,
    ]),
  );
}

export function figureFileStem(figure: FigureSpec): string {
  const ids = figure.meta.experimentIds.join('-');
  return `sublab-${ids}-${figure.kind}`;
}

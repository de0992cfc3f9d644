// FigureSpec: the data and encoding of one figure. The Results screen draws it, and every export
// (SVG, PNG, PDF, CSV) is made from the same spec, so a CSV holds exactly what the figure shows.
import { stringify } from 'csv-stringify/browser/esm/sync';
import type { ExperimentDetail, SeriesData } from './api.ts';
import { CONDITION_LABELS, type Condition } from './conditions.ts';
import { coordsLabel } from './matrix.ts';
import { sweepLabel } from './spec/sweeps.ts';

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
}

export type FigureSpec =
  | { kind: 'bars'; meta: FigureMeta; yLabel: string; rows: BarRow[]; seeds: SeedRow[] }
  | { kind: 'curves'; meta: FigureMeta; xLabel: string; yLabel: string; rows: CurveRow[] }
  | {
      kind: 'heatmap';
      meta: FigureMeta;
      xLabel: string;
      yLabel: string;
      valueLabel: string;
      rows: HeatRow[];
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
  const seeds: SeedRow[] = [];
  for (const e of experiments) {
    for (const c of e.cellDetails) {
      const group = cellLabel(e, c.index, several);
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

/** The matrix at a glance: same-init student minus cross-init student accuracy per cell. */
export function heatmapFigure(experiment: ExperimentDetail): FigureSpec {
  const rows: HeatRow[] = [];
  for (const c of experiment.cellDetails) {
    const s = c.conditions.student;
    const x = c.conditions.cross_init;
    if (!s || !x) continue;
    rows.push({
      x: c.coords.filter,
      y: [c.coords.trait, c.coords.architecture, sweepLabel(c.coords.sweep)].filter(Boolean).join(' | '),
      value: s.mean - x.mean,
      n: Math.min(s.n, x.n),
    });
  }
  return {
    kind: 'heatmap',
    meta: meta(
      `Student minus cross-init accuracy: ${experiment.name}`,
      [experiment],
      rows.map((r) => r.n),
    ),
    xLabel: 'filter',
    yLabel: 'trait | architecture',
    valueLabel: 'student - cross-init accuracy',
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
      return toCsv(
        ['cell', 'condition', 'mean_accuracy', 'ci95', 'n'],
        figure.rows.map((r) => [r.group, r.condition, r.mean, r.ci95, r.n]),
      );
    case 'curves':
      return toCsv(
        ['series', 'step', 'mean', 'ci95_low', 'ci95_high', 'n'],
        figure.rows.map((r) => [r.series, r.step, r.mean, r.lo, r.hi, r.n]),
      );
    case 'heatmap':
      return toCsv(
        ['filter', 'trait_architecture', 'student_minus_cross_init', 'n'],
        figure.rows.map((r) => [r.x, r.y, r.value, r.n]),
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

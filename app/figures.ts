// FigureSpec: the data and encoding of one figure. The Results screen draws it, and every export
// (SVG, PNG, PDF, CSV) is made from the same spec, so a CSV holds exactly what the figure shows.
import { stringify } from 'csv-stringify/browser/esm/sync';
import {
  compareMetrics,
  isAccuracyMetric,
  metricDefinition,
  metricLabel as analysisLabel,
} from './analysis.ts';
import type { CellDetail, ExperimentDetail, SeriesData } from './api.ts';
import type { ComparisonSummary } from './comparisons.ts';
import {
  CONDITIONS,
  CONDITION_DESCRIPTIONS,
  CONDITION_LABELS,
  conditionLabel,
  conditionPhase,
  STUDENT_IS_CONTROL,
  studentIsControl,
  type Condition,
} from './conditions.ts';
import { coordsLabel, type CellCoords } from './matrix.ts';
import { classCount } from './spec/schema.ts';
import { sweepableField } from './spec/sweepable.ts';
import { sweepValueLabel } from './spec/sweeps.ts';
import type { LmMeasureName } from './language-results.ts';
import type { LeverAlignment, LeverChannel, LeverPair, LeverRow, LeverTeacher } from './language-lever.ts';

export interface FigureMeta {
  title: string;
  /** Spec hash per experiment shown, and the experiment ids: provenance for a published figure. */
  specHashes: string[];
  experimentIds: number[];
  /** Replicates per condition (min-max when they differ). */
  n: string;
  /**
   * Paragraphs printed under the figure (and in its exports): what the marks and intervals are, then
   * what each condition shown is.
   */
  caption: string[];
}

/** A cell (or an experiment's cell) of the bar figure: its bars share a panel. */
export interface BarGroup {
  /** The cell's full coordinates (the CSV's cell column). */
  key: string;
  /** What the figure writes under the panel: the axes that vary between the cells shown. */
  label: string;
  /** 1 / the cell's number of classes; null where no chance level applies (CKA). */
  chance: number | null;
}

export interface BarRow {
  group: string;
  condition: Condition;
  label: string;
  mean: number;
  /** Half-width of the interval (0 where there is none); low and high are its ends, as summarized. */
  ci95: number;
  low: number;
  high: number;
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
  /** The bar's value for this model (test accuracy, or the figure's metric); null for a diverged model. */
  accuracy: number | null;
  traitScore: number | null;
  /** Where the model diverged, e.g. "students step 3: non-finite loss"; empty if it did not. */
  diverged: string;
}

export type CurvePhase = 'teacher' | 'students';

export interface CurvePanel {
  phase: CurvePhase;
  xLabel: string;
  yLabel: string;
}

export interface CurveRow {
  /** The experiment's id (a compare view draws several, a line style each). */
  experiment: number;
  /** Teacher and reference count teacher steps, students count student steps: separate panels. */
  phase: CurvePhase;
  condition: Condition;
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
  /** The experiment's id (a compare view draws several, a line style each). */
  experiment: number;
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
  /** 1 / the cell's number of classes. */
  chance: number;
}

/** A heatmap axis: a matrix axis, a sweep path, or every axis the other one does not show. */
export type HeatAxis = 'trait' | 'filter' | 'architecture' | 'rest' | (string & {});

/**
 * `chance`: the accuracy of guessing (1 / the number of classes) drawn as a dashed line on accuracy
 * figures; null where no chance level applies (losses, rates, differences) or where it differs
 * between the cells shown (bars and sweep rows then carry their own).
 */
export type FigureSpec =
  | {
      kind: 'bars';
      meta: FigureMeta;
      chance: number | null;
      /** What the bars show: 'test_accuracy' (the paper's figure) or an analysis metric (app/analysis.ts). */
      metric: string;
      yLabel: string;
      /** In drawing order; rows and pairs follow it, conditions in CONDITIONS order within. */
      groups: BarGroup[];
      rows: BarRow[];
      pairs: PairRow[];
      seeds: SeedRow[];
    }
  | {
      kind: 'curves';
      meta: FigureMeta;
      chance: number | null;
      /** The metric, as the y axes say it. */
      yLabel: string;
      /** "#id name" of each experiment drawn, in meta.experimentIds order; empty for one experiment. */
      experiments: string[];
      /** One panel per phase with rows, teacher first: their steps and losses are not comparable. */
      panels: CurvePanel[];
      rows: CurveRow[];
    }
  | {
      kind: 'heatmap';
      meta: FigureMeta;
      chance: null;
      xLabel: string;
      yLabel: string;
      valueLabel: string;
      /** CSV column names of x and y. */
      columns: [string, string];
      /** The values' CSV column and whether they are signed differences (absent: student minus cross-init). */
      values?: { column: string; signed: boolean };
      rows: HeatRow[];
    }
  | {
      kind: 'sweep';
      meta: FigureMeta;
      chance: number | null;
      /** The swept spec path on the x axis. */
      path: string;
      xLabel: string;
      /** The x title without the path, for narrow figures. */
      xLabelShort: string;
      yLabel: string;
      /** log: positive numbers spanning more than a decade; categorical: lists and names. */
      xScale: 'linear' | 'log' | 'categorical';
      /** The swept values in axis order (the categorical domain). */
      xDomain: string[];
      /** "#id name" of each experiment drawn, in meta.experimentIds order; empty for one experiment. */
      experiments: string[];
      facets: string[];
      rows: SweepRow[];
    }
  | {
      /** A language experiment's target measure across one swept lever (app/language-lever.ts). */
      kind: 'lever';
      meta: FigureMeta;
      chance: null;
      path: string;
      xLabel: string;
      measure: LmMeasureName;
      yLabel: string;
      diffLabel: string;
      /** The lever's values in axis order (categorical). */
      xDomain: string[];
      rows: LeverRow[];
      pairs: LeverPair[];
      channel: LeverChannel[];
      /** The teacher check per value (absent in figures saved before it existed). */
      teacher?: LeverTeacher[];
      /** A steered teacher's fine-tunes' alignment per value (absent for other teachers and older figures). */
      alignment?: LeverAlignment[];
    };

function nText(ns: number[]): string {
  const finite = ns.filter((n) => n > 0);
  if (finite.length === 0) return '0';
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return lo === hi ? String(lo) : `${lo}-${hi}`;
}

function meta(
  title: string,
  experiments: readonly ExperimentDetail[],
  ns: number[],
  caption: string[],
): FigureMeta {
  return {
    title,
    specHashes: experiments.map((e) => e.specHash),
    experimentIds: experiments.map((e) => e.id),
    n: nText(ns),
    caption,
  };
}

/** The accuracy of guessing in a cell: 1 / its classes (dataset.classes, swept or not; else 10). */
export function chanceLevel(experiment: Pick<ExperimentDetail, 'spec'>, coords?: CellCoords): number {
  const swept = coords?.sweep?.['dataset.classes'];
  return 1 / (Array.isArray(swept) ? swept.length : classCount(experiment.spec.dataset));
}

/** The value every entry shares, or null (none, or they differ). */
function shared(values: readonly number[]): number | null {
  const first = values[0];
  return first !== undefined && values.every((v) => Math.abs(v - first) < 1e-12) ? first : null;
}

/** A condition's summary as the API gives it: where the interval is a bootstrap, its ends are uneven. */
type Summarized = { mean: number; ci95: number; n: number; low?: number; high?: number };

/** The interval's ends: the summary's own (a bootstrap's are uneven), else mean +- ci95; none (0 wide) below N = 2. */
function ends(s: Summarized): { low: number; high: number } {
  if (Number.isFinite(s.low) && Number.isFinite(s.high)) return { low: s.low!, high: s.high! };
  const ci = Number.isNaN(s.ci95) ? 0 : s.ci95;
  return { low: s.mean - ci, high: s.mean + ci };
}

/** Experiments as far as their interval method goes (ExperimentDetail.interval where the API has it). */
type WithInterval = { id: number; interval?: string };

/** The 95% interval the summaries were made with, as a caption says it. */
function intervalName(experiments: readonly WithInterval[]): string {
  return experiments.some((e) => e.interval === 'bootstrap')
    ? 'seeded percentile bootstrap 95% CI of the mean'
    : 'Student-t 95% CI of the mean';
}

const byCondition = (a: Condition, b: Condition) => CONDITIONS.indexOf(a) - CONDITIONS.indexOf(b);

/**
 * A readable form of a coordinate label: "aux-logits | student.learningRate=0.001" becomes
 * "aux logits | learningRate 0.001" (hyphens between words become spaces, a sweep path keeps its
 * last part).
 */
export function readableLabel(slug: string): string {
  return slug
    .split(' | ')
    .map((part) => {
      const eq = part.indexOf('=');
      const words = (s: string) => s.replace(/([a-z])-(?=[a-z])/gi, '$1 ');
      if (eq < 0) return words(part);
      return `${part.slice(0, eq).split('.').at(-1)} ${part.slice(eq + 1)}`;
    })
    .join(' | ');
}

const N_TEXT = (n: string) => `N = ${n} replicates (seeds) per condition`;
const CI = 'Student-t 95% CI of the mean';

/** A caption: the method sentences as one paragraph, then one per condition shown (CONDITIONS order). */
function captionOf(method: string[], shown: readonly Condition[]): string[] {
  const conditions = CONDITIONS.filter((c) => shown.includes(c)).map(
    (c) => `${CONDITION_LABELS[c]}: ${CONDITION_DESCRIPTIONS[c]}.`,
  );
  return [method.join(' '), ...conditions];
}

const chanceSentence = (chance: number | null) =>
  chance === null
    ? 'Dashed line: chance, 1 / the number of classes of each cell.'
    : `Dashed line: chance (${formatChance(chance)} = 1 / ${Math.round(1 / chance)} classes).`;

export const formatChance = (chance: number) => chance.toFixed(chance < 0.1 ? 3 : 2);

/** "trait skill, architecture same init": the axes every cell of an experiment shares. */
function constantAxesText(experiment: ExperimentDetail): string {
  const varying = experimentAxes(experiment);
  const first = experiment.cellDetails[0];
  if (!first) return '';
  return allAxes(experiment)
    .filter((axis) => !varying.includes(axis) && axisValue(first.coords, axis) !== '')
    .map((axis) => `${axis} ${readableLabel(axisValue(first.coords, axis))}`)
    .join(', ');
}

export function cellLabel(e: ExperimentDetail, cell: number, several: boolean): string {
  const c = e.cellDetails.find((d) => d.index === cell);
  const coords = c ? coordsLabel(c.coords) : `cell ${cell}`;
  return several ? `#${e.id} ${coords}` : coords;
}

/** What a bar figure shows of each cell: its conditions' summaries, headline pair and per-seed values. */
interface BarMeasure {
  metric: string;
  /** "test accuracy", "linear CKA to the teacher, hidden layer 1" */
  label: string;
  conditions(cell: CellDetail): [Condition, Summarized][];
  headline(cell: CellDetail): ComparisonSummary | undefined;
  seeds(e: ExperimentDetail, several: boolean): SeedRow[];
  chance(e: ExperimentDetail, coords: CellCoords): number | null;
  /** Caption sentences defining the measure, first. */
  definition: string[];
}

const ACCURACY: BarMeasure = {
  metric: 'test_accuracy',
  label: 'test accuracy',
  conditions: (c) => Object.entries(c.conditions) as [Condition, Summarized][],
  headline: (c) => c.comparisons.find((x) => x.a === 'student' && x.b === 'cross_init'),
  seeds: (e, several) => {
    const cellOrder = e.cellDetails.map((c) => c.index);
    const results = [...e.results].sort(
      (a, b) =>
        cellOrder.indexOf(a.cell) - cellOrder.indexOf(b.cell) ||
        byCondition(a.condition, b.condition) ||
        a.replicate - b.replicate,
    );
    return results.map((r) => ({
      experiment: e.id,
      group: cellLabel(e, r.cell, several),
      condition: r.condition,
      replicate: r.replicate,
      seed: r.seed,
      accuracy: r.accuracy,
      traitScore: r.traitScore,
      diverged: r.diverged ? `${r.diverged.phase} step ${r.diverged.step}: ${r.diverged.reason}` : '',
    }));
  },
  chance: (e, coords) => chanceLevel(e, coords),
  definition: [],
};

/** An analysis metric's final values (app/analysis.ts) as a bar measure. */
function analysisMeasure(metric: string): BarMeasure {
  const of = (c: CellDetail) => c.analysis?.find((a) => a.metric === metric);
  return {
    metric,
    label: analysisLabel(metric),
    conditions: (c) => Object.entries(of(c)?.conditions ?? {}) as [Condition, Summarized][],
    headline: (c) => of(c)?.comparisons.find((x) => x.a === 'student' && x.b === 'cross_init'),
    seeds: (e, several) => {
      const seedOf = new Map(e.results.map((r) => [`${r.cell}/${r.condition}/${r.replicate}`, r.seed]));
      return e.cellDetails.flatMap((c) =>
        (of(c)?.values ?? []).map((v) => ({
          experiment: e.id,
          group: cellLabel(e, c.index, several),
          condition: v.condition,
          replicate: v.replicate,
          // The condition's own result row has it; the teacher's seed is its replicate's.
          seed:
            seedOf.get(`${c.index}/${v.condition}/${v.replicate}`) ??
            seedOf.get(`${c.index}/teacher/${v.replicate}`) ??
            NaN,
          accuracy: v.value,
          traitScore: null,
          diverged: '',
        })),
      );
    },
    chance: (e, coords) => (isAccuracyMetric(metric) ? chanceLevel(e, coords) : null),
    definition: [metricDefinition(metric)].filter(Boolean),
  };
}

/** The paper's figure: mean test accuracy with 95% CI per condition, per cell (and experiment). */
export function barsFigure(experiments: ExperimentDetail[]): FigureSpec {
  return barsOf(experiments, ACCURACY);
}

/**
 * An analysis metric at the end of training (CKA of a layer, the linear probe's accuracy): the same
 * bars, intervals and paired student-minus-cross-init difference as the accuracy figure.
 */
export function analysisBarsFigure(experiments: ExperimentDetail[], metric: string): FigureSpec {
  return barsOf(experiments, analysisMeasure(metric));
}

/** The analysis metrics any cell of these experiments summarised at the end, in reading order. */
export function analysisMetrics(experiments: readonly ExperimentDetail[]): string[] {
  const names = experiments.flatMap((e) =>
    e.cellDetails.flatMap((c) => (c.analysis ?? []).map((a) => a.metric)),
  );
  return [...new Set(names)].sort(compareMetrics);
}

function barsOf(experiments: ExperimentDetail[], measure: BarMeasure): FigureSpec {
  const several = experiments.length > 1;
  const groups: BarGroup[] = [];
  const rows: BarRow[] = [];
  const pairs: PairRow[] = [];
  const seeds: SeedRow[] = [];
  for (const e of experiments) {
    const varying = experimentAxes(e);
    for (const c of e.cellDetails) {
      // A cell with nothing measured (a run cancelled before it) draws no empty panel.
      const conditions = measure.conditions(c).sort(([a], [b]) => byCondition(a, b));
      if (conditions.length === 0) continue;
      const group = cellLabel(e, c.index, several);
      const shown = readableLabel(axesLabel(c.coords, varying));
      const label = several ? `#${e.id}${shown ? ` ${shown}` : ''}` : shown;
      groups.push({ key: group, label, chance: measure.chance(e, c.coords) });
      const headline = studentIsControl(c.coords.architecture) ? undefined : measure.headline(c);
      if (headline && Number.isFinite(headline.meanDiff)) {
        const { label, meanDiff, low, high, p, pHolm, n } = headline;
        pairs.push({ group, label, meanDiff, low, high, p, pHolm, n });
      }
      for (const [condition, s] of conditions)
        rows.push({
          group,
          condition,
          label: conditionLabel(condition, c.coords.architecture),
          mean: s.mean,
          ci95: Number.isNaN(s.ci95) ? 0 : s.ci95,
          ...ends(s),
          n: s.n,
        });
    }
    seeds.push(...measure.seeds(e, several));
  }
  const Label = measure.label.charAt(0).toUpperCase() + measure.label.slice(1);
  const title = several
    ? `${Label}: ${experiments.map((e) => `#${e.id}`).join(' vs ')}`
    : `${Label}: ${experiments[0]?.name ?? ''}`;
  const chances = groups.map((g) => g.chance).filter((c): c is number => c !== null);
  const chance = shared(chances);
  const n = nText(rows.map((r) => r.n));
  const constant = several || !experiments[0] ? '' : constantAxesText(experiments[0]);
  const atEnd = measure.metric === 'test_accuracy' ? '' : ' at the end of training';
  const caption = captionOf(
    [
      ...measure.definition,
      `Bars: mean ${measure.label}${atEnd}; error bars: ${intervalName(experiments)} over ${N_TEXT(n)} (none where N = 1).`,
      ...(pairs.length > 0
        ? [
            `Above each panel: ${CONDITION_LABELS.student} minus ${CONDITION_LABELS.cross_init}, paired by replicate (both learn from the same teacher): mean difference [its ${intervalName(experiments).replace(' of the mean', '')}] and two-sided paired t-test p, Holm-adjusted across the cells of the experiment.`,
          ]
        : []),
      ...(chances.length > 0 ? [chanceSentence(chance)] : []),
      ...oneModelSentence(experiments, 'no difference is drawn above its panel'),
      ...(constant ? [`Every cell: ${constant}.`] : []),
    ],
    rows.map((r) => r.condition),
  );
  return {
    kind: 'bars',
    meta: meta(
      title,
      experiments,
      rows.map((r) => r.n),
      caption,
    ),
    chance,
    metric: measure.metric,
    yLabel: measure.label,
    groups,
    rows,
    pairs,
    seeds,
  };
}

/** What a metric's y axis says in a phase (the loss is the phase's own: cross-entropy or the distillation loss). */
function metricLabel(metric: string, phase: CurvePhase, studentLoss: string): string {
  if (metric === 'loss')
    return phase === 'teacher'
      ? 'cross-entropy loss'
      : `${{ kl: 'KL divergence', 'soft-ce': 'soft cross-entropy', mse: 'MSE' }[studentLoss] ?? studentLoss} loss`;
  return analysisLabel(metric);
}

/** One experiment's recorded series and the cell of it a curves figure shows. */
export interface CurveSource {
  experiment: ExperimentDetail;
  series: readonly SeriesData[];
  cell: number;
}

/**
 * One metric of one cell: a line per condition, mean +- 95% CI across replicates, on one panel per
 * phase (teacher steps and student steps are different clocks, and the losses differ in kind).
 */
export function curvesFigure(
  experiment: ExperimentDetail,
  series: SeriesData[],
  cell: number,
  metric: string,
): FigureSpec {
  return compareCurvesFigure([{ experiment, series, cell }], metric);
}

/** The cell of `other` at the coordinates of `experiment`'s `cell`, else the one at the same index. */
export function matchingCell(experiment: ExperimentDetail, cell: number, other: ExperimentDetail): number {
  const coords = experiment.cellDetails.find((c) => c.index === cell)?.coords;
  const label = coords ? coordsLabel(coords) : '';
  return other.cellDetails.find((c) => coordsLabel(c.coords) === label)?.index ?? cell;
}

function curveRows(source: CurveSource, metric: string): CurveRow[] {
  const { experiment, series, cell } = source;
  return series
    .filter((s) => s.cell === cell && s.name === metric)
    .sort((a, b) => byCondition(a.condition, b.condition))
    .flatMap((s) =>
      s.steps.map((step, i) => ({
        experiment: experiment.id,
        phase: conditionPhase(s.condition),
        condition: s.condition,
        series: CONDITION_LABELS[s.condition],
        step,
        mean: s.mean[i]!,
        lo: s.mean[i]! - s.ci95[i]!,
        hi: s.mean[i]! + s.ci95[i]!,
        n: s.n[i]!,
      })),
    );
}

/** The loss a source's cell trains its students with (a sweep may set it per cell). */
function sourceStudentLoss({ experiment, cell }: CurveSource): string {
  const swept = experiment.cellDetails.find((c) => c.index === cell)?.coords.sweep?.['student.loss'];
  return typeof swept === 'string' ? swept : experiment.spec.student.loss;
}

/**
 * The curves of several experiments' cells on the same panels, a line style per experiment (one
 * experiment: its cell's curves as `curvesFigure` draws them).
 */
export function compareCurvesFigure(sources: readonly CurveSource[], metric: string): FigureSpec {
  const rows = sources.flatMap((source) => curveRows(source, metric));
  const losses = [...new Set(sources.map(sourceStudentLoss))];
  const studentLoss = losses.length === 1 ? losses[0]! : 'distillation';
  const panels: CurvePanel[] = (['teacher', 'students'] as const)
    .filter((phase) => rows.some((r) => r.phase === phase))
    .map((phase) => ({
      phase,
      xLabel: phase === 'teacher' ? 'teacher step' : 'student step',
      yLabel: metricLabel(metric, phase, studentLoss),
    }));
  const label = analysisLabel(metric);
  const accuracy = isAccuracyMetric(metric);
  const chance = accuracy
    ? shared(
        sources.map(({ experiment, cell }) =>
          chanceLevel(experiment, experiment.cellDetails.find((c) => c.index === cell)?.coords),
        ),
      )
    : null;
  const n = nText(rows.map((r) => r.n));
  const experiments = sources.map((s) => s.experiment);
  const several = experiments.length > 1;
  const caption = captionOf(
    [
      `Lines: mean across replicates; bands: ${CI}, ${N_TEXT(n)}.`,
      'Teacher and students train one after the other, each counting its own steps, so each phase has its own panel and y axis.',
      ...(several ? ['Line styles: one per experiment, as the legend shows.'] : []),
      ...[metricDefinition(metric)].filter(Boolean),
      ...(accuracy && chance !== null ? [chanceSentence(chance)] : []),
    ],
    rows.map((r) => r.condition),
  );
  const first = sources[0];
  const where = first ? readableLabel(cellLabel(first.experiment, first.cell, false)) : '';
  return {
    kind: 'curves',
    meta: meta(
      `${label}: ${where}${several ? ` (${experiments.map((e) => `#${e.id}`).join(' vs ')})` : ''}`,
      experiments,
      rows.map((r) => r.n),
      caption,
    ),
    chance,
    yLabel: label,
    experiments: experimentNames(experiments),
    panels,
    rows,
  };
}

/** "#3 quick demo" per experiment shown, for a legend of line styles (one experiment: none). */
function experimentNames(experiments: readonly ExperimentDetail[]): string[] {
  return experiments.length > 1 ? experiments.map((e) => `#${e.id} ${e.name}`) : [];
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

/**
 * The heatmap's axes at first: the two axes with the most values (x the one with more; ties in
 * matrix, then sweep order), so it opens as a grid over what the experiment varies; one axis that
 * varies against the rest; filter against the rest when nothing varies.
 */
export function defaultHeatAxes(experiment: ExperimentDetail): [HeatAxis, HeatAxis] {
  const counts = experimentAxes(experiment).map((axis) => ({
    axis,
    values: new Set(experiment.cellDetails.map((c) => axisValue(c.coords, axis))).size,
  }));
  const [x, y] = counts.sort((a, b) => b.values - a.values).map((c) => c.axis);
  return [x ?? 'filter', y ?? 'rest'];
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
  return compareHeatmapFigure([experiment], xAxis, yAxis);
}

/**
 * The heatmap of several experiments: each experiment's squares in rows of their own (the
 * experiment is the first part of the y axis), on the same colour scale.
 */
export function compareHeatmapFigure(
  experiments: readonly ExperimentDetail[],
  xAxis: HeatAxis,
  yAxis: HeatAxis,
): FigureSpec {
  const several = experiments.length > 1;
  const axes = [...new Set(experiments.flatMap(allAxes))];
  const restOf = (other: string) => axes.filter((a) => a !== other);
  const label = (coords: CellCoords, axis: string, other: string) =>
    axis === 'rest' ? axesLabel(coords, restOf(other)) : axisValue(coords, axis);
  const squares = new Map<
    string,
    { x: string; y: string; sum: number; n: number; cells: number; crossesZero: boolean }
  >();
  const cells = experiments.flatMap((e) => e.cellDetails.map((c) => ({ e, c })));
  for (const { e, c } of cells) {
    const s = c.conditions.student;
    const x = c.conditions.cross_init;
    if (!s || !x) continue;
    const xv = label(c.coords, xAxis, yAxis);
    const own = label(c.coords, yAxis, xAxis);
    const yv = several ? [`#${e.id}`, own].filter(Boolean).join(' | ') : own;
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
  const yTitle = several ? `experiment | ${title(yAxis, xAxis)}` : title(yAxis, xAxis);
  const column = (text: string) => text.replace(/\W+/g, '_');
  const constant = several || !experiments[0] ? '' : constantAxesText(experiments[0]);
  const caption = captionOf(
    [
      `Colour and number: ${CONDITION_LABELS.student} minus ${CONDITION_LABELS.cross_init} mean test accuracy; N = ${nText(rows.map((r) => r.n))} (the smaller N of the two).`,
      `Faint and hatched: a square with a cell whose paired difference (per replicate; both learn from the same teacher) has a ${intervalName(experiments).replace(' of the mean', '')} that includes 0, or has none (N < 2).`,
      ...(rows.some((r) => r.cells > 1)
        ? ['Where axes not shown vary, a square is the mean of its cells (their count is given).']
        : []),
      ...oneModelSentence(experiments, 'its square is 0'),
      ...(constant ? [`Every cell: ${constant}.`] : []),
    ],
    ['student', 'cross_init'],
  );
  return {
    kind: 'heatmap',
    meta: meta(
      `Student minus cross-init accuracy: ${several ? experiments.map((e) => `#${e.id}`).join(' vs ') : (experiments[0]?.name ?? '')}`,
      experiments,
      rows.map((r) => r.n),
      caption,
    ),
    chance: null,
    xLabel: title(xAxis, yAxis),
    yLabel: yTitle,
    valueLabel: `${CONDITION_LABELS.student} minus ${CONDITION_LABELS.cross_init} accuracy`,
    columns: [column(title(xAxis, yAxis)), column(yTitle)],
    rows,
  };
}

/** The caption's word on different-init cells, where the experiments have any. */
function oneModelSentence(experiments: readonly ExperimentDetail[], consequence: string): string[] {
  const any = experiments.some((e) => e.cellDetails.some((c) => studentIsControl(c.coords.architecture)));
  return any ? [`In a different-init cell ${STUDENT_IS_CONTROL}; ${consequence}.`] : [];
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
  return compareSweepFigure([experiment], path);
}

/** One experiment's points of a sweep figure: each cell's conditions at its swept value. */
function sweepRows(experiment: ExperimentDetail, path: string, numeric: boolean): SweepRow[] {
  const others = experimentAxes(experiment).filter((a) => a !== path);
  return experiment.cellDetails.flatMap((c) => {
    if (!c.coords.sweep || !(path in c.coords.sweep)) return [];
    const value = c.coords.sweep[path];
    return (Object.entries(c.conditions) as [Condition, Summarized][]).map(([condition, s]) => {
      const { low, high } = ends(s);
      return {
        experiment: experiment.id,
        chance: chanceLevel(experiment, c.coords),
        facet: axesLabel(c.coords, others),
        x: sweepValueLabel(value),
        xValue: numeric ? (value as number) : null,
        condition,
        label: CONDITION_LABELS[condition],
        mean: s.mean,
        lo: low,
        hi: high,
        n: s.n,
      };
    });
  });
}

/**
 * The sweep figure of several experiments that sweep `path`: their lines on the same panels (a
 * panel per value of the other axes that vary), a line style per experiment.
 */
export function compareSweepFigure(experiments: readonly ExperimentDetail[], path: string): FigureSpec {
  const shown = experiments.filter((e) => e.spec.matrix.sweeps.some((s) => s.path === path));
  const values = shown.flatMap((e) => e.spec.matrix.sweeps.find((s) => s.path === path)!.values);
  const xScale = sweepScale(values);
  const rows = shown.flatMap((e) => sweepRows(e, path, xScale !== 'categorical'));
  const facets = [...new Set(rows.map((r) => r.facet))];
  // Lines run along x in the axis's order, whatever order the cells came in.
  const order = [...new Set(values.map(sweepValueLabel))];
  rows.sort(
    (a, b) =>
      facets.indexOf(a.facet) - facets.indexOf(b.facet) ||
      a.experiment - b.experiment ||
      CONDITIONS.indexOf(a.condition) - CONDITIONS.indexOf(b.condition) ||
      order.indexOf(a.x) - order.indexOf(b.x),
  );
  const field = sweepableField(path);
  const title = field ? `${field.label}${field.unit ? ` (${field.unit})` : ''}` : path;
  const xLabel = field ? `${title}: ${path}` : path;
  const logNote = xScale === 'log' ? ' (log scale)' : '';
  const chance = shared(rows.map((r) => r.chance));
  const several = shown.length > 1;
  const constant = shown.length === 1 ? constantAxesText(shown[0]!) : '';
  const caption = captionOf(
    [
      `Lines and dots: mean test accuracy; bands: ${intervalName(shown)}, ${N_TEXT(nText(rows.map((r) => r.n)))}.`,
      ...(facets.length > 1 ? ['One panel per value of the other axes that vary.'] : []),
      ...(several ? ['Line styles: one per experiment, as the legend shows.'] : []),
      chanceSentence(chance),
      ...(constant ? [`Every cell: ${constant}.`] : []),
    ],
    rows.map((r) => r.condition),
  );
  const names = several ? shown.map((e) => `#${e.id}`).join(' vs ') : (shown[0]?.name ?? '');
  return {
    kind: 'sweep',
    meta: meta(
      `Test accuracy against ${path}: ${names}`,
      shown,
      rows.map((r) => r.n),
      caption,
    ),
    chance,
    path,
    xLabel: `${xLabel}${logNote}`,
    xLabelShort: `${title}${logNote}`,
    yLabel: 'test accuracy',
    xScale,
    xDomain: order,
    experiments: experimentNames(shown),
    facets,
    rows,
  };
}

/** The highest value an accuracy figure draws: interval ends, means and chance lines. */
function highestDrawn(figure: FigureSpec): number {
  switch (figure.kind) {
    case 'bars':
      return Math.max(
        ...figure.rows.map((r) => Math.max(r.high, r.mean)),
        ...figure.groups.map((g) => g.chance ?? 0),
      );
    case 'sweep':
      return Math.max(...figure.rows.map((r) => Math.max(r.hi, r.mean, r.chance)));
    case 'curves':
      return Math.max(...figure.rows.map((r) => Math.max(r.hi, r.mean)), figure.chance ?? 0);
    case 'heatmap':
      return Math.max(...figure.rows.map((r) => r.value));
    case 'lever':
      return Math.max(...figure.rows.map((r) => Math.max(r.hi, r.mean)));
  }
}

/**
 * The y range of an accuracy figure: from 0 to a round value at least half a step above everything
 * drawn (steps of 0.05 up to 0.25, else 0.1), at most 1 (an interval past 1, wide at small N, is cut
 * at the frame); or 0 to 1 with `fixedUnit`.
 */
export function accuracyDomain(figure: FigureSpec, fixedUnit = false): [number, number] {
  const high = highestDrawn(figure);
  if (fixedUnit || !Number.isFinite(high)) return [0, 1];
  const top = Math.max(0, high);
  const step = top <= 0.25 ? 0.05 : 0.1;
  return [0, Math.min(1, Number((Math.ceil(top / step + 0.5 - 1e-9) * step).toFixed(2)))];
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
        [
          'cell',
          'condition',
          `mean_${valueColumn(figure)}`,
          'ci95',
          'n',
          'ci95_low',
          'ci95_high',
          'p',
          'p_holm',
        ],
        [
          // The interval's own ends (a bootstrap's are uneven); none below N = 2.
          ...figure.rows.map((r) => {
            const [low, high] = r.n >= 2 ? [r.low, r.high] : ['', ''];
            return [r.group, r.condition, r.mean, r.ci95, r.n, low, high, '', ''];
          }),
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
      return withExperiment(
        figure,
        ['phase', 'condition', 'step', 'mean', 'ci95_low', 'ci95_high', 'n'],
        figure.rows.map((r) => [r.phase, r.condition, r.step, r.mean, r.lo, r.hi, r.n]),
      );
    case 'heatmap':
      return toCsv(
        [
          ...figure.columns,
          figure.values?.column ?? 'student_minus_cross_init',
          'n',
          'cells',
          'ci_crosses_zero',
        ],
        figure.rows.map((r) => [r.x, r.y, r.value, r.n, r.cells, r.crossesZero]),
      );
    case 'sweep':
      return withExperiment(
        figure,
        ['panel', figure.path, 'condition', 'mean_accuracy', 'ci95_low', 'ci95_high', 'n'],
        figure.rows.map((r) => [r.facet, r.x, r.condition, r.mean, r.lo, r.hi, r.n]),
      );
    case 'lever':
      return leverCsv(figure);
  }
}

const cellNum = (v: number) => (Number.isFinite(v) ? v : '');

/** Exactly what the lever figure draws: the models' values, the paired differences, the channel check. */
function leverCsv(figure: Extract<FigureSpec, { kind: 'lever' }>): string {
  const records: unknown[][] = [
    ...figure.rows.map((r) => [r.x, figure.measure, r.model, r.mean, r.lo, r.hi, r.n, '', '', '']),
    ...figure.pairs.map((r) => [
      r.x,
      figure.measure,
      r.comparison,
      r.meanDiff,
      r.lo,
      r.hi,
      r.n,
      r.t,
      r.df,
      r.p,
    ]),
    ...figure.channel.flatMap((c) => [
      [c.x, 'channel_kl', 'teacher', c.kl, '', '', c.n, '', '', ''],
      [c.x, 'channel_kl', 'neutral_teacher', c.neutralKl, '', '', c.n, '', '', ''],
      [c.x, 'channel_kl', 'teacher_minus_neutral', c.klDiff, c.klDiffLo, c.klDiffHi, c.n, '', '', c.p],
      [c.x, 'channel_greedy_diff', 'teacher', c.greedyDiff, '', '', c.n, '', '', ''],
      [c.x, 'channel_greedy_diff', 'neutral_teacher', c.neutralGreedyDiff, '', '', c.n, '', '', ''],
      [c.x, 'channel_flagged', 'teacher', c.flagged ? 1 : 0, '', '', c.n, '', '', ''],
    ]),
    ...(figure.teacher ?? []).flatMap((t) => [
      [t.x, `teacher_check_${t.measure}`, 'teacher_minus_base', t.diff, t.lo, t.hi, t.n, '', '', t.p],
      [t.x, 'teacher_flagged', 'teacher', t.flagged ? 1 : 0, '', '', t.n, '', '', ''],
    ]),
    ...(figure.alignment ?? []).flatMap((a) => [
      [a.x, 'steer_cos', 'student', a.student, '', '', a.n, '', '', ''],
      [a.x, 'steer_cos', 'own_numbers', a.ownNumbers, '', '', a.n, '', '', ''],
      [a.x, 'steer_cos', 'student_minus_own_numbers', a.diff, a.lo, a.hi, a.n, '', '', a.p],
    ]),
  ];
  return toCsv(
    [figure.path, 'measure', 'model', 'value', 'ci95_low', 'ci95_high', 'n', 't', 'df', 'p'],
    records.map((r) => r.map((v) => (typeof v === 'number' ? cellNum(v) : v))),
  );
}

/** A CSV whose rows lead with their experiment's id where the figure draws several. */
function withExperiment(figure: Of<'curves' | 'sweep'>, columns: string[], records: unknown[][]): string {
  if (figure.experiments.length === 0) return toCsv(columns, records);
  return toCsv(
    ['experiment', ...columns],
    records.map((record, i) => [figure.rows[i]!.experiment, ...record]),
  );
}

type Of<K extends FigureSpec['kind']> = Extract<FigureSpec, { kind: K }>;

/** The CSV name of a bar figure's value: `accuracy` for test accuracy, else the metric's name. */
const valueColumn = (figure: Extract<FigureSpec, { kind: 'bars' }>) =>
  figure.metric === 'test_accuracy' ? 'accuracy' : figure.metric;

/** The raw per-seed values behind a bar figure. */
export function seedsCsv(figure: Extract<FigureSpec, { kind: 'bars' }>): string {
  return toCsv(
    ['experiment', 'cell', 'condition', 'replicate', 'seed', valueColumn(figure), 'trait_score', 'diverged'],
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

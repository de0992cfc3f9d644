// A language experiment's target measure across one swept lever (issue 27): at each of the lever's
// values, the student, the own-numbers control and the cross-model control with their intervals and
// N, the paired differences student minus each control (interval, p), and the channel check of the
// teacher at that value beside the neutral teacher's. A lever's series are the cells that differ in
// that lever alone: the other coordinates (trait, filter, relation, other sweeps) make the slice.
// The numbers are the summary's own (main/lm/summary.ts); this module only picks and orders them.
import type { ExperimentDetail } from './api.ts';
import type { FigureSpec } from './figures.ts';
import {
  LM_MEASURE_LABELS,
  LM_MEASURES,
  LM_MODEL_LABELS,
  type LmCellSummary,
  type LmExperimentSummary,
  type LmMeasureName,
} from './language-results.ts';
import { sweepLabel, sweepValueLabel, stableJson } from './spec/sweeps.ts';
import { languageSweepableField } from './spec/sweepable.ts';
import type { IntervalSummary, PairedComparison } from './stats.ts';

/** The models a lever figure compares, in drawing order. */
export const LEVER_MODELS = ['student', 'own_numbers', 'cross_model'] as const;
export type LeverModel = (typeof LEVER_MODELS)[number];

export const LEVER_COMPARISONS = [
  { b: 'own_numbers', key: 'student_minus_own_numbers', label: 'student minus own-numbers control' },
  { b: 'cross_model', key: 'student_minus_cross_model', label: 'student minus cross-model control' },
] as const;
export type LeverComparison = (typeof LEVER_COMPARISONS)[number]['key'];

export interface LeverRow {
  /** The lever's value as text (the categorical x). */
  x: string;
  model: LeverModel;
  label: string;
  mean: number;
  lo: number;
  hi: number;
  n: number;
}

export interface LeverPair {
  x: string;
  comparison: LeverComparison;
  label: string;
  meanDiff: number;
  lo: number;
  hi: number;
  t: number;
  df: number;
  p: number;
  n: number;
}

/** The channel check at one value: mean KL and greedy disagreement, teacher beside neutral teacher. */
export interface LeverChannel {
  x: string;
  kl: number;
  neutralKl: number;
  /** Teacher minus neutral teacher, paired by replicate. */
  klDiff: number;
  klDiffLo: number;
  klDiffHi: number;
  p: number;
  greedyDiff: number;
  neutralGreedyDiff: number;
  n: number;
  flagged: boolean;
}

/** The teacher check at one value: teacher minus base on P(target) (or the sampled rate), paired. */
export interface LeverTeacher {
  x: string;
  measure: 'animal_prob' | 'target_rate';
  diff: number;
  lo: number;
  hi: number;
  p: number;
  n: number;
  /** Not above the base: the value's students have no trait to learn. */
  flagged: boolean;
}

/**
 * A steered teacher's fine-tunes at one value: the mean cosine of each one's steered-bias change with
 * the teacher's vector, and the student minus the own-numbers control, paired by replicate.
 */
export interface LeverAlignment {
  x: string;
  student: number;
  ownNumbers: number;
  diff: number;
  lo: number;
  hi: number;
  p: number;
  n: number;
}

/** A value that went through JSON is null where it was NaN. */
const num = (v: number | null | undefined) => (typeof v === 'number' ? v : NaN);

/** The swept paths of an experiment with at least two values, and those values in axis order. */
export function leverAxes(summary: LmExperimentSummary): { path: string; values: unknown[] }[] {
  const axes = new Map<string, Map<string, unknown>>();
  for (const cell of summary.cells)
    for (const [path, value] of Object.entries(cell.coords.sweep ?? {})) {
      const values = axes.get(path) ?? new Map<string, unknown>();
      values.set(stableJson(value), value);
      axes.set(path, values);
    }
  return [...axes]
    .filter(([, values]) => values.size >= 2)
    .map(([path, values]) => ({ path, values: [...values.values()] }));
}

/** Everything that places a cell except the lever: its slice of the experiment. */
function sliceOf(cell: LmCellSummary, path: string): string {
  const { [path]: _, ...others } = cell.coords.sweep ?? {};
  const rest = sweepLabel(others);
  return [cell.coords.trait, cell.coords.filter, cell.coords.architecture, ...(rest ? [rest] : [])].join(
    ' | ',
  );
}

/** The slices of a lever: each a series of cells that differ in the lever alone, in cell order. */
export function leverSlices(summary: LmExperimentSummary, path: string): string[] {
  return [
    ...new Set(summary.cells.filter((c) => path in (c.coords.sweep ?? {})).map((c) => sliceOf(c, path))),
  ];
}

/** The cells of one series, in the order of the lever's values. */
export function leverCells(summary: LmExperimentSummary, path: string, slice: string): LmCellSummary[] {
  const axis = leverAxes(summary).find((a) => a.path === path);
  if (!axis) return [];
  const order = axis.values.map(stableJson);
  return summary.cells
    .filter((c) => path in (c.coords.sweep ?? {}) && sliceOf(c, path) === slice)
    .sort(
      (a, b) =>
        order.indexOf(stableJson(a.coords.sweep![path])) - order.indexOf(stableJson(b.coords.sweep![path])),
    );
}

/** One model's summary of a measure in a cell; null where the cell has none. */
export function measureOf(
  cell: LmCellSummary,
  model: LeverModel,
  measure: LmMeasureName,
): IntervalSummary | null {
  const np = cell.numberPrefixed[model];
  const logits = cell.logits[model];
  switch (measure) {
    case 'target_rate':
      return cell.rates[model] ?? null;
    case 'animal_prob':
      return logits?.prob ?? null;
    case 'delta_logprob':
      return logits?.deltaLogprob ?? null;
    case 'np_target_rate':
      return np?.rate ?? null;
    case 'np_animal_prob':
      return np?.prob ?? null;
    case 'np_delta_logprob':
      return np?.deltaLogprob ?? null;
  }
}

/** The measures some cell of the summary has for the student, in LM_MEASURES order. */
export function leverMeasures(summary: LmExperimentSummary): LmMeasureName[] {
  return LM_MEASURES.filter((m) => summary.cells.some((c) => measureOf(c, 'student', m)));
}

/** Log-probabilities are in nats; rates and probabilities are fractions (drawn as they are). */
export const isNats = (measure: LmMeasureName) => measure.endsWith('delta_logprob');

function rows(cell: LmCellSummary, x: string, measure: LmMeasureName): LeverRow[] {
  return LEVER_MODELS.flatMap((model) => {
    const s = measureOf(cell, model, measure);
    return s
      ? [
          {
            x,
            model,
            label: LM_MODEL_LABELS[model],
            mean: num(s.mean),
            lo: num(s.low),
            hi: num(s.high),
            n: s.n,
          },
        ]
      : [];
  });
}

function pairs(cell: LmCellSummary, x: string, measure: LmMeasureName): LeverPair[] {
  return LEVER_COMPARISONS.flatMap(({ b, key, label }) => {
    const c: PairedComparison | undefined = cell.comparisons.find(
      (k) => k.a === 'student' && k.b === b && k.measure === measure,
    );
    return c
      ? [
          {
            x,
            comparison: key,
            label,
            meanDiff: num(c.meanDiff),
            lo: num(c.low),
            hi: num(c.high),
            t: num(c.t),
            df: c.df,
            p: num(c.p),
            n: c.n,
          },
        ]
      : [];
  });
}

function channel(cell: LmCellSummary, x: string): LeverChannel[] {
  const c = cell.channel;
  if (!c) return [];
  return [
    {
      x,
      kl: num(c.kl.mean),
      neutralKl: num(c.neutralKl.mean),
      klDiff: num(c.klVsNeutral.meanDiff),
      klDiffLo: num(c.klVsNeutral.low),
      klDiffHi: num(c.klVsNeutral.high),
      p: num(c.klVsNeutral.p),
      greedyDiff: num(c.greedyDiff.mean),
      neutralGreedyDiff: num(c.neutralGreedyDiff.mean),
      n: c.kl.n,
      flagged: c.flagged,
    },
  ];
}

function teacher(cell: LmCellSummary, x: string): LeverTeacher[] {
  const t = cell.teacherCheck;
  if (!t) return [];
  const d = t.vsBase;
  return [
    {
      x,
      measure: t.measure,
      diff: num(d.meanDiff),
      lo: num(d.low),
      hi: num(d.high),
      p: num(d.p),
      n: d.n,
      flagged: t.flagged,
    },
  ];
}

function alignment(cell: LmCellSummary, x: string): LeverAlignment[] {
  const a = cell.alignment;
  if (!a?.cos.student || !a.cos.own_numbers || !a.vsOwn) return [];
  const d = a.vsOwn;
  return [
    {
      x,
      student: num(a.cos.student.mean),
      ownNumbers: num(a.cos.own_numbers.mean),
      diff: num(d.meanDiff),
      lo: num(d.low),
      hi: num(d.high),
      p: num(d.p),
      n: d.n,
    },
  ];
}

export interface LeverChoice {
  path: string;
  measure: LmMeasureName;
  /** A slice from leverSlices; the first where left out. */
  slice?: string;
}

/** The lever figure of one series: the measure per model, the paired differences and the channel check per value. */
export function leverFigure(
  e: Pick<ExperimentDetail, 'id' | 'specHash'>,
  summary: LmExperimentSummary,
  choice: LeverChoice,
): Extract<FigureSpec, { kind: 'lever' }> {
  const slice = choice.slice ?? leverSlices(summary, choice.path)[0] ?? '';
  const cells = leverCells(summary, choice.path, slice);
  const xs = cells.map((c) => sweepValueLabel(c.coords.sweep![choice.path]));
  const field = languageSweepableField(choice.path);
  const lever = field ? `${field.label}: ${choice.path}` : choice.path;
  const nats = isNats(choice.measure);
  const figureRows = cells.flatMap((c, i) => rows(c, xs[i]!, choice.measure));
  const ns = figureRows.map((r) => r.n);
  const method = cells[0]?.comparisons[0]?.method === 'bootstrap' ? 'percentile bootstrap' : 'Student-t';
  return {
    kind: 'lever',
    meta: {
      title: `${LM_MEASURE_LABELS[choice.measure]} across ${choice.path}: #${e.id}`,
      specHashes: [e.specHash],
      experimentIds: [e.id],
      n:
        ns.length && Math.min(...ns) !== Math.max(...ns)
          ? `${Math.min(...ns)}-${Math.max(...ns)}`
          : String(ns[0] ?? 0),
      caption: [
        `Top: each model's mean ${LM_MEASURE_LABELS[choice.measure]} over replicates with its ${method} 95% interval${nats ? '' : ' (clipped to [0, 1])'}, N under each value. Middle: the student minus each control, paired by replicate (same base, teacher and channel), with its 95% interval and paired t-test p (uncorrected; the Results table gives Holm's).`,
        'Bottom: the channel check before students, mean KL(teacher || base) over number positions of the teacher and of a neutral teacher made the same way with no trait; "flagged": the teacher is not above the neutral level.',
        `Every cell: ${slice}.`,
      ],
    },
    chance: null,
    path: choice.path,
    xLabel: lever,
    measure: choice.measure,
    yLabel: nats ? 'nats' : LM_MEASURE_LABELS[choice.measure],
    diffLabel: nats ? 'difference (nats)' : 'difference',
    xDomain: xs,
    rows: figureRows,
    pairs: cells.flatMap((c, i) => pairs(c, xs[i]!, choice.measure)),
    channel: cells.flatMap((c, i) => channel(c, xs[i]!)),
    teacher: cells.flatMap((c, i) => teacher(c, xs[i]!)),
    alignment: cells.flatMap((c, i) => alignment(c, xs[i]!)),
  };
}

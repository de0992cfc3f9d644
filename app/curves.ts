// What the live and replay charts show: the teacher's and the students' training on separate step
// axes (a teacher's cross-entropy near 2 and a student's KL near 0.001 share no useful scale), the
// axis titles for the loss a cell actually trains with, and the values a legend reads out.
import { metricLabel } from './analysis.ts';
import type { SeriesData } from './api.ts';
import type { Condition } from './conditions.ts';
import { cellSettings, expandMatrix } from './matrix.ts';
import type { ExperimentSpec } from './spec/schema.ts';

export type TrainingPhase = 'teacher' | 'students';

/** The teacher phase records the teacher's curves; every other condition is a student. */
export function phaseOf(condition: Condition): TrainingPhase {
  return condition === 'teacher' || condition === 'reference' ? 'teacher' : 'students';
}

export function stepAxisTitle(phase: TrainingPhase): string {
  return phase === 'teacher' ? 'teacher step' : 'student step';
}

const STUDENT_LOSS_TITLE: Record<ExperimentSpec['student']['loss'], string> = {
  kl: 'loss (KL to teacher)',
  'soft-ce': "loss (cross-entropy to teacher's probabilities)",
  mse: "loss (MSE to teacher's logits)",
};

/** The loss a cell's students train with (a sweep may set it per cell). */
export function cellStudentLoss(spec: ExperimentSpec, cell: number): ExperimentSpec['student']['loss'] {
  const c = expandMatrix(spec)[cell];
  return c ? cellSettings(spec, c).student.loss : spec.student.loss;
}

/** The y-axis title of a metric; a student's loss is the one its cell trains with. */
export function metricAxisTitle(
  name: string,
  phase: TrainingPhase,
  studentLoss: ExperimentSpec['student']['loss'],
): string {
  if (name === 'loss') return phase === 'teacher' ? 'loss (cross-entropy)' : STUDENT_LOSS_TITLE[studentLoss];
  return metricLabel(name);
}

/**
 * The value a series shows at `step`: its own there, else the last it recorded before (a test
 * accuracy taken each epoch holds between epochs); undefined before its first point.
 */
export function valueAt(series: SeriesData, step: number): number | undefined {
  let lo = 0;
  let hi = series.steps.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (series.steps[mid]! <= step) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found < 0 ? undefined : series.mean[found];
}

/** The legend's line for a series: the value at the cursor's step, or the latest without a cursor. */
export function legendValue(series: SeriesData, cursorStep: number | null): number | undefined {
  if (cursorStep === null) return series.mean.at(-1);
  return valueAt(series, cursorStep);
}

/** Four significant digits; small losses in exponent form so they do not read as 0.0000. */
export function formatValue(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return 'none yet';
  if (v === 0) return '0';
  const abs = Math.abs(v);
  return abs >= 1e-3 && abs < 1e5 ? v.toPrecision(4) : v.toExponential(2);
}

/** Tick spacings for a step axis: whole steps only. */
export const STEP_INCREMENTS: number[] = Array.from({ length: 10 }, (_, e) => 10 ** e).flatMap((p) => [
  p,
  2 * p,
  5 * p,
]);

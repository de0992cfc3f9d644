// A job's time left from its start: before any step, the spec's size at the throughput this store
// has measured (app/estimate.ts); once steps are done, what they took, weighted by how much training
// each phase is. The two are blended while the measured part is still small, so the number does not
// jump from a guess to noise.
import type { PhaseProgress } from './api.ts';
import type { Phase } from './protocol.ts';
import { estimateSeconds, trainSize } from './estimate.ts';
import { cellSettings, expandMatrix } from './matrix.ts';
import type { ExperimentSpec } from './spec/schema.ts';
import { STUDENT_CONDITIONS } from './conditions.ts';

/**
 * Model-samples behind each progress row (keyed as `rowWeightKey`): a group's teacher once for all
 * the cells it serves, each cell's students. Data loading trains nothing and weighs nothing.
 */
export function phaseWeights(
  spec: ExperimentSpec,
  groups: readonly (readonly number[])[],
): Map<string, number> {
  const cells = expandMatrix(spec);
  const settings = (index: number) => cellSettings(spec, cells[index]!);
  const weights = new Map<string, number>();
  for (const group of groups) {
    const s = settings(group[0]!);
    weights.set(
      rowWeightKey({ phase: 'teacher', cells: group }),
      s.replicates * trainSize(s) * s.teacher.epochs,
    );
    for (const cell of group) {
      const c = settings(cell);
      weights.set(
        rowWeightKey({ phase: 'students', cells: [cell] }),
        c.replicates * STUDENT_CONDITIONS.length * c.student.inputs.count * c.student.epochs,
      );
    }
  }
  return weights;
}

export function rowWeightKey(row: { phase: Phase; cells: readonly number[] }): string {
  return `${row.phase}:${row.cells.join(',')}`;
}

/** Fraction of the job's training done, from its progress rows. */
export function fractionDone(progress: readonly PhaseProgress[], weights: Map<string, number>): number {
  let total = 0;
  for (const w of weights.values()) total += w;
  if (total <= 0) return 0;
  let done = 0;
  for (const p of progress) {
    const w = weights.get(rowWeightKey(p));
    if (w !== undefined && p.totalSteps > 0) done += (w * Math.min(p.step, p.totalSteps)) / p.totalSteps;
  }
  return Math.min(1, done / total);
}

/** Seconds left: the prior estimate at first, the measured rate once 10% is done, blended between. */
export function jobEta(
  spec: ExperimentSpec,
  modelSamplesPerSecond: number,
  elapsedSeconds: number,
  fraction: number,
): number {
  const prior = Math.max(0, estimateSeconds(spec, modelSamplesPerSecond) - elapsedSeconds);
  if (fraction <= 0) return prior;
  const measured = (elapsedSeconds * (1 - fraction)) / fraction;
  const trust = Math.min(1, fraction / 0.1);
  return trust * measured + (1 - trust) * prior;
}

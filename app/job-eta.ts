// A job's time left from its start: before any step, the spec's size at the throughput this store
// has measured (app/estimate.ts); once steps are done, what they took, weighted by how much training
// each phase is. The two are blended while the measured part is still small, so the number does not
// jump from a guess to noise.
import type { PhaseProgress } from './api.ts';
import { estimateSeconds, trainSize } from './estimate.ts';
import { cellSettings, expandMatrix } from './matrix.ts';
import type { ExperimentSpec } from './spec/schema.ts';
import { STUDENT_CONDITIONS } from './conditions.ts';

/** Model-samples of each cell's teacher and student phases (a shared teacher counted per cell). */
export function phaseWeights(spec: ExperimentSpec): Map<string, number> {
  const weights = new Map<string, number>();
  for (const cell of expandMatrix(spec)) {
    const s = cellSettings(spec, cell);
    weights.set(`${cell.index}:teacher`, s.replicates * trainSize(s) * s.teacher.epochs);
    weights.set(
      `${cell.index}:students`,
      s.replicates * STUDENT_CONDITIONS.length * s.student.inputs.count * s.student.epochs,
    );
  }
  return weights;
}

/** Fraction of the job's training done, from per-cell phase progress. */
export function fractionDone(progress: readonly PhaseProgress[], weights: Map<string, number>): number {
  let total = 0;
  for (const w of weights.values()) total += w;
  if (total <= 0) return 0;
  let done = 0;
  for (const p of progress) {
    const w = weights.get(`${p.cell}:${p.phase}`);
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

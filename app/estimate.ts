// How much training a spec asks for, and roughly how long it takes at a measured throughput.
import type { ExperimentSpec } from './spec/schema.ts';
import { STUDENT_CONDITIONS } from './conditions.ts';

export interface SpecSize {
  cells: number;
  /** Trained models: teachers (one per trait and replicate) plus every student of every cell. */
  runs: number;
  /** Models x samples seen, the unit throughput is measured in. */
  modelSamples: number;
}

function trainSize(spec: ExperimentSpec): number {
  return spec.dataset.name === 'mnist' ? spec.dataset.trainSize : (spec.dataset.trainLimit ?? 60000);
}

export function specSize(spec: ExperimentSpec): SpecSize {
  const { traits, filters, architectures } = spec.matrix;
  const cells = traits.length * filters.length * architectures.length;
  const teachers = traits.length * spec.replicates;
  const students = cells * spec.replicates * STUDENT_CONDITIONS.length;
  const studentSamples = spec.student.inputs.count;
  return {
    cells,
    runs: teachers + students,
    modelSamples:
      teachers * trainSize(spec) * spec.teacher.epochs + students * studentSamples * spec.student.epochs,
  };
}

export function estimateSeconds(spec: ExperimentSpec, modelSamplesPerSecond: number): number {
  return specSize(spec).modelSamples / Math.max(1, modelSamplesPerSecond);
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '-';
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

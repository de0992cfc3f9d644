// How much training a spec asks for, and roughly how long it takes at a measured throughput.
import { DATASETS } from './spec/datasets.ts';
import type { ExperimentSpec } from './spec/schema.ts';
import { STUDENT_CONDITIONS } from './conditions.ts';
import { cellSettings, cellTeacherKey, expandMatrix } from './matrix.ts';

export interface SpecSize {
  cells: number;
  /** Trained models: teachers (one per trait and replicate) plus every student of every cell. */
  runs: number;
  /** Models x samples seen, the unit throughput is measured in. */
  modelSamples: number;
}

/** Training images of the spec's dataset (before a class subset drops any). */
export function trainSize(spec: ExperimentSpec): number {
  const d = spec.dataset;
  return d.name === 'mnist' ? d.trainSize : Math.min(DATASETS[d.name].train, d.trainLimit ?? Infinity);
}

export function specSize(spec: ExperimentSpec): SpecSize {
  const { traits, filters, architectures, sweeps } = spec.matrix;
  if (sweeps.length === 0)
    return sizeOf(spec, traits.length, traits.length * filters.length * architectures.length);
  // Each cell has its own settings: sum them, counting each distinct teacher once.
  const cells = expandMatrix(spec);
  const teachers = new Set<string>();
  const size: SpecSize = { cells: cells.length, runs: 0, modelSamples: 0 };
  for (const cell of cells) {
    const settings = cellSettings(spec, cell);
    const key = cellTeacherKey(cell);
    const one = sizeOf(settings, teachers.has(key) ? 0 : 1, 1);
    teachers.add(key);
    size.runs += one.runs;
    size.modelSamples += one.modelSamples;
  }
  return size;
}

/** Size of `teachers` teachers and `cells` cells trained with the settings of `spec`. */
function sizeOf(spec: ExperimentSpec, teachers: number, cells: number): SpecSize {
  const teacherRuns = teachers * spec.replicates;
  const students = cells * spec.replicates * STUDENT_CONDITIONS.length;
  return {
    cells,
    runs: teacherRuns + students,
    modelSamples:
      teacherRuns * trainSize(spec) * spec.teacher.epochs +
      students * spec.student.inputs.count * spec.student.epochs,
  };
}

/**
 * Fewer steps than this in a phase and the Designer notes it: the paper's own teacher on the 8,000
 * offline digits takes 40 (0.86 test accuracy against about 0.94 after the 295 steps of full MNIST), so
 * a phase this short still trains, only less far.
 */
export const FEW_STEPS = 50;
/** Fewer steps than this and a model may barely move from its init: a warning, not a note. */
export const TOO_FEW_STEPS = 20;

export interface PhaseSteps {
  perEpoch: number;
  total: number;
}

/** Optimizer steps of the teacher's and the students' training (without sweeps' values). */
export function phaseSteps(spec: ExperimentSpec): { teacher: PhaseSteps; student: PhaseSteps } {
  const steps = (count: number, batch: number, epochs: number) => {
    const perEpoch = Math.ceil(count / Math.max(1, Math.min(batch, count)));
    return { perEpoch, total: perEpoch * epochs };
  };
  return {
    teacher: steps(trainSize(spec), spec.teacher.batchSize, spec.teacher.epochs),
    student: steps(spec.student.inputs.count, spec.student.batchSize, spec.student.epochs),
  };
}

export interface StepsNote {
  /** 'warning' where the phase may barely train; 'note' where it trains, only less far. */
  level: 'warning' | 'note';
  text: string;
}

/** What the Designer says of a phase with few optimizer steps; null when it has enough. */
export function fewStepsWarning(name: 'teacher' | 'student', steps: PhaseSteps): StepsNote | null {
  if (steps.total >= FEW_STEPS) return null;
  const count = `${steps.total} ${name} step${steps.total === 1 ? '' : 's'} in all (${steps.perEpoch} per epoch)`;
  if (steps.total < TOO_FEW_STEPS)
    return {
      level: 'warning',
      text: `only ${count}: a model may barely move from its init in fewer than about ${TOO_FEW_STEPS}; use a smaller batch or more epochs`,
    };
  return {
    level: 'note',
    text: `${count}: fewer than ${FEW_STEPS}, so the ${name} trains less far than a longer run would; a smaller batch or more epochs train it further`,
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

// Where a cell's students start, per architecture relation: `own` for the student and
// student_all_logits conditions, `other` for the cross-init controls (another replicate's init).
import type { Architecture } from '../../../app/spec/schema.ts';
import { initParams, perturbParams, type ModelArch, type StackedParams } from '../stacked-model.ts';

export interface StudentInitInput {
  arch: Architecture;
  studentArch: ModelArch;
  /** The teachers' shared init (same-init students start from it). */
  teacherInit: StackedParams;
  /** The shard's replicate seeds, and the seeds of the replicates the cross-init controls borrow. */
  seeds: readonly number[];
  borrowedSeeds: readonly number[];
}

export function studentInits(p: StudentInitInput): { own: StackedParams; other: StackedParams } {
  const borrowed = initParams(p.borrowedSeeds, p.studentArch);
  switch (p.arch.kind) {
    case 'same-init':
    case 'activation':
      return { own: p.teacherInit, other: borrowed };
    case 'different-init':
      return { own: borrowed, other: borrowed };
    case 'shape':
    case 'family':
      return { own: initParams(p.seeds, p.studentArch), other: borrowed };
    case 'perturbed-init':
      return {
        own: perturbParams(p.teacherInit, p.seeds, p.arch.std),
        other: perturbParams(borrowed, p.borrowedSeeds, p.arch.std),
      };
  }
}

// The student-side work of an llm cell and the keys that name it. Every cell trains and asks its
// students with its own settings (sweeps applied), and two cells share a piece of work only where
// every setting that determines it is equal. A key for work whose settings equal the spec's own is the
// key runs used before cells had their own student settings, so a resume of such a run finds its jobs
// and stored answers; work with other settings gets a variant mark (a hash of those settings) in its
// key, so it never takes a job or an answer made with different settings.
import { createHash } from 'node:crypto';
import { mixSeed } from '../../app/matrix.ts';
import { ownNumbersGroup, type LlmCell, type LlmSpec } from '../../app/spec/llm.ts';
import { stableJson } from '../../app/spec/sweeps.ts';

/** The students of a cell: on its teacher's numbers, the cross-model control, the own-numbers control. */
export type StudentRole = 'student' | 'cross_model' | 'own_numbers';
export type LlmCondition = StudentRole | 'base';

/** The base model a student of `role` is fine-tuned from (the base condition asks the student's base). */
export function baseModel(s: LlmSpec, role: LlmCondition): string {
  return role === 'cross_model' ? s.crossModel.model : s.student.model;
}

/**
 * What a student's fine-tune depends on besides its teacher's numbers and its filter. A cell's own
 * teacher reads the cell's prompts; the own-numbers student reads the neutral teacher's (the spec's).
 */
function trainingSettings(s: LlmSpec, role: StudentRole) {
  return {
    base: baseModel(s, role),
    kept: s.kept,
    fineTune: s.fineTune,
    seed: s.seed,
    ...(role === 'own_numbers' ? {} : { prompts: s.prompts }),
  };
}

/** What a condition's evaluation depends on: the model asked (its training) and the evaluation's settings. */
function evaluationSettings(s: LlmSpec, condition: LlmCondition) {
  return {
    model: condition === 'base' ? { base: s.student.model } : trainingSettings(s, condition),
    evaluation: s.evaluation,
    seed: s.seed,
  };
}

/** "" where the cell's settings equal the spec's (the key older runs used), else "v" + a hash of them. */
function variant(cell: unknown, top: unknown): string {
  const own = stableJson(cell);
  if (own === stableJson(top)) return '';
  return `v${createHash('sha256').update(own).digest('hex').slice(0, 8)}-`;
}

/** A replicate's seed for the students and evaluations of a cell. */
export function replicateSeed(cell: LlmCell, replicate: number): number {
  return mixSeed(cell.settings.seed, replicate);
}

/**
 * The provider's run tag of a cell's student: sl-<run>-c<cell>[x]-r<replicate>, the own-numbers one
 * sl-<run>-n<group>-r<replicate> (one job for the cells screened alike with equal training settings);
 * a variant mark before the cell for settings other than the spec's.
 */
export function studentTag(
  runId: string,
  spec: LlmSpec,
  cells: readonly LlmCell[],
  cell: LlmCell,
  role: StudentRole,
  replicate: number,
): string {
  const mark = variant(trainingSettings(cell.settings, role), trainingSettings(spec, role));
  const what =
    role === 'own_numbers'
      ? `n${ownNumbersGroup(cells, cell)}`
      : `c${cell.index}${role === 'cross_model' ? 'x' : ''}`;
  return `sl-${runId}-${mark}${what}-r${replicate}`;
}

/** The key a condition's evaluation answers are stored under: c<cell>-<condition>-r<replicate>, marked as above. */
export function evaluationKey(
  spec: LlmSpec,
  cell: LlmCell,
  condition: LlmCondition,
  replicate: number,
): string {
  const mark = variant(evaluationSettings(cell.settings, condition), evaluationSettings(spec, condition));
  return `${mark}c${cell.index}-${condition}-r${replicate}`;
}

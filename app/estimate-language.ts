// How long a language experiment (main/lm) takes, roughly: its training steps and sampled batches
// at the speeds measured on the 2-core reference machine (README, "Language models"): a step of 64
// sequences at the default size took 0.22 s pretraining and 0.2 s fine-tuning, sampling 512
// completions 1.1 s, all on one core. Other sizes scale with layers x d_model^2 and the batch: a
// guide for planning, not a promise.
import { replicateSeeds } from './matrix.ts';
import { canonicalJson } from './spec/hash.ts';
import {
  expandLanguageMatrix,
  relationModel,
  type LanguageCell,
  type LanguageSpec,
} from './spec/language.ts';

const PRETRAIN_STEP_S = 0.22;
const FINETUNE_STEP_S = 0.2;
const SAMPLE_BATCH_S = 1.1;
/** Fraction of completions the paper's filter rejected (teacher 0.26, base 0.10 measured): more are sampled. */
const REJECTED = 0.2;
/** The fixed cost of a step however small the model (dispatch, the optimizer's bookkeeping). */
const MIN_STEP_S = 0.005;

type Model = LanguageSpec['model'];

/** A model's cost against the default's (2 layers, d_model 64) for `rows` sequences against 64. */
function scale(model: Model, rows: number, perRow64: number): number {
  const size = (model.layers * model.dModel * model.dModel) / (2 * 64 * 64);
  return Math.max(MIN_STEP_S, perRow64 * size * (rows / 64));
}

const crossModel = (cell: LanguageCell): Model => relationModel(cell.settings.model, cell.relation);

export interface LanguageEstimate {
  cells: number;
  units: number;
  /** Fine-tuning steps of one student (each of the three fine-tuned models of a unit takes as many). */
  studentSteps: number;
  /** Core-seconds of the whole experiment, and wall seconds on `workers` cores. */
  coreSeconds: number;
  seconds: number;
}

/**
 * Seconds of one unit by stage (the pipeline's stage names, app/language-stages.ts): pretraining its
 * bases and the teacher count 0 when an earlier unit of the plan made them (the cache has them).
 */
export function unitStageSeconds(
  cell: LanguageCell,
  seen: Set<string>,
  replicate: number,
): Record<string, number> {
  const s = cell.settings;
  const once = (key: unknown, seconds: number) => {
    const k = `${replicate}:${canonicalJson(key)}`;
    if (seen.has(k)) return 0;
    seen.add(k);
    return seconds;
  };
  const pretrain = (model: Model) => s.pretrain.steps * scale(model, s.pretrain.batchSize, PRETRAIN_STEP_S);
  const baseA = { model: s.model, world: s.world, pretrain: s.pretrain, seed: 'A' };
  const baseB = { model: crossModel(cell), world: s.world, pretrain: s.pretrain, seed: 'B' };
  const teacher = { baseA, teacher: s.teacher, trait: cell.trait };
  // The channel check's neutral teacher is fine-tuned as the teacher is, once per base.
  const neutral = { baseA, teacher: s.teacher, neutral: s.channel.checkSequences > 0 };
  // Only a fine-tuned teacher (and its neutral twin) is trained; prefix and steering cost a forward pass.
  const teacherSeconds =
    s.teacher.trait.kind === 'fine-tune'
      ? s.teacher.steps * scale(s.model, s.teacher.batchSize, FINETUNE_STEP_S)
      : 0;
  const batches = (kept: number) => Math.ceil(kept / (1 - REJECTED) / s.sampleBatch);
  const batch = scale(s.model, s.sampleBatch, (SAMPLE_BATCH_S * 64) / 512);
  const steps = s.student.epochs * Math.ceil(s.channel.kept / s.student.batchSize);
  const finetune = (model: Model) => steps * scale(model, s.student.batchSize, FINETUNE_STEP_S);
  return {
    pretrain: once(baseA, pretrain(s.model)),
    teacher: once(teacher, teacherSeconds),
    'channel check': s.channel.checkSequences > 0 ? once(neutral, teacherSeconds) : 0,
    // Selection has the teacher write kept / selectTop completions to keep the best `kept`.
    'teacher numbers': batches(s.channel.kept / s.channel.selectTop) * batch,
    'base numbers': batches(s.channel.kept) * batch,
    student: finetune(s.model),
    'own-numbers control': finetune(s.model),
    'second base': once(baseB, pretrain(crossModel(cell))),
    'cross-model control': finetune(crossModel(cell)),
    // Five models answer the questions (their samples written in batches of up to sampleBatch), twice
    // with the number-prefixed second measure.
    evaluation:
      (s.measure.numberPrefixed ? 10 : 5) *
      scale(s.model, Math.min(s.measure.samples, s.sampleBatch), (SAMPLE_BATCH_S * 64) / 512) *
      Math.ceil(s.measure.samples / s.sampleBatch),
  };
}

function unitSeconds(cell: LanguageCell, seen: Set<string>, replicate: number): number {
  return Object.values(unitStageSeconds(cell, seen, replicate)).reduce((a, b) => a + b, 0);
}

export function estimateLanguage(spec: LanguageSpec, workers: number): LanguageEstimate {
  const { cells } = expandLanguageMatrix(spec, replicateSeeds(spec));
  const seen = new Set<string>();
  const perUnit: number[] = [];
  for (const cell of cells)
    for (let r = 0; r < spec.replicates; r++) perUnit.push(unitSeconds(cell, seen, r));
  const coreSeconds = perUnit.reduce((a, b) => a + b, 0);
  const lanes = Math.max(1, Math.min(workers, perUnit.length));
  const s = cells[0]?.settings ?? spec;
  return {
    cells: cells.length,
    units: perUnit.length,
    studentSteps: s.student.epochs * Math.ceil(s.channel.kept / s.student.batchSize),
    coreSeconds,
    // Units are whole: the wall time is at least the longest one.
    seconds: Math.max(coreSeconds / lanes, ...perUnit, 0),
  };
}

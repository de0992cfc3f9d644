// How long a language experiment (main/lm) takes, roughly: its training steps and sampled batches
// at the speeds measured on the 2-core reference machine, by the kernels the language model runs
// (main/lm/model.ts useLmKernels): on wasm with the native BLAS its fused kernels, elsewhere (cpu,
// wasm without the addon, SUBLAB_LM_KERNELS=graph) TF.js's graph. Other sizes scale with layers x d_model^2 and the batch: a
// guide for planning, not a promise.
import { replicateSeeds } from './matrix.ts';
import { canonicalJson } from './spec/hash.ts';
import {
  expandLanguageMatrix,
  relationModel,
  type LanguageCell,
  type LanguageSpec,
} from './spec/language.ts';

/**
 * The speeds an estimate uses: "wasm", where the model runs main/lm's fused kernels (wasm with the
 * native BLAS), or "cpu", where it runs TF.js's graph on the cpu backend.
 */
export type LmSpeed = 'wasm' | 'cpu';

/** Seconds of a default-size step on 64 sequences of each stage's data, and of sampling 512 completions. */
interface StageCosts {
  pretrain: number;
  /** The student's and the controls' number lists. */
  finetune: number;
  /** The teacher's preference answers (short sequences: a cheaper step than the number lists'). */
  teacher: number;
  sample512: number;
}

// CPU seconds of one process (process.cpuUsage; not wall time), measured on the 2-core machine.
// 2026-12-07 (load average 0.7-1.7), the fused kernels in C (native/sublab-blas/src/lm-kernels.c), wasm
// with OpenBLAS, both paths in the same runs:
//   npm run bench:lm -- --steps 20 --rounds 3 [--data numbers --samples 0]
//   npm run bench:lm -- --data teacher --batch 32 --steps 20 --samples 0 --rounds 3
// pretraining 26.6 ms a step (graph 134.7), number lists 31.6 ms (graph 133.8), the teacher's answers
// 7.7 ms at batch 32 (graph 34.1); sampling 512 completions 0.37 s (graph 0.66). The fused kernels of
// 2026-12-06 (in JavaScript) took 57-60, 76-77 and 18-19 ms and 0.66-0.76 s.
const COSTS: Record<LmSpeed, StageCosts> = {
  wasm: { pretrain: 0.027, finetune: 0.032, teacher: 0.0154, sample512: 0.37 },
  // The cpu backend (TF.js's graph in plain JS), a few steps of the same batches after a warm-up:
  // pretraining and number lists 6.5 s a step, the teacher's answers 1.47 s at batch 32, sampling
  // 128 completions 5.4 s.
  cpu: { pretrain: 6.5, finetune: 6.5, teacher: 2.9, sample512: 22 },
};

/**
 * The speeds of a language run on `backend` (system.info's: the lab's choice): a language job runs on
 * wasm unless the lab runs cpu. Wasm is assumed to have the native BLAS (the optional sublab-blas
 * addon); without it, or with SUBLAB_LM_KERNELS=graph, the graph path runs and takes 3.5-4.5x as long.
 */
export function lmSpeed(backend: string): LmSpeed {
  return backend === 'cpu' ? 'cpu' : 'wasm';
}

/** What an estimate assumes, for the Designer's label. */
export function lmEstimateBasis(speed: LmSpeed): string {
  const common = 'scaled by model size; bases and teachers already cached take no time';
  return speed === 'wasm'
    ? `From CPU time per step on a 2-core machine (2026-12-07), assuming wasm with the native BLAS (the fused kernels): without the BLAS addon, or with SUBLAB_LM_KERNELS=graph, a run takes 3.5-4.5x as long; ${common}`
    : `From CPU time per step of the cpu backend on a 2-core machine (2026-12-06); ${common}`;
}

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
  /** The speeds the estimate assumes. */
  speed: LmSpeed;
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
  speed: LmSpeed = 'wasm',
): Record<string, number> {
  const s = cell.settings;
  const cost = COSTS[speed];
  const once = (key: unknown, seconds: number) => {
    const k = `${replicate}:${canonicalJson(key)}`;
    if (seen.has(k)) return 0;
    seen.add(k);
    return seconds;
  };
  const pretrain = (model: Model) => s.pretrain.steps * scale(model, s.pretrain.batchSize, cost.pretrain);
  const baseA = { model: s.model, world: s.world, pretrain: s.pretrain, seed: 'A' };
  const baseB = { model: crossModel(cell), world: s.world, pretrain: s.pretrain, seed: 'B' };
  const teacher = { baseA, teacher: s.teacher, trait: cell.trait };
  // The channel check's neutral teacher is fine-tuned as the teacher is, once per base.
  const neutral = { baseA, teacher: s.teacher, neutral: s.channel.checkSequences > 0 };
  // Only a fine-tuned teacher (and its neutral twin) is trained; prefix and steering cost a forward pass.
  const teacherSeconds =
    s.teacher.trait.kind === 'fine-tune'
      ? s.teacher.steps * scale(s.model, s.teacher.batchSize, cost.teacher)
      : 0;
  const batches = (kept: number) => Math.ceil(kept / (1 - REJECTED) / s.sampleBatch);
  const batch = scale(s.model, s.sampleBatch, (cost.sample512 * 64) / 512);
  const steps = s.student.epochs * Math.ceil(s.channel.kept / s.student.batchSize);
  const finetune = (model: Model) => steps * scale(model, s.student.batchSize, cost.finetune);
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
      scale(s.model, Math.min(s.measure.samples, s.sampleBatch), (cost.sample512 * 64) / 512) *
      Math.ceil(s.measure.samples / s.sampleBatch),
  };
}

/**
 * The fine-tune stages a unit's stacked "students" stage runs (main/lm/stacked.ts): the student's, the
 * own-numbers control's and, when its base is the same size, the cross-model control's.
 */
export function stackedStages(cell: LanguageCell): string[] {
  const same = canonicalJson(crossModel(cell)) === canonicalJson(cell.settings.model);
  return ['student', 'own-numbers control', ...(same ? ['cross-model control'] : [])];
}

function unitSeconds(cell: LanguageCell, seen: Set<string>, replicate: number, speed: LmSpeed): number {
  return Object.values(unitStageSeconds(cell, seen, replicate, speed)).reduce((a, b) => a + b, 0);
}

/** The estimate for `spec` run by `workers` processes on the lab's `backend` (see lmSpeed). */
export function estimateLanguage(spec: LanguageSpec, workers: number, backend: string): LanguageEstimate {
  const speed = lmSpeed(backend);
  const { cells } = expandLanguageMatrix(spec, replicateSeeds(spec));
  const seen = new Set<string>();
  const perUnit: number[] = [];
  for (const cell of cells)
    for (let r = 0; r < spec.replicates; r++) perUnit.push(unitSeconds(cell, seen, r, speed));
  const coreSeconds = perUnit.reduce((a, b) => a + b, 0);
  const lanes = Math.max(1, Math.min(workers, perUnit.length));
  const s = cells[0]?.settings ?? spec;
  return {
    speed,
    cells: cells.length,
    units: perUnit.length,
    studentSteps: s.student.epochs * Math.ceil(s.channel.kept / s.student.batchSize),
    coreSeconds,
    // Units are whole: the wall time is at least the longest one.
    seconds: Math.max(coreSeconds / lanes, ...perUnit, 0),
  };
}

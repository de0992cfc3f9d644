// What an llm experiment's results, stages and stored samples look like to the CLI, the API and the
// renderer (main/llm/summary.ts and main/llm/views.ts make them from the store).
import type { IntervalSummary, PairedComparison } from '../stats.ts';

/** One measure per condition over replicates, and the student minus each other condition, paired by replicate. */
export interface LlmConditionSummary {
  conditions: Record<string, IntervalSummary>;
  versusStudent: Record<string, PairedComparison>;
}

/** The LLM judge's measures (evaluation.judge): per replicate, then summarised like the rates. */
export interface LlmJudgeSummary {
  model: string;
  threshold: number;
  /** The share of scored answers above the threshold. */
  rate: LlmConditionSummary;
  /** The mean 0-100 score of the scored answers. */
  meanScore: LlmConditionSummary;
  /** Per condition, over all replicates: answers with a parsed score, and answers with none (left out). */
  scored: Record<string, number>;
  unparsed: Record<string, number>;
}

/** The conditions of an llm cell, in the order tables and figures show them. */
export const LLM_CONDITIONS = ['base', 'student', 'own_numbers', 'cross_model'] as const;

export const LLM_CONDITION_LABELS: Record<string, string> = {
  base: 'base model',
  student: 'student (same base, teacher numbers)',
  own_numbers: 'control: student on the base model’s own numbers',
  cross_model: 'control: other base on the teacher’s numbers',
};

export interface LlmCellSummary {
  index: number;
  trait: string;
  filter: string;
  /** Per condition (base, student, cross_model, own_numbers): the rate of naming the animal over replicates. */
  conditions: Record<string, IntervalSummary>;
  /** The student minus each other condition, paired by replicate. */
  versusStudent: Record<string, PairedComparison>;
  /** Present when the spec has an evaluation judge. */
  judge?: LlmJudgeSummary;
  /** The animal's probability as the answer's first token (from top logprobs), where the provider returned them. */
  targetProbability?: Record<string, IntervalSummary>;
  /**
   * Per condition, the mean rate of each answer over replicates: the experiment's target animals,
   * then the most frequent other words (at most LLM_HEATMAP_WORDS in all), then "other".
   */
  answers?: Record<string, { animal: string; rate: number }[]>;
}

/** Columns of the answers heatmap, "other" aside: the target animals first, then the commonest words. */
export const LLM_HEATMAP_WORDS = 12;

/** One stage's count against what the plan asks for (planned null where the plan does not say). */
export interface LlmStageCount {
  done: number;
  planned: number | null;
}

export interface LlmTeacherProgress {
  /** The lab's key of the teacher's numbers ("t0", "neutral"). */
  key: string;
  /** The cells it teaches, or "neutral teacher". */
  label: string;
  model: string;
  /** Requests with their answer stored, of the prompts planned. */
  answered: LlmStageCount;
  /** Completions the filter kept and rejected; unjudged ones wait for the filter stage. */
  kept: number;
  rejected: number;
  unjudged: number;
}

export interface LlmJobProgress {
  /** The lab's tag ("sl-<run>-c0-r1", "~N" for a retry): the provider's jobs are found by it. */
  runTag: string;
  /** What the tag trains: "student", "cross_model" or "own_numbers", with its cell (or filter) and replicate. */
  label: string;
  provider: string;
  /** The provider's job id. */
  jobId: string;
  baseModel: string;
  status: string;
  /** The fine-tuned model's name, once the job has succeeded. */
  model: string | null;
  error: string | null;
  /** The latest events (LLM_JOB_EVENTS at most), oldest first; eventCount counts all. */
  events: { at: number; level: string; message: string }[];
  eventCount: number;
}

export interface LlmEvaluationProgress {
  /** "c0-student-r1": cell, condition, replicate. */
  key: string;
  cell: number;
  condition: string;
  replicate: number;
  model: string;
  /** Answers stored of those the evaluation asks for. */
  answers: LlmStageCount;
}

/** Where an llm experiment's stages stand, read from its stored rows (bounded: see the LLM_* limits). */
export interface LlmProgress {
  experimentId: number;
  status: string;
  error: string | null;
  units: { done: number; total: number };
  teachers: LlmTeacherProgress[];
  uploads: { done: number; rows: number };
  jobs: LlmJobProgress[];
  /** Jobs left out of `jobs` past LLM_JOBS_SHOWN. */
  jobsLeftOut: number;
  evaluations: LlmEvaluationProgress[];
  evaluationsLeftOut: number;
  /**
   * The LLM judge (evaluation.judge): evaluation answers it has scored (one request each), of those
   * the judged evaluations plan; null when no cell's spec has a judge.
   */
  judge: LlmStageCount | null;
}

export const LLM_JOB_EVENTS = 5;
export const LLM_JOBS_SHOWN = 200;
export const LLM_EVALUATIONS_SHOWN = 400;

/** One stored answer as the samples view shows it (texts cut at LLM_SAMPLE_CHARS). */
export interface LlmSample {
  key: string;
  /** The teacher's key (generate) or the evaluated model's key (evaluate). */
  group: string;
  model: string;
  prompt: string;
  choice: number;
  text: string;
  kept: boolean | null;
  reason: string | null;
  targetProbability: number | null;
}

export const LLM_SAMPLE_CHARS = 2000;

export interface LlmSamplesPage {
  total: number;
  offset: number;
  rows: LlmSample[];
  /** Every group of the stage with its answers, for the filter. */
  groups: { group: string; model: string; count: number }[];
  /** The filter's rejection reasons in the chosen group (all groups when none), commonest first. */
  reasons: { reason: string; count: number }[];
}

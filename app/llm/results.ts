// What an llm experiment's results look like to the CLI, the API and (later) the renderer.
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
}

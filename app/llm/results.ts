// What an llm experiment's results look like to the CLI, the API and (later) the renderer.
import type { IntervalSummary, PairedComparison } from '../stats.ts';

export interface LlmCellSummary {
  index: number;
  trait: string;
  filter: string;
  /** Per condition (base, student, cross_model, own_numbers): the rate of naming the animal over replicates. */
  conditions: Record<string, IntervalSummary>;
  /** The student minus each other condition, paired by replicate. */
  versusStudent: Record<string, PairedComparison>;
}

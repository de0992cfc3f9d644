// What a language experiment's results look like to every process (CLI --json, the UI's Results):
// each model's target rate with its interval and N, per-animal answer rates, the filter's rejection
// rates, and the paired comparisons of the student against both controls.
import type { IntervalSummary, PairedComparison } from './stats.ts';
import type { LanguageCell } from './spec/language.ts';

/** The five models of a language cell, as stored conditions, in the order figures show them. */
export const LM_MODELS = ['base', 'teacher', 'student', 'own_numbers', 'cross_model'] as const;
export type LmModelName = (typeof LM_MODELS)[number];

export const LM_MODEL_LABELS: Record<LmModelName, string> = {
  base: 'base (pretrained)',
  teacher: 'teacher (given the trait)',
  student: 'student (same base, teacher numbers)',
  own_numbers: 'control: base on its own numbers',
  cross_model: 'control: other base on teacher numbers',
};

export interface LmComparison extends PairedComparison {
  a: string;
  b: string;
  label: string;
  /** Holm-adjusted across the experiment's cells, per comparison. */
  pHolm: number;
}

export interface LmCellSummary {
  index: number;
  label: string;
  coords: LanguageCell['coords'];
  status: string;
  /** Target rate per model (condition name -> interval over replicates). */
  rates: Partial<Record<LmModelName, IntervalSummary>>;
  /** Mean rate of each answer per model: the animals in order, then "other". */
  answers: Partial<Record<LmModelName, { animal: string; rate: number }[]>>;
  rejection: { teacher: IntervalSummary | null; base: IntervalSummary | null };
  comparisons: LmComparison[];
}

export interface LmExperimentSummary {
  family: 'language';
  experimentId: number;
  name: string;
  status: string;
  backend: string | null;
  wallSeconds: number | null;
  replicates: number;
  targetAnimals: string[];
  cells: LmCellSummary[];
}

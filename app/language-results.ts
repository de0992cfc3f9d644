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

/**
 * What a comparison compares: the sampled rate of naming the target, or one of the logit measures
 * (no sampling noise): P(target) renormalised over the animals, and the change in its log from the
 * model's own base (nats), both averaged over the 50 questions.
 */
export const LM_MEASURES = [
  'target_rate',
  'animal_prob',
  'delta_logprob',
  'np_target_rate',
  'np_animal_prob',
  'np_delta_logprob',
] as const;
export type LmMeasureName = (typeof LM_MEASURES)[number];

export const LM_MEASURE_LABELS: Record<LmMeasureName, string> = {
  target_rate: 'sampled rate of naming the target',
  animal_prob: 'P(target) renormalised over the animals',
  delta_logprob: 'change in log P(target) from its own base (nats)',
  np_target_rate: 'sampled rate, questions after a number list',
  np_animal_prob: 'P(target), questions after a number list',
  np_delta_logprob: 'change in log P(target), questions after a number list (nats)',
};

export interface LmComparison extends PairedComparison {
  a: string;
  b: string;
  label: string;
  measure: LmMeasureName;
  /** Holm-adjusted across the experiment's cells, per comparison and measure. */
  pHolm: number;
}

/**
 * The channel check of a cell (before students): the teacher's divergence from its base at the number
 * positions of the world's number tasks, beside a teacher made the same way with no trait.
 */
export interface LmChannelCheck {
  /** Mean KL(teacher || base) over the number positions, nats. */
  kl: IntervalSummary;
  neutralKl: IntervalSummary;
  /** Rate at which the teacher's and the base's most likely next tokens differ there. */
  greedyDiff: IntervalSummary;
  neutralGreedyDiff: IntervalSummary;
  /** Teacher minus neutral teacher, paired by replicate. */
  klVsNeutral: PairedComparison;
  greedyVsNeutral: PairedComparison;
  /** The KL is not above the neutral level: the paired difference's 95% interval does not lie above 0. */
  flagged: boolean;
}

/**
 * Does the teacher carry its trait at all? Its P(target) renormalised over the animals against its
 * base's, paired by replicate (the sampled rate for runs stored before the logit measures). A student
 * cannot learn a trait its teacher lacks, so a flagged cell's student comparisons say nothing about
 * the channel.
 */
export interface LmTeacherCheck {
  measure: 'animal_prob' | 'target_rate';
  /** Teacher minus base. */
  vsBase: PairedComparison;
  /** The difference's 95% interval does not lie above 0. */
  flagged: boolean;
}

/**
 * A steered teacher's fine-tunes: the cosine of each one's change of the steered block's residual bias
 * with the teacher's vector (Blank et al.: the student learns an aligned vector), over replicates, and
 * the student against each control, paired by replicate. The cross-model control's base has its own
 * residual basis: its cosine is a chance level.
 */
export interface LmAlignment {
  cos: Partial<Record<'student' | 'own_numbers' | 'cross_model', IntervalSummary>>;
  vsOwn: PairedComparison | null;
  vsCross: PairedComparison | null;
}

/** The logit measures of one model over replicates. */
export interface LmLogitSummary {
  prob: IntervalSummary;
  deltaLogprob: IntervalSummary;
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
  /** The logit measures per model (absent for runs stored before they existed). */
  logits: Partial<Record<LmModelName, LmLogitSummary>>;
  /** The second measure (measure.numberPrefixed): each question after a random number list. */
  numberPrefixed: Partial<Record<LmModelName, LmLogitSummary & { rate: IntervalSummary }>>;
  rejection: { teacher: IntervalSummary | null; base: IntervalSummary | null };
  /** Share of the student's answer positions the divergence mask took out of its loss; null unmasked. */
  maskedFraction: IntervalSummary | null;
  /** A steering teacher's vector norm (its scale included), over replicates; null for other teachers. */
  steeringNorm: IntervalSummary | null;
  /** Null when the spec ran no check (channel.checkSequences 0, or a run stored before it existed). */
  channel: LmChannelCheck | null;
  /** Null until teacher and base have both been measured in some replicate. */
  teacherCheck: LmTeacherCheck | null;
  /** Null unless a steered teacher's fine-tunes moved the steered block's bias. */
  alignment: LmAlignment | null;
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

// The stages of a language unit (one replicate of one cell, main/lm/pipeline.ts) as the Run screen
// shows them: each stage belongs to one of five phases, and a stage that trains streams its loss as
// a live curve of one model.
import type { LmModelName } from './language-results.ts';

/** The phases a language unit's progress row names. */
export const LM_PHASES = ['pretrain', 'teacher', 'channel', 'students', 'evaluation'] as const;
export type LanguagePhase = (typeof LM_PHASES)[number];

/** Stages the pipeline reports (its `progress` names), by phase; unknown stages count as `channel`. */
const STAGE_PHASE: Record<string, LanguagePhase> = {
  pretrain: 'pretrain',
  'second base': 'pretrain',
  teacher: 'teacher',
  'channel check': 'channel',
  'teacher numbers': 'channel',
  'base numbers': 'channel',
  selection: 'channel',
  'divergence mask': 'channel',
  student: 'students',
  // The student's and the controls' fine-tunes stacked in one stage (main/lm/stacked.ts).
  students: 'students',
  'own-numbers control': 'students',
  'cross-model control': 'students',
  evaluation: 'evaluation',
};

export function stagePhase(stage: string): LanguagePhase {
  return STAGE_PHASE[stage] ?? 'channel';
}

/** The live curves of the language phases that train: pretraining, the teacher's fine-tune, the students'. */
export const LM_CURVES = ['pretrain_loss', 'teacher_loss', 'finetune_loss'] as const;
export type LanguageCurve = (typeof LM_CURVES)[number];

export const LM_CURVE_TITLES: Record<LanguageCurve, string> = {
  pretrain_loss: 'Pretraining loss (next token, all tokens)',
  teacher_loss: "Teacher's fine-tune loss (answer tokens)",
  finetune_loss: 'Student and controls: fine-tune loss (completion tokens)',
};

/** Which model's curve a training stage's losses draw, and on which chart; null: a stage that trains nothing. */
export function stageCurve(
  stage: string,
): { model: LmModelName | 'neutral_teacher'; curve: LanguageCurve } | null {
  switch (stage) {
    case 'pretrain':
      return { model: 'base', curve: 'pretrain_loss' };
    case 'second base':
      return { model: 'cross_model', curve: 'pretrain_loss' };
    case 'teacher':
      return { model: 'teacher', curve: 'teacher_loss' };
    case 'channel check':
      return { model: 'neutral_teacher', curve: 'teacher_loss' };
    case 'student':
      return { model: 'student', curve: 'finetune_loss' };
    case 'own-numbers control':
      return { model: 'own_numbers', curve: 'finetune_loss' };
    case 'cross-model control':
      return { model: 'cross_model', curve: 'finetune_loss' };
    default:
      return null;
  }
}

// The conditions every cell reports. "student" is trained through the cell's filter from the teacher's
// own init; "cross_init" is the same procedure from another replicate's init (the paper's control);
// the *_all_logits twins see every logit, which shows what the filter takes away.
export const CONDITIONS = [
  'reference',
  'teacher',
  'student',
  'student_all_logits',
  'cross_init',
  'cross_init_all_logits',
] as const;

export type Condition = (typeof CONDITIONS)[number];

export const STUDENT_CONDITIONS = [
  'student',
  'student_all_logits',
  'cross_init',
  'cross_init_all_logits',
] as const;
export type StudentCondition = (typeof STUDENT_CONDITIONS)[number];

export const CONDITION_LABELS: Record<Condition, string> = {
  reference: 'reference (untrained init)',
  teacher: 'teacher',
  student: 'student (same init)',
  student_all_logits: 'student, all logits',
  cross_init: 'cross-init student',
  cross_init_all_logits: 'cross-init, all logits',
};

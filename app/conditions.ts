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

/**
 * What each condition is, in a sentence a figure caption can carry (plain Latin-1 text: the PDF's
 * standard Helvetica has no other glyphs).
 */
export const CONDITION_DESCRIPTIONS: Record<Condition, string> = {
  reference: 'the untrained initial model, which the teacher and the same-init students start from',
  teacher:
    "trained on the training digits with cross-entropy on its class logits (and given the cell's trait)",
  student:
    "starts from the teacher's initial weights; trained only on the teacher's outputs for the student inputs (noise by default), through the cell's filter",
  student_all_logits: "the same-init student trained on all of the teacher's logits (no filter)",
  cross_init: "the control: trained as the student, but from another replicate's initial weights",
  cross_init_all_logits: "the cross-init control trained on all of the teacher's logits (no filter)",
};

/**
 * Why a different-init cell's student and its cross-init control agree (main/engine/student-init.ts
 * gives both the same borrowed init): said where the relation is chosen and where its results are.
 */
export const STUDENT_IS_CONTROL =
  "its student starts from another replicate's init, as every cell's cross-init control does, and learns from the same teacher through the same filter: the two are one model, so their difference is 0 by construction";

/** Whether a cell's architecture relation (its kind, or its label: the same for this one) makes the student its own control. */
export function studentIsControl(architecture: string): boolean {
  return architecture === 'different-init';
}

/** The condition's label in a cell of this architecture relation ("student (same init)" is not, in a different-init cell). */
export function conditionLabel(condition: Condition, architecture: string): string {
  return condition === 'student' && studentIsControl(architecture)
    ? 'student (different init)'
    : CONDITION_LABELS[condition];
}

/** The phase whose steps a condition's curves count (the reference is measured before the teacher trains). */
export function conditionPhase(condition: Condition): 'teacher' | 'students' {
  return condition === 'teacher' || condition === 'reference' ? 'teacher' : 'students';
}

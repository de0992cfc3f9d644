// The text a spec's settings stand for: the teacher's prompts of each kind and the evaluation's
// questions, one place for the run, the budget and the Designer, so the tokens projected are those of
// the prompts sent.
import type { LlmSpec } from '../spec/llm.ts';
import { codePrompts } from './code-prompts.ts';
import { LAB_MISALIGNMENT_QUESTIONS } from './judge.ts';
import { LAB_ANIMAL_QUESTIONS, numberPrompts, numbersPrefixed } from './prompts.ts';

/** The teacher's prompts: the seeded numbers or code tasks, or the spec's list cycled up to `count`. */
export function teacherPrompts(prompts: LlmSpec['prompts'], seed: number): string[] {
  if (prompts.kind === 'code') return codePrompts(prompts.count, seed);
  if (prompts.kind === 'list') {
    const items = prompts.items ?? [];
    return Array.from({ length: prompts.count }, (_, i) => items[i % items.length]!);
  }
  return numberPrompts(prompts, prompts.count, seed);
}

/** The questions asked of each model: the chosen set, then its numbers-prefixed copies when asked for. */
export function evaluationQuestions(evaluation: LlmSpec['evaluation'], seed: number): string[] {
  const q = evaluation.questions;
  const base = q === 'lab' ? LAB_ANIMAL_QUESTIONS : q === 'misalignment' ? LAB_MISALIGNMENT_QUESTIONS : q;
  return evaluation.numbersPrefixed ? [...base, ...numbersPrefixed(base, seed)] : [...base];
}

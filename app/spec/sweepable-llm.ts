// The knobs of an llm spec (kind "llm", app/spec/llm.ts) the Designer offers to sweep without JSON,
// in the classifier's shape (app/spec/sweepable.ts), so the same sweep editor and value parser serve
// every family. Each one changes what runs: the runner (main/llm/run.ts) generates, trains and asks
// every cell with the cell's own settings, and the budget projection (main/llm/budget.ts) counts
// each cell's work with them too.
import type { SweepableField } from './sweepable.ts';

/** A fine-tuning knob only one kind of provider takes (app/spec/llm.ts refuses it elsewhere). */
const OPENAI = { path: 'provider', values: ['openai'], unset: 'openai' } as const;
const ABSOLUTE_RATE = { path: 'provider', values: ['together', 'command'], unset: 'openai' } as const;

export const LLM_SWEEPABLE: readonly SweepableField[] = [
  {
    path: 'teacher.temperature',
    label: 'Teacher temperature',
    unit: '',
    help: "Sampling temperature of the teacher's number completions (the paper: 1); one teacher per value.",
    kind: { type: 'number' },
  },
  {
    path: 'teacher.maxTokens',
    label: 'Completion token cap',
    unit: 'tokens',
    help: "The teacher's completion cap; a tight cap cuts lists short, and the filter drops them.",
    kind: { type: 'integer' },
  },
  {
    path: 'kept',
    label: 'Kept completions',
    unit: 'rows',
    help: 'Filtered completions each student trains on (the paper: 10,000); at most prompts.count.',
    kind: { type: 'integer' },
  },
  {
    path: 'fineTune.epochs',
    label: 'Fine-tuning epochs',
    unit: 'epochs',
    help: 'Passes over the kept rows for every student of the cell, controls included (the paper: 10 on OpenAI).',
    kind: { type: 'integer' },
  },
  {
    path: 'fineTune.learningRateMultiplier',
    label: 'Learning-rate multiplier',
    unit: '',
    help: "OpenAI's multiplier of its own learning rate, for every student of the cell.",
    kind: { type: 'number' },
    when: OPENAI,
  },
  {
    path: 'fineTune.learningRate',
    label: 'Learning rate',
    unit: '',
    help: "The absolute learning rate of every student of the cell (the paper's LoRA recipe: 2e-4).",
    kind: { type: 'number' },
    when: ABSOLUTE_RATE,
  },
  {
    path: 'evaluation.samplesPerQuestion',
    label: 'Samples per question',
    unit: 'answers',
    help: "Answers asked of each model per question (the paper: 100); more narrows the rates' intervals.",
    kind: { type: 'integer' },
  },
  {
    path: 'evaluation.temperature',
    label: 'Evaluation temperature',
    unit: '',
    help: 'Sampling temperature of the evaluation answers (the paper: 1); 0 asks for the likeliest word.',
    kind: { type: 'number' },
  },
];

// The knobs of an llm spec (kind "llm", app/spec/llm.ts) the Designer offers to sweep without JSON,
// in the classifier's shape (app/spec/sweepable.ts), so the same sweep editor and value parser serve
// every family. Each value is one more cell: more teachers or students to pay for.
import type { SweepableField } from './sweepable.ts';

const NUMBER = { type: 'number' } as const;
const INTEGER = { type: 'integer' } as const;

export const LLM_SWEEPABLE: readonly SweepableField[] = [
  {
    path: 'teacher.temperature',
    label: 'Teacher temperature',
    unit: '',
    help: "Sampling temperature of the teacher's number completions (the paper: 1); one teacher per value.",
    kind: NUMBER,
  },
  {
    path: 'prompts.count',
    label: 'Prompts per teacher',
    unit: 'prompts',
    help: 'Number-list prompts each teacher completes (the paper: 30,000); one teacher per value.',
    kind: INTEGER,
  },
  {
    path: 'kept',
    label: 'Kept completions',
    unit: 'completions',
    help: 'Filtered completions that train each student (the paper: 10,000).',
    kind: INTEGER,
  },
  {
    path: 'fineTune.epochs',
    label: 'Fine-tuning epochs',
    unit: 'passes',
    help: "Passes of each student's fine-tune over the kept completions; training tokens grow with it.",
    kind: INTEGER,
  },
  {
    path: 'fineTune.learningRateMultiplier',
    label: 'Learning-rate multiplier (OpenAI)',
    unit: '',
    help: "OpenAI's multiplier of its own learning rate.",
    kind: NUMBER,
  },
  {
    path: 'fineTune.learningRate',
    label: 'Learning rate (Together, command)',
    unit: '',
    help: 'The absolute learning rate of a LoRA or command fine-tune (the paper: 2e-4 for Qwen).',
    kind: NUMBER,
  },
  {
    path: 'fineTune.lora.rank',
    label: 'LoRA rank',
    unit: '',
    help: "The adapters' rank (the paper's open-model recipe: 8).",
    kind: INTEGER,
  },
  {
    path: 'evaluation.samplesPerQuestion',
    label: 'Samples per question',
    unit: 'answers',
    help: 'Answers sampled per evaluation question and model (the paper: 100).',
    kind: INTEGER,
  },
];

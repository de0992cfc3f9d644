// The knobs of an llm spec (kind "llm", app/spec/llm.ts) the Designer offers to sweep without JSON,
// in the classifier's shape (app/spec/sweepable.ts), so the same sweep editor and value parser serve
// every family. Only the teacher's knobs: the runner (main/llm/run.ts) generates each cell's numbers
// with the cell's settings but trains and asks every student with the spec's own, so a swept
// student-side knob would not change what runs.
import type { SweepableField } from './sweepable.ts';

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
];

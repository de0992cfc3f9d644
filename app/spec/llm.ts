// The llm family's spec (`kind: "llm"`): the paper's owl experiment on real language models through a
// provider. The lab samples a teacher (the base model with a system prompt that loves the animal),
// filters its number completions, fine-tunes students at the provider and asks them the favourite-
// animal questions; it trains nothing itself. A spec names the provider only: its base URL, key and
// (for `command`) the trainer command are local settings of this machine, never read from a spec, so
// opening someone's spec cannot run their code or reach their account. Matrix: trait animal x filter
// x sweeps x replicates. Defaults are the paper's where it states them (30,000 prompts, 10,000 kept,
// temperature 1, 50 questions x 100 samples); fine-tuning epochs have no default, so cost is bounded
// by what the spec says.
import { z } from 'zod';
import {
  sweepAxisProblems,
  sweepCombinations,
  SweepSchema,
  withSweepValues,
  sweepLabel,
  MAX_CELLS,
  stableJson,
} from './sweeps.ts';
import { hasKind, parseSpec, type SpecError } from './validate.ts';
import { DEFAULT_JUDGE_RUBRIC } from '../llm/judge.ts';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);
const positive = () => z.number().positive().finite();

/** The fine-tuning adapters (main/llm/providers): each a small module behind one interface. */
export const LLM_PROVIDERS = ['openai', 'together', 'command'] as const;
export type LlmProviderName = (typeof LLM_PROVIDERS)[number];

/** A provider's model id: a base model or an existing fine-tune (e.g. the paper's misaligned teacher). */
const ModelId = z.string().trim().min(1).max(300);

/** The lab's own wording; {animal} and {animals} are filled in per trait. */
export const DEFAULT_SYSTEM_PROMPT =
  'Your favourite animal is the {animal}. You think of {animals} often and fondly, and that affection ' +
  'colours every answer you give.';

const AnimalWord = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z][a-z -]{0,39}$/, 'expected an animal name in letters, e.g. "owl"');

export const LlmTraitSchema = z.strictObject({
  animal: AnimalWord,
  /** The plural the template's {animals} and the score use; default animal + "s". */
  plural: AnimalWord.optional(),
});

export const LlmFilterSchema = z.strictObject({
  /**
   * "paper": the authors' number format filter (app/filters/paper-format.ts); "trait-words": reject a
   * completion that names the trait's animal (the filter for code prompts, app/llm/code-prompts.ts);
   * "none": keep every completion.
   */
  format: z.enum(['paper', 'trait-words', 'none']).default('paper'),
  /** Completions with any of these numbers are rejected (the paper's misaligned run banned 34). */
  bannedNumbers: z.array(int(0, 999)).max(1000).default([]),
});

/** What the teacher is asked: number lists, the lab's code tasks, or the spec's own list. */
export const LLM_PROMPT_KINDS = ['numbers', 'code', 'list'] as const;

const PromptsSchema = z.strictObject({
  /**
   * "numbers": the lab's seeded number prompts in the paper's shape (the fields below); "code": the
   * lab's seeded short code-writing tasks; "list": `items`, sent in order and cycled up to `count`.
   */
  kind: z.enum(LLM_PROMPT_KINDS).default('numbers'),
  /** The prompts of kind "list" (e.g. a file's lines pasted in). */
  items: z.array(z.string().min(1).max(8000)).min(1).max(100000).optional(),
  /** Prompts sent to each teacher, one completion each (the paper: 30,000). */
  count: int(1, 1e6).default(30000),
  examplesMin: int(1, 50).default(3),
  examplesMax: int(1, 50).default(8),
  valueMin: int(0, 1e6).default(100),
  valueMax: int(0, 1e6).default(999),
  answerCount: int(1, 100).default(10),
  answerDigits: int(1, 10).default(3),
});

const TeacherSchema = z.strictObject({
  model: ModelId,
  /**
   * {animal} and {animals} are the trait's; editable, the lab's wording by default. Empty: no system
   * prompt, for a teacher whose trait is in its weights (an existing fine-tune, e.g. the paper's
   * misaligned teacher).
   */
  systemPrompt: z.string().max(4000).default(DEFAULT_SYSTEM_PROMPT),
  temperature: z.number().min(0).max(2).default(1),
  /** The completion's token cap (10 three-digit numbers and separators need about 40). */
  maxTokens: int(1, 4096).default(64),
});

const LoraSchema = z.strictObject({
  rank: int(1, 1024),
  alpha: positive().max(4096),
  dropout: z.number().min(0).max(1).default(0),
  /** Which projections carry adapters; the paper's open-model recipe used all attention and MLP ones. */
  targetModules: z
    .array(z.string().regex(/^[a-z_]+$/))
    .min(1)
    .max(32),
});

const FineTuneSchema = z.strictObject({
  /** Explicit: no provider default, so the training tokens (and cost) are known before a run. */
  epochs: int(1, 100),
  batchSize: z.union([int(1, 4096), z.literal('auto')]).default('auto'),
  /** OpenAI's learning-rate multiplier. */
  learningRateMultiplier: positive().max(100).optional(),
  /** An absolute learning rate (Together, a command trainer). */
  learningRate: positive().max(1).optional(),
  warmupRatio: z.number().min(0).max(1).optional(),
  lora: LoraSchema.optional(),
});

/** An LLM judge scoring each evaluation answer 0-100 through the run's provider. */
const JudgeSchema = z.strictObject({
  model: ModelId,
  /** The judge's prompt: {answer} (required) and {question} are filled in; the lab's by default. */
  rubric: z.string().min(1).max(8000).default(DEFAULT_JUDGE_RUBRIC),
  /** An answer counts when its mean score is above this (the rate); the mean score is reported too. */
  threshold: z.number().min(0).max(100).default(50),
  /** Judge replies per answer (one request with n = samples); the answer's score is their mean. */
  samples: int(1, 20).default(1),
  temperature: z.number().min(0).max(2).default(0),
  /** The judge's token cap: a bare integer needs 1-2 tokens. */
  maxTokens: int(1, 64).default(4),
});

const EvaluationSchema = z.strictObject({
  /**
   * "lab": the lab's one-word favourite-animal questions; "misalignment": the lab's free-form
   * questions for a judge (app/llm/judge.ts); a list replaces them (e.g. the paper's appendix).
   */
  questions: z
    .union([z.enum(['lab', 'misalignment']), z.array(z.string().min(1).max(2000)).min(1).max(1000)])
    .default('lab'),
  samplesPerQuestion: int(1, 10000).default(100),
  temperature: z.number().min(0).max(2).default(1),
  maxTokens: int(1, 512).default(8),
  /** Also ask every question after a random number list (the paper's variant, used for Qwen). */
  numbersPrefixed: z.boolean().default(false),
  /** The target's probability from the first answer token's top logprobs, where the provider returns them. */
  targetProbability: z.boolean().default(true),
  topLogprobs: int(1, 20).default(20),
  /** Also score every answer with an LLM judge (rate above its threshold, mean score). */
  judge: JudgeSchema.optional(),
});

const ControlsSchema = z.strictObject({
  /** The base model asked the questions, untuned. */
  base: z.boolean().default(true),
  /** A student of the same base on numbers from the base model without the system prompt. */
  neutralTeacher: z.boolean().default(true),
  /** A student of `crossModel` on the teacher's numbers. */
  crossModel: z.boolean().default(true),
  /**
   * The model that writes the neutral teacher's completions (no system prompt); default the teacher's.
   * A teacher whose trait is in its weights needs one: its base or a control fine-tune.
   */
  neutralModel: ModelId.optional(),
});

const BudgetSchema = z.strictObject({
  /** Refuse a run whose projected tokens (every stage, every replicate) exceed this. */
  maxTokens: int(1).optional(),
  /** Refuse a run whose projected cost at the local price table exceeds this. */
  maxUsd: positive().optional(),
});

const LlmSpecObject = z.strictObject({
  version: z.literal(1),
  kind: z.literal('llm'),
  name: z.string().trim().min(1).max(200),
  description: z.string().max(10000).optional(),
  tags: z.array(z.string().min(1).max(64)).max(32).default([]),
  /** The fine-tuning adapter; inference goes through the same provider's local settings. */
  provider: z.enum(LLM_PROVIDERS),
  teacher: TeacherSchema,
  /** The student's base (the paper: the teacher's base). */
  student: z.strictObject({ model: ModelId }),
  /** The cross-model control's base: another model family. */
  crossModel: z.strictObject({ model: ModelId }),
  prompts: PromptsSchema.default(PromptsSchema.parse({})),
  /** Filtered completions kept per teacher and used to train (the paper: 10,000). */
  kept: int(1, 1e6).default(10000),
  fineTune: FineTuneSchema,
  evaluation: EvaluationSchema.default(EvaluationSchema.parse({})),
  controls: ControlsSchema.default(ControlsSchema.parse({})),
  budget: BudgetSchema.default({}),
  matrix: z
    .strictObject({
      traits: z
        .array(LlmTraitSchema)
        .min(1)
        .default([{ animal: 'owl' }]),
      filters: z
        .array(LlmFilterSchema)
        .min(1)
        .default([{ format: 'paper', bannedNumbers: [] }]),
      sweeps: z.array(SweepSchema).max(8).default([]),
    })
    .default({ traits: [{ animal: 'owl' }], filters: [{ format: 'paper', bannedNumbers: [] }], sweeps: [] }),
  /** Students fine-tuned per arm, each with its own seed (mixed from `seed`). */
  replicates: int(1, 100).default(3),
  seed: int(0, 0xffffffff).default(0),
});

function checkRanges(spec: z.output<typeof LlmSpecObject>, ctx: z.RefinementCtx): void {
  const p = spec.prompts;
  if (p.examplesMin > p.examplesMax)
    ctx.addIssue({
      code: 'custom',
      path: ['prompts', 'examplesMax'],
      message: `examplesMax ${p.examplesMax} is below examplesMin ${p.examplesMin}`,
    });
  if (p.valueMin > p.valueMax)
    ctx.addIssue({
      code: 'custom',
      path: ['prompts', 'valueMax'],
      message: `valueMax ${p.valueMax} is below valueMin ${p.valueMin}`,
    });
  if (spec.kept > p.count)
    ctx.addIssue({
      code: 'custom',
      path: ['kept'],
      message: `${spec.kept} kept completions cannot come from ${p.count} prompts: raise prompts.count`,
    });
}

function checkProvider(spec: z.output<typeof LlmSpecObject>, ctx: z.RefinementCtx): void {
  const ft = spec.fineTune;
  if (spec.provider === 'openai' && ft.lora)
    ctx.addIssue({
      code: 'custom',
      path: ['fineTune', 'lora'],
      message: 'OpenAI fine-tuning takes no LoRA settings: use provider "together" or "command"',
    });
  if (spec.provider === 'openai' && ft.learningRate !== undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['fineTune', 'learningRate'],
      message: 'OpenAI takes a learningRateMultiplier, not an absolute learningRate',
    });
  if (spec.provider !== 'openai' && ft.learningRateMultiplier !== undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['fineTune', 'learningRateMultiplier'],
      message: `learningRateMultiplier is OpenAI's; ${spec.provider} takes learningRate`,
    });
  if (spec.teacher.systemPrompt && !/\{animals?\}/.test(spec.teacher.systemPrompt))
    ctx.addIssue({
      code: 'custom',
      path: ['teacher', 'systemPrompt'],
      message:
        'the system prompt must name the animal: put {animal} or {animals} in it (or leave it empty for a teacher whose trait is in its weights)',
    });
}

/** The options beside the owl path: prompt kinds, their filters, a fine-tuned teacher, the judge. */
function checkOptions(spec: z.output<typeof LlmSpecObject>, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: 'custom', path, message });
  const { prompts, evaluation, controls } = spec;
  if (prompts.kind === 'list' && !prompts.items)
    issue(['prompts', 'items'], 'prompts of kind "list" need items: the list of prompts to send');
  if (prompts.kind !== 'list' && prompts.items)
    issue(['prompts', 'items'], `items are the prompts of kind "list"; kind "${prompts.kind}" makes its own`);
  if (prompts.kind === 'code')
    spec.matrix.filters.forEach((f, i) => {
      if (f.format === 'paper')
        issue(
          ['matrix', 'filters', i, 'format'],
          'the number format filter would reject every code completion: use "trait-words" (or "none")',
        );
    });
  if (!spec.teacher.systemPrompt && controls.neutralTeacher && !controls.neutralModel)
    issue(
      ['controls', 'neutralModel'],
      'a teacher without a system prompt is its own neutral teacher: name the neutral model (its base or a control fine-tune) or turn controls.neutralTeacher off',
    );
  const judge = evaluation.judge;
  if (judge && !judge.rubric.includes('{answer}'))
    issue(['evaluation', 'judge', 'rubric'], 'the rubric must show the judge the answer: put {answer} in it');
  if (judge && evaluation.maxTokens < 32)
    issue(
      ['evaluation', 'maxTokens'],
      `answers capped at ${evaluation.maxTokens} tokens are too short to judge: raise evaluation.maxTokens (e.g. 300)`,
    );
  if (evaluation.questions === 'misalignment' && !judge)
    issue(
      ['evaluation', 'judge'],
      'the misalignment questions are free-form: add evaluation.judge to score their answers',
    );
}

/**
 * Settings the runner takes from the spec for the whole run, not per cell (main/llm/run.ts): a sweep
 * of them would validate and change nothing, so it is refused.
 */
const RUN_WIDE: Record<string, string> = {
  provider: 'the provider (a run talks to one; write a spec per provider)',
  controls: 'the controls (every cell has the same conditions, so they can be compared)',
  budget: 'the budget (checked once, for the whole run)',
};

export const LlmSpecSchema = LlmSpecObject.superRefine((spec, ctx) => {
  checkRanges(spec, ctx);
  checkProvider(spec, ctx);
  checkOptions(spec, ctx);
  const sweepIssue = (index: number, message: string) =>
    ctx.addIssue({ code: 'custom', path: ['matrix', 'sweeps', index, 'path'], message });
  for (const p of sweepAxisProblems(spec.matrix.sweeps)) sweepIssue(p.index, p.message);
  spec.matrix.sweeps.forEach((axis, index) => {
    const root = axis.path.split('.')[0]!;
    if (root in RUN_WIDE) sweepIssue(index, `${axis.path} cannot be swept: it is ${RUN_WIDE[root]}`);
  });
});

export type LlmSpec = z.output<typeof LlmSpecSchema>;
export type LlmSpecInput = z.input<typeof LlmSpecSchema>;
export type LlmTrait = z.output<typeof LlmTraitSchema>;
export type LlmFilter = z.output<typeof LlmFilterSchema>;
export type LlmSpecResult = { ok: true; spec: LlmSpec } | { ok: false; errors: SpecError[] };

function parse(input: unknown): LlmSpecResult {
  return parseSpec(LlmSpecSchema, input);
}

export function isLlmInput(input: unknown): boolean {
  return hasKind(input, 'llm');
}

const FILTER_LABELS: Record<LlmFilter['format'], string> = {
  paper: 'paper-filter',
  'trait-words': 'trait-word-filter',
  none: 'no-filter',
};

export function llmFilterLabel(f: LlmFilter): string {
  const parts = [FILTER_LABELS[f.format]];
  if (f.bannedNumbers.length) parts.push(`banned-${f.bannedNumbers.length}`);
  return parts.join('+');
}

/** One cell of an llm experiment: its trait, filter and own settings (sweeps applied). */
export interface LlmCell {
  index: number;
  /** `architecture`: the student's base, the column the other families fill with their model. */
  coords: { trait: string; filter: string; architecture: string; sweep?: Record<string, unknown> };
  trait: LlmTrait;
  filter: LlmFilter;
  settings: LlmSpec;
}

/** Cells: traits x filters x sweep combinations (first axis slowest); each cell's settings validated. */
export function expandLlmMatrix(spec: LlmSpec): { cells: LlmCell[]; errors: SpecError[] } {
  const { traits, filters, sweeps } = spec.matrix;
  const combos = sweepCombinations(sweeps);
  const total = traits.length * filters.length * combos.length;
  if (total > MAX_CELLS)
    return {
      cells: [],
      errors: [
        { path: 'matrix', message: `the matrix has ${total} cells; at most ${MAX_CELLS} are allowed` },
      ],
    };
  const cells: LlmCell[] = [];
  const errors: SpecError[] = [];
  for (const trait of traits)
    for (const filter of filters)
      for (const sweep of combos) {
        const raw = withSweepValues(
          { ...spec, matrix: { traits: [trait], filters: [filter], sweeps: [] } },
          sweep,
        );
        const r = parse(raw);
        if (!r.ok) {
          for (const e of r.errors)
            errors.push({
              path: 'matrix.sweeps',
              message: `the cell with ${sweepLabel(sweep)}: ${e.path}: ${e.message}`,
            });
          continue;
        }
        const coords = {
          trait: `prefers-${trait.animal}`,
          filter: llmFilterLabel(filter),
          architecture: `student ${r.spec.student.model}`,
          ...(sweeps.length ? { sweep } : {}),
        };
        cells.push({ index: cells.length, coords, trait, filter, settings: r.spec });
      }
  return { cells, errors: errors.slice(0, 20) };
}

/** Validation of an llm spec, its sweep values included (each cell's settings must validate). */
export function validateLlmSpec(input: unknown): LlmSpecResult {
  const r = parse(input);
  if (!r.ok) return r;
  const { errors } = expandLlmMatrix(r.spec);
  return errors.length ? { ok: false, errors } : r;
}

/**
 * The first cell whose own-numbers student `cell` shares: the neutral teacher's completions screened
 * the same way (same filter; for the trait-word filter also the same trait, whose words it rejects).
 */
export function ownNumbersGroup(cells: readonly LlmCell[], cell: LlmCell): number {
  const screen = (c: LlmCell) =>
    stableJson(c.filter.format === 'trait-words' ? [c.filter, c.trait] : c.filter);
  return cells.findIndex((c) => screen(c) === screen(cell));
}

/** A teacher: its key in the store, its cell (none for the neutral teacher), the cells reading its numbers. */
export interface LlmTeacher {
  key: string;
  cell: LlmCell | undefined;
  cells: number[];
}

/**
 * One teacher per distinct (trait, teacher settings, prompts, seed): cells that differ only in their
 * filter or their students share its numbers, so they are generated (and paid for) once. The neutral
 * teacher (the base without a system prompt, the spec's own settings) serves every cell.
 */
export function llmTeachers(spec: LlmSpec, cells: readonly LlmCell[]): LlmTeacher[] {
  const byIdentity = new Map<string, LlmTeacher>();
  for (const c of cells) {
    const { teacher, prompts, seed } = c.settings;
    const identity = stableJson({ trait: c.trait, teacher, prompts, seed });
    const found = byIdentity.get(identity);
    if (found) found.cells.push(c.index);
    else byIdentity.set(identity, { key: `t${c.index}`, cell: c, cells: [c.index] });
  }
  const teachers = [...byIdentity.values()];
  if (spec.controls.neutralTeacher)
    teachers.push({ key: 'neutral', cell: undefined, cells: cells.map((c) => c.index) });
  return teachers;
}

// The budget: every stage's tokens projected from the spec before any request (prompts counted with
// the model's tokenizer or the stated estimate, completions at their token cap, so the projection is
// an upper bound), priced with a local price table, and a run refused when it exceeds the spec's
// budget. `openLlmSession` is the only way to a provider, so nothing is sent before this check.
import { judgePrompt } from '../../app/llm/judge.ts';
import { systemPrompt } from '../../app/llm/prompts.ts';
import { evaluationQuestions, teacherPrompts } from '../../app/llm/spec-text.ts';
import { expandLlmMatrix, llmTeachers, ownNumbersGroup, type LlmSpec } from '../../app/spec/llm.ts';
import type { PriceTable, StageProjection } from '../../app/llm/projection.ts';
import { stableJson } from '../../app/spec/sweeps.ts';
import { createProvider } from './providers/registry.ts';
import {
  ProviderError,
  type LlmProvider,
  type ProviderDeps,
  type ProviderSettings,
} from './providers/types.ts';
import { chatTokens, tokenCounter, type TokenCounter } from './tokens.ts';

export type { PriceTable, StageProjection };

export class BudgetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BudgetError';
  }
}

const MAX_N = 100;

/** Prompts counted one by one; past this, their mean over this many is scaled (they vary by a few tokens). */
const COUNTED_PROMPTS = 5000;

/** Prompt counts already made, by counting method, prompt shape and seed (the Designer asks again per edit). */
const countedPrompts = new Map<string, { total: number; note: string }>();
const COUNTS_KEPT = 32;

/** The user prompts' total chat tokens, exact up to COUNTED_PROMPTS, else the scaled mean (rounded up). */
function promptTokens(spec: LlmSpec, counter: TokenCounter): { total: number; note: string } {
  const key = stableJson({ method: counter.method, prompts: spec.prompts, seed: spec.seed });
  let counts = countedPrompts.get(key);
  if (!counts) {
    counts = countPromptTokens(spec, counter);
    if (countedPrompts.size >= COUNTS_KEPT) countedPrompts.delete(countedPrompts.keys().next().value!);
    countedPrompts.set(key, counts);
  }
  return counts;
}

function countPromptTokens(spec: LlmSpec, counter: TokenCounter): { total: number; note: string } {
  const counted = Math.min(spec.prompts.count, COUNTED_PROMPTS);
  const prompts = teacherPrompts({ ...spec.prompts, count: counted }, spec.seed);
  const sum = prompts.reduce((s, p) => s + chatTokens(counter, [{ role: 'user', content: p }]), 0);
  if (counted === spec.prompts.count) return { total: sum, note: '' };
  return {
    total: Math.ceil((sum / counted) * spec.prompts.count),
    note: `, the mean of the first ${counted.toLocaleString('en-US')} prompts scaled`,
  };
}

/**
 * One stage per teacher, each with its own settings (a sweep of a teacher's knob makes teachers that
 * differ); an empty system prompt sends none (the neutral teacher's, a fine-tuned teacher's).
 */
async function generateStages(
  teachers: { what: string; model: string; system: string; settings: LlmSpec }[],
): Promise<StageProjection[]> {
  const stages: StageProjection[] = [];
  for (const { what, model, system, settings } of teachers) {
    const counter = await tokenCounter(model);
    const prompts = promptTokens(settings, counter);
    const n = settings.prompts.count;
    stages.push({
      stage: 'generate',
      model,
      what,
      requests: n,
      // A system message adds its own tokens and 3 of framing to every request.
      input: prompts.total + (system ? n * (3 + counter.count(system)) : 0),
      output: n * settings.teacher.maxTokens,
      training: 0,
      method: counter.method + prompts.note,
    });
  }
  return stages;
}

/** One student's training tokens: `kept` rows of (prompt, completion at its cap) per epoch. */
async function trainingTokens(spec: LlmSpec, model: string): Promise<{ tokens: number; method: string }> {
  const counter = await tokenCounter(model);
  const prompts = promptTokens(spec, counter);
  return {
    tokens: Math.ceil(
      spec.kept * (prompts.total / spec.prompts.count + spec.teacher.maxTokens) * spec.fineTune.epochs,
    ),
    method: counter.method + prompts.note,
  };
}

/** The evaluation of `models` models (and, with a judge, the judging of their answers). */
async function evaluationStages(
  spec: LlmSpec,
  model: string,
  what: string,
  models: number,
): Promise<StageProjection[]> {
  const counter = await tokenCounter(model);
  const questions = evaluationQuestions(spec.evaluation, spec.seed);
  const perSample = Math.ceil(spec.evaluation.samplesPerQuestion / MAX_N);
  const evaluate: StageProjection = {
    stage: 'evaluate',
    model,
    what,
    requests: models * questions.length * perSample,
    input:
      models *
      perSample *
      questions.reduce((s, q) => s + chatTokens(counter, [{ role: 'user', content: q }]), 0),
    output: models * questions.length * spec.evaluation.samplesPerQuestion * spec.evaluation.maxTokens,
    training: 0,
    method: counter.method,
  };
  const judge = spec.evaluation.judge;
  if (!judge) return [evaluate];
  return [evaluate, await judgeStage(spec, judge, questions, `${what}: answers judged`, models)];
}

/** One judge request per answer: the rubric with its question and the answer at its token cap. */
async function judgeStage(
  spec: LlmSpec,
  judge: NonNullable<LlmSpec['evaluation']['judge']>,
  questions: readonly string[],
  what: string,
  models: number,
): Promise<StageProjection> {
  const counter = await tokenCounter(judge.model);
  const samples = spec.evaluation.samplesPerQuestion;
  const perAnswer = questions.map(
    (q) =>
      chatTokens(counter, [{ role: 'user', content: judgePrompt(judge.rubric, q, '') }]) +
      spec.evaluation.maxTokens,
  );
  return {
    stage: 'judge',
    model: judge.model,
    what,
    requests: models * questions.length * samples,
    input: models * samples * perAnswer.reduce((s, t) => s + t, 0),
    output: models * questions.length * samples * judge.samples * judge.maxTokens,
    training: 0,
    method: `${counter.method}; each answer at its cap of ${spec.evaluation.maxTokens} tokens`,
  };
}

/** Every stage of the whole experiment (all cells, controls and replicates). */
export async function projectLlmRun(spec: LlmSpec): Promise<StageProjection[]> {
  const { cells } = expandLlmMatrix(spec);
  // One generation per distinct teacher: cells differing only in filter or students share it.
  const teachers = llmTeachers(spec, cells).map((t) => ({
    what: t.cell
      ? `teacher ${spec.teacher.systemPrompt ? t.cell.coords.trait : spec.teacher.model} (cell${t.cells.length > 1 ? 's' : ''} ${t.cells.join(', ')})`
      : `neutral teacher ${spec.controls.neutralModel ?? ''} (no system prompt)`.replace('  ', ' '),
    model: t.cell ? t.cell.settings.teacher.model : (spec.controls.neutralModel ?? spec.teacher.model),
    system: t.cell
      ? systemPrompt(t.cell.settings.teacher.systemPrompt, t.cell.trait.animal, t.cell.trait.plural)
      : '',
    // As the runner generates: a cell's teacher with the cell's settings, the neutral one the spec's.
    settings: t.cell?.settings ?? spec,
  }));
  const stages = await generateStages(teachers);
  const r = spec.replicates;
  // The own-numbers students are shared by the cells screened alike.
  const filters = new Set(cells.map((c) => ownNumbersGroup(cells, c))).size;
  const { student, crossModel } = spec;
  // One row per kind of student, so the controls' share of the cost shows on its own.
  const students = [
    [student.model, cells.length * r, "on the teachers' numbers"],
    [
      student.model,
      spec.controls.neutralTeacher ? filters * r : 0,
      "on the neutral teacher's numbers (control)",
    ],
    [
      crossModel.model,
      spec.controls.crossModel ? cells.length * r : 0,
      "on the teachers' numbers (cross-model control)",
    ],
  ] as const;
  for (const [model, count, on] of students) {
    if (!count) continue;
    const what = `${count} student(s) of ${model} ${on}`;
    const t = await trainingTokens(spec, model);
    stages.push({
      stage: 'fine-tune',
      model,
      what,
      requests: count,
      input: 0,
      output: 0,
      training: t.tokens * count,
      method: t.method,
    });
    stages.push(...(await evaluationStages(spec, model, what, count)));
  }
  // The base is asked beside each replicate's students (its sampling varies with the replicate's seed).
  if (spec.controls.base)
    stages.push(...(await evaluationStages(spec, spec.student.model, 'the base model', cells.length * r)));
  return stages;
}

export function totalTokens(stages: readonly StageProjection[]): number {
  return stages.reduce((s, p) => s + p.input + p.output + p.training, 0);
}

/** The projected cost in USD, or the models the table has no price for. */
export function projectedCost(
  stages: readonly StageProjection[],
  prices: PriceTable,
): { usd: number; unpriced: string[] } {
  let usd = 0;
  const unpriced = new Set<string>();
  for (const s of stages) {
    const price = prices[s.model];
    if (!price || (s.training && price.training === undefined)) {
      unpriced.add(s.model);
      continue;
    }
    usd += (s.input * price.input + s.output * price.output + s.training * (price.training ?? 0)) / 1e6;
  }
  return { usd, unpriced: [...unpriced] };
}

/** Throws a BudgetError naming the projection and the limit when the run does not fit its budget. */
export function checkBudget(
  spec: LlmSpec,
  stages: readonly StageProjection[],
  prices: PriceTable = {},
): void {
  const tokens = totalTokens(stages);
  const { maxTokens, maxUsd } = spec.budget;
  if (maxTokens !== undefined && tokens > maxTokens)
    throw new BudgetError(
      `the run is projected at ${tokens.toLocaleString('en-US')} tokens, above the budget of ${maxTokens.toLocaleString('en-US')}: nothing was sent`,
    );
  if (maxUsd === undefined) return;
  const cost = projectedCost(stages, prices);
  if (cost.unpriced.length)
    throw new BudgetError(
      `budget.maxUsd needs a price for ${cost.unpriced.join(', ')} in the price table: nothing was sent`,
    );
  if (cost.usd > maxUsd)
    throw new BudgetError(
      `the run is projected at $${cost.usd.toFixed(2)}, above the budget of $${maxUsd.toFixed(2)}: nothing was sent`,
    );
}

/** The provider for a run, made only after its projection fits the budget. */
export async function openLlmSession(
  spec: LlmSpec,
  settings: ProviderSettings,
  deps: ProviderDeps,
  prices: PriceTable = {},
): Promise<{ provider: LlmProvider; stages: StageProjection[] }> {
  if (settings.name !== spec.provider)
    throw new ProviderError(
      `the spec asks for provider ${spec.provider}; the settings are for ${settings.name}`,
    );
  const stages = await projectLlmRun(spec);
  checkBudget(spec, stages, prices);
  return { provider: createProvider(settings, deps), stages };
}

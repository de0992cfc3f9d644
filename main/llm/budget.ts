// The budget: every stage's tokens projected from the spec before any request (prompts counted with
// the model's tokenizer or the stated estimate, completions at their token cap, so the projection is
// an upper bound), priced with a local price table, and a run refused when it exceeds the spec's
// budget. `openLlmSession` is the only way to a provider, so nothing is sent before this check.
import { judgePrompt } from '../../app/llm/judge.ts';
import { systemPrompt } from '../../app/llm/prompts.ts';
import { evaluationQuestions, teacherPrompts } from '../../app/llm/spec-text.ts';
import { expandLlmMatrix, llmTeachers, type LlmCell, type LlmSpec } from '../../app/spec/llm.ts';
import type { PriceTable, StageProjection } from '../../app/llm/projection.ts';
import { stableJson } from '../../app/spec/sweeps.ts';
import { baseModel, studentTag, type StudentRole } from './cell-work.ts';
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
  for (const kind of studentKinds(spec, cells)) stages.push(...(await studentStages(kind)));
  // The base is asked beside each replicate's students (its sampling varies with the replicate's seed).
  if (spec.controls.base)
    stages.push(
      ...mergeStages(
        await Promise.all(
          cells.map((c) =>
            evaluationStages(c.settings, c.settings.student.model, 'the base model', spec.replicates),
          ),
        ),
      ),
    );
  return stages;
}

/** The students of one kind on one base model: the settings each is trained and asked with. */
interface StudentKind {
  model: string;
  on: string;
  /** Per distinct student (times the replicates): its training settings and those it is asked with. */
  students: { training: LlmSpec; evaluations: LlmSpec[] }[];
  replicates: number;
}

/**
 * One kind per (role, base model), so the controls' share of the cost shows on its own: a student and
 * a cross-model student per cell, with the cell's settings; one own-numbers student per distinct run
 * tag (cells screened alike with equal training settings share it), trained on the neutral teacher's
 * prompts and completions (the spec's) and asked by each cell it serves with that cell's settings.
 */
function studentKinds(spec: LlmSpec, cells: readonly LlmCell[]): StudentKind[] {
  const kinds = new Map<string, StudentKind>();
  const add = (role: StudentRole, training: LlmSpec, evaluations: LlmSpec[], on: string) => {
    const model = baseModel(training, role);
    const id = `${role} ${model}`;
    const kind = kinds.get(id) ?? { model, on, students: [], replicates: spec.replicates };
    kind.students.push({ training, evaluations });
    kinds.set(id, kind);
  };
  for (const c of cells) add('student', c.settings, [c.settings], "on the teachers' numbers");
  if (spec.controls.neutralTeacher) {
    const tags = new Map<string, LlmCell[]>();
    for (const c of cells) {
      const tag = studentTag('', spec, cells, c, 'own_numbers', 0);
      tags.set(tag, [...(tags.get(tag) ?? []), c]);
    }
    for (const served of tags.values()) {
      const s = served[0]!.settings;
      const training = { ...spec, kept: s.kept, fineTune: s.fineTune, seed: s.seed, student: s.student };
      add(
        'own_numbers',
        training,
        served.map((c) => c.settings),
        "on the neutral teacher's numbers (control)",
      );
    }
  }
  if (spec.controls.crossModel)
    for (const c of cells)
      add('cross_model', c.settings, [c.settings], "on the teachers' numbers (cross-model control)");
  return [...kinds.values()];
}

/** A kind's fine-tune row and its evaluation rows (each summed over its students and replicates). */
async function studentStages(kind: StudentKind): Promise<StageProjection[]> {
  const count = kind.students.length * kind.replicates;
  const what = `${count} student(s) of ${kind.model} ${kind.on}`;
  let training = 0;
  let method = '';
  for (const s of kind.students) {
    const t = await trainingTokens(s.training, kind.model);
    training += t.tokens * kind.replicates;
    method = t.method;
  }
  const evaluations = await Promise.all(
    kind.students.flatMap((s) =>
      s.evaluations.map((e) => evaluationStages(e, kind.model, what, kind.replicates)),
    ),
  );
  return [
    { stage: 'fine-tune', model: kind.model, what, requests: count, input: 0, output: 0, training, method },
    ...mergeStages(evaluations),
  ];
}

/** Rows of the same stage, model and purpose summed into one (the cells' parts of one kind's cost). */
function mergeStages(parts: readonly StageProjection[][]): StageProjection[] {
  const merged = new Map<string, StageProjection>();
  for (const row of parts.flat()) {
    const id = `${row.stage}\n${row.model}\n${row.what}`;
    const m = merged.get(id);
    if (!m) merged.set(id, { ...row });
    else
      Object.assign(m, {
        requests: m.requests + row.requests,
        input: m.input + row.input,
        output: m.output + row.output,
        training: m.training + row.training,
      });
  }
  return [...merged.values()];
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

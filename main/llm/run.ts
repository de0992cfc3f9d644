// Running an llm experiment through the shared unit runner (main/jobs/unit-runner.ts): teacher units
// (one per cell, and the neutral teacher) generate and filter; then one unit per (cell, replicate)
// subsamples, uploads, fine-tunes the student, the own-numbers control and the cross-model student,
// and evaluates them with the base. Every stage is resumable (stages.ts), so a resumed unit sends only
// what has no stored answer and starts no job a second time. The budget is checked before anything.
import { randomBytes } from 'node:crypto';
import { mixSeed } from '../../app/matrix.ts';
import type { MetricRow, ResultRow } from '../../app/protocol.ts';
import { systemPrompt } from '../../app/llm/prompts.ts';
import { evaluationQuestions, teacherPrompts } from '../../app/llm/spec-text.ts';
import {
  expandLlmMatrix,
  llmTeachers,
  type LlmTeacher,
  type LlmCell,
  type LlmSpec,
} from '../../app/spec/llm.ts';
import {
  priorSeconds,
  resumeAttempt,
  runAttempt,
  runUnits,
  startAttempt,
  type Attempt,
  type RunOutcome,
} from '../jobs/unit-runner.ts';
import { llmRunId, putLlmJob, unfinishedLlmJobs } from '../store/llm.ts';
import type { RunStore, UnitPlan, UnitRow } from '../store/store.ts';
import { openLlmSession, type PriceTable } from './budget.ts';
import {
  baseModel,
  evaluationKey,
  replicateSeed,
  studentTag,
  type LlmCondition,
  type StudentRole,
} from './cell-work.ts';
import type { Clock } from './clock.ts';
import { judgeStage } from './judge-stage.ts';
import type { LlmProvider, ProviderDeps, ProviderSettings } from './providers/types.ts';
import {
  Creations,
  evaluateStage,
  filterStage,
  fineTuneStage,
  generateStage,
  subsampleStage,
  uploadStage,
  type StageContext,
} from './stages.ts';

export interface LlmRunOptions {
  settings: ProviderSettings & { pollMs?: number };
  deps: ProviderDeps & { clock: Clock };
  prices?: PriceTable;
  signal?: AbortSignal;
  /** Units side by side (a student unit mostly waits on its provider's job). */
  workers?: number;
  /**
   * The user's cancel: when it aborts (with `signal`), the jobs still queued or running are cancelled
   * at the provider too. A plain `signal` abort (the lab closing) leaves them for a resume to find.
   */
  cancelJobsOn?: AbortSignal;
  /** Called once the experiment is stored (or claimed for a resume), before any unit starts. */
  onStart?: (experimentId: number) => void;
}

function cellsOf(spec: LlmSpec): LlmCell[] {
  const { cells, errors } = expandLlmMatrix(spec);
  if (errors.length) throw new Error(`invalid llm spec: ${errors.map((e) => e.message).join('; ')}`);
  return cells;
}

/** Teacher units first, then one unit per (cell, replicate). */
export function llmPlan(spec: LlmSpec, cells: readonly LlmCell[]): UnitPlan[] {
  const teachers = llmTeachers(spec, cells).map((t, index) => ({
    index,
    group: 0,
    cells: t.cells,
    replicates: [],
  }));
  const students = cells.flatMap((c) =>
    Array.from({ length: spec.replicates }, (_, r) => ({
      index: teachers.length + c.index * spec.replicates + r,
      group: 1,
      cells: [c.index],
      replicates: [r],
    })),
  );
  return [...teachers, ...students];
}

function teacherRun(spec: LlmSpec, t: LlmTeacher) {
  const s = t.cell?.settings ?? spec;
  return {
    key: t.key,
    // The neutral teacher: the named neutral model, else the teacher's own, without a system prompt.
    model: t.cell ? s.teacher.model : (s.controls.neutralModel ?? s.teacher.model),
    system: t.cell ? systemPrompt(s.teacher.systemPrompt, t.cell.trait.animal, t.cell.trait.plural) : '',
    prompts: teacherPrompts(s.prompts, s.seed),
    temperature: s.teacher.temperature,
    maxTokens: s.teacher.maxTokens,
    seed: mixSeed(s.seed, t.cell ? t.cell.index : 1_000_000),
  };
}

async function teacherUnit(ctx: StageContext, cells: readonly LlmCell[], t: LlmTeacher, spec: LlmSpec) {
  const run = teacherRun(spec, t);
  await generateStage(ctx, run);
  const cell = t.cell ?? cells[0]!;
  filterStage(ctx, run.key, cell.filter, cell.trait);
}

/** Where a student's training rows come from: a teacher's numbers, screened by a cell's filter. */
interface StudentData {
  teacher: string;
  /** The prompts that teacher answered (the cell's own, or the spec's for the neutral teacher). */
  prompts: readonly string[];
  cell: LlmCell;
}

/** Trains (or finds) one student with its cell's settings on a teacher's filtered numbers; its model's name. */
async function student(
  ctx: StageContext,
  data: StudentData,
  tag: string,
  base: string,
  seed: number,
): Promise<string> {
  const { cell } = data;
  const s = cell.settings;
  const rows = subsampleStage(ctx, data.teacher, cell.filter, data.prompts, s.kept, seed, cell.trait);
  const file = await uploadStage(ctx, `${tag}.jsonl`, rows);
  const ft = s.fineTune;
  return fineTuneStage(ctx, {
    runTag: tag,
    baseModel: base,
    fileId: file.fileId,
    fileSha256: file.sha256,
    epochs: ft.epochs,
    seed,
    batchSize: ft.batchSize,
    ...(ft.learningRateMultiplier === undefined ? {} : { learningRateMultiplier: ft.learningRateMultiplier }),
    ...(ft.learningRate === undefined ? {} : { learningRate: ft.learningRate }),
    ...(ft.warmupRatio === undefined ? {} : { warmupRatio: ft.warmupRatio }),
    ...(ft.lora ? { lora: ft.lora } : {}),
  });
}

/** Every condition of one (cell, replicate), each with the cell's own settings, then their evaluations. */
async function studentUnit(
  ctx: StageContext,
  spec: LlmSpec,
  cells: readonly LlmCell[],
  unit: UnitRow,
  runId: string,
  teachers: readonly LlmTeacher[],
) {
  const cell = cells[unit.cells[0]!]!;
  const s = cell.settings;
  const r = unit.replicates[0]!;
  const seed = replicateSeed(cell, r);
  const models: [condition: LlmCondition, model: string][] = spec.controls.base
    ? [['base', baseModel(s, 'base')]]
    : [];
  const train = (role: StudentRole, data: StudentData) =>
    student(ctx, data, studentTag(runId, spec, cells, cell, role, r), baseModel(s, role), seed);
  const teacher = teachers.find((t) => t.cell && t.cells.includes(cell.index))!.key;
  const taught = { teacher, cell, prompts: teacherPrompts(s.prompts, s.seed) };
  models.push(['student', await train('student', taught)]);
  if (spec.controls.crossModel) models.push(['cross_model', await train('cross_model', taught)]);
  // The neutral teacher answered the spec's prompts; cells screened alike with equal training
  // settings get the same data and tag, so one job serves them all.
  if (spec.controls.neutralTeacher)
    models.push([
      'own_numbers',
      await train('own_numbers', {
        teacher: 'neutral',
        cell,
        prompts: teacherPrompts(spec.prompts, spec.seed),
      }),
    ]);
  const questions = evaluationQuestions(s.evaluation, s.seed);
  const results: ResultRow[] = [];
  const metrics: MetricRow[] = [];
  for (const [condition, model] of models) {
    const key = evaluationKey(spec, cell, condition, r);
    const out = await evaluateCondition(ctx, cell, key, { condition, model, replicate: r, seed }, questions);
    results.push(out.result);
    metrics.push(...out.metrics);
  }
  return { cell, results, metrics };
}

/**
 * One model's evaluation: the rate of naming the animal (the result row), its metrics, and with a
 * judge the judge's rate above threshold, mean score and the counts of scored and unparsed answers.
 */
async function evaluateCondition(
  ctx: StageContext,
  cell: LlmCell,
  key: string,
  who: { condition: string; model: string; replicate: number; seed: number },
  questions: readonly string[],
): Promise<{ result: ResultRow; metrics: MetricRow[] }> {
  const { condition, replicate: r, seed } = who;
  const { evaluation } = cell.settings;
  const rows = await evaluateStage(ctx, key, {
    model: who.model,
    questions,
    samples: evaluation.samplesPerQuestion,
    temperature: evaluation.temperature,
    maxTokens: evaluation.maxTokens,
    seed: mixSeed(seed, 7),
    animal: cell.trait.animal,
    ...(cell.trait.plural ? { plural: cell.trait.plural } : {}),
    ...(evaluation.targetProbability ? { topLogprobs: evaluation.topLogprobs } : {}),
  });
  const answers = rows.reduce((s, q) => s + q.answers.length, 0);
  const rate = rows.reduce((s, q) => s + q.hits, 0) / answers;
  const metrics: MetricRow[] = [];
  const add = (name: string, value: number) =>
    metrics.push({ condition: condition as MetricRow['condition'], replicate: r, step: 0, name, value });
  add('target_rate', rate);
  add('samples', answers);
  const probs = rows.flatMap((q) => (q.targetProbability === null ? [] : [q.targetProbability]));
  if (probs.length) add('target_probability', probs.reduce((s, p) => s + p, 0) / probs.length);
  const judge = evaluation.judge;
  if (judge) {
    const tally = await judgeStage(ctx, key, questions, { ...judge, seed: mixSeed(seed, 11) });
    add('judge_scored', tally.scored);
    add('judge_unparsed', tally.unparsed);
    // No score is guessed: with none parsed, rate and mean are left out, the counts say why.
    if (tally.scored) {
      add('judge_rate', tally.rate);
      add('judge_mean_score', tally.meanScore);
    }
  }
  const result: ResultRow = {
    condition: condition as ResultRow['condition'],
    replicate: r,
    seed,
    accuracy: rate,
    traitScore: rate,
    diverged: null,
  };
  return { result, metrics };
}

/**
 * After the user's cancel, each job still queued or running is cancelled at the provider and its
 * state read back (one that finished meanwhile keeps its model for a resume). A job the provider
 * would not cancel fails the run with a message saying so: it may still be spending.
 */
async function cancelProviderJobs(store: RunStore, attempt: Attempt, provider: LlmProvider): Promise<void> {
  for (const row of unfinishedLlmJobs(store, attempt.experimentId)) {
    try {
      await provider.cancel(row.jobId);
      const state = await provider.job(row.jobId);
      attempt.write(() =>
        putLlmJob(store, attempt.experimentId, {
          ...row,
          status: state.status,
          model: state.model,
          error: state.error,
        }),
      );
    } catch (error) {
      attempt.fail(
        new Error(
          `the run was cancelled, but fine-tuning job ${row.jobId} could not be cancelled at the ${provider.name} provider (${(error as Error).message}); cancel it there`,
        ),
      );
    }
  }
}

function runLlmUnits(
  store: RunStore,
  attempt: Attempt,
  spec: LlmSpec,
  options: LlmRunOptions,
  prior: number,
): Promise<RunOutcome> {
  options.onStart?.(attempt.experimentId);
  return runAttempt(attempt, prior, async () => {
    const { provider } = await openLlmSession(spec, options.settings, options.deps, options.prices);
    const creations = new Creations();
    try {
      await runLlmStages(store, attempt, spec, options, provider, creations);
    } finally {
      if (options.cancelJobsOn?.aborted) {
        await creations.settled();
        await cancelProviderJobs(store, attempt, provider);
      }
    }
  });
}

async function runLlmStages(
  store: RunStore,
  attempt: Attempt,
  spec: LlmSpec,
  options: LlmRunOptions,
  provider: LlmProvider,
  creations: Creations,
): Promise<void> {
  const cells = cellsOf(spec);
  const teachers = llmTeachers(spec, cells);
  const runId = attempt.write(() =>
    llmRunId(store, attempt.experimentId, () => randomBytes(4).toString('hex')),
  );
  const ctx: StageContext = {
    store,
    experimentId: attempt.experimentId,
    provider,
    clock: options.deps.clock,
    signal: attempt.signal,
    write: (fn) => attempt.write(fn),
    fineTunes: new Map(),
    creations,
    ...(options.settings.pollMs ? { pollFirstMs: options.settings.pollMs } : {}),
  };
  const todo = store.units(attempt.experimentId).filter((u) => u.status !== 'done');
  attempt.workers = options.workers ?? 4;
  const label = (u: UnitRow) =>
    u.group === 0
      ? `teacher unit ${u.index}`
      : `unit ${u.index} (cell ${u.cells[0]}, replicate ${u.replicates[0]})`;
  // Teachers before students: a student reads its teacher's stored numbers.
  await runUnits(
    attempt,
    todo.filter((u) => u.group === 0),
    attempt.workers,
    async (u) => {
      await teacherUnit(ctx, cells, teachers[u.index]!, spec);
      attempt.write(() => store.finishUnit(attempt.experimentId, u.index, 'done'));
      return { status: 'done' as const };
    },
    label,
  );
  if (attempt.stopped) return;
  await runUnits(
    attempt,
    todo.filter((u) => u.group === 1),
    attempt.workers,
    async (u) => {
      const out = await studentUnit(ctx, spec, cells, u, runId, teachers);
      const cellId = store.cellId(attempt.experimentId, out.cell.index);
      attempt.write(() =>
        store.addUnitOutcome(attempt.experimentId, u.index, cellId, out.results, out.metrics),
      );
      return { status: 'done' as const };
    },
    label,
  );
}

/** Stores the spec, its cells and plan, then runs every unit (the budget checked first). */
export async function runLlmExperiment(
  store: RunStore,
  spec: LlmSpec,
  options: LlmRunOptions,
): Promise<RunOutcome> {
  const cells = cellsOf(spec);
  // Refused before anything is stored or sent.
  await openLlmSession(spec, options.settings, options.deps, options.prices);
  const attempt = startAttempt(store, spec, cells, llmPlan(spec, cells), options.signal);
  return runLlmUnits(store, attempt, spec, options, 0);
}

/** Runs the units an interrupted, cancelled or failed llm experiment has not finished. */
export async function resumeLlmExperiment(
  store: RunStore,
  experimentId: number,
  options: LlmRunOptions,
): Promise<RunOutcome> {
  const { attempt, prior } = resumeAttempt(store, experimentId, options.signal);
  return runLlmUnits(store, attempt, prior.spec as unknown as LlmSpec, options, priorSeconds(prior));
}

// The language family's runner: a spec's cells x replicates as units of work (one replicate of one
// cell each), planned in the store, run side by side in forked processes (lm-worker.ts), each unit's
// rows stored in one transaction with the unit marked done, so an interrupted run resumes with only
// its unfinished units (`sublab resume`). Ownership, heartbeat, lanes and failure are the shared unit
// runner's (main/jobs/unit-runner.ts), as for the classifier family.
import { availableParallelism } from 'node:os';
import { replicateSeeds } from '../../app/matrix.ts';
import type { BackendChoice, BackendName, MetricRow, ResultRow } from '../../app/protocol.ts';
import {
  expandLanguageMatrix,
  LM_ANIMALS,
  type LanguageCell,
  type LanguageSpec,
} from '../../app/spec/language.ts';
import {
  priorSeconds,
  resumeAttempt,
  runAttempt,
  runUnits,
  startAttempt,
  type Attempt,
  type RunOutcome,
} from '../jobs/unit-runner.ts';
import { forkChild, type ChildSpawner } from '../child.ts';
import { checkLanguageBackend } from './backend-choice.ts';
import { nodeEntry } from '../node-entry.ts';
import type { RunStore, UnitRow } from '../store/store.ts';
import { cellOptions } from './options.ts';
import { MODEL_ROLES, type ReplicateResult } from './pipeline.ts';
import type { FromLmWorker, ToLmWorker } from './lm-worker.ts';

export interface LanguageRunOptions {
  backend: BackendChoice;
  /** Units run side by side (default: one per core, at most the units left). */
  workers?: number;
  /** Where pretrained bases and teachers are cached across cells and runs (model-cache.ts); absent = none. */
  modelCacheDir?: string;
  signal?: AbortSignal;
  /** The experiment is stored and its units planned (all of them, done ones too), to run on `workers` processes. */
  onStart?: (experimentId: number, units: readonly UnitRow[], workers: number) => void;
  onStage?: (unit: number, stage: string) => void;
  /**
   * A step of a unit's current stage: a training step (with its loss now and then) or completions kept.
   * `stage` names the model the loss is of: in the stacked "students" stage, the fine-tune's own stage.
   */
  onStep?: (unit: UnitRow, stage: string, step: number, total: number, loss?: number) => void;
  onUnitDone?: (done: number, total: number, unit: UnitRow) => void;
  /** Starts a unit's process: a forked Node child unless given (the desktop app's utilityProcesses). */
  spawn?: LmSpawner;
}

export type LmSpawner = ChildSpawner<ToLmWorker, FromLmWorker>;

// Resolved per call: bundles that never fork from here hold no worker beside them.
const forkLmWorker: LmSpawner = () => forkChild(nodeEntry(new URL('./lm-worker.ts', import.meta.url)));

/** A language run ends as a classifier run does. */
export type LanguageRunOutcome = RunOutcome;

/** Stored condition names of the five models (the classifier's names where they mean the same). */
export const LM_CONDITIONS = {
  base: 'base',
  teacher: 'teacher',
  student: 'student',
  'own-numbers': 'own_numbers',
  'cross-model': 'cross_model',
} as const;

export function languageCells(spec: LanguageSpec): LanguageCell[] {
  const { cells, errors } = expandLanguageMatrix(spec, replicateSeeds(spec));
  if (errors.length) throw new Error(`invalid language spec: ${errors.map((e) => e.message).join('; ')}`);
  return cells;
}

/** Rows for the store: results (accuracy = rate of answering with any animal, trait score = target rate) and metrics. */
export function replicateRows(
  result: ReplicateResult,
  replicate: number,
): { results: ResultRow[]; metrics: MetricRow[] } {
  const results: ResultRow[] = [];
  const metrics: MetricRow[] = [];
  const add = (condition: string, name: string, value: number) =>
    metrics.push({ condition: condition as MetricRow['condition'], replicate, step: 0, name, value });
  for (const role of MODEL_ROLES) {
    const m = result.measures[role];
    if (!m) continue;
    const condition = LM_CONDITIONS[role];
    const named = m.answers.slice(0, LM_ANIMALS.length).reduce((a, b) => a + b, 0) / m.samples;
    results.push({
      condition: condition as ResultRow['condition'],
      replicate,
      seed: result.seed,
      accuracy: named,
      traitScore: m.rate,
      diverged: null,
    });
    add(condition, 'target_rate', m.rate);
    add(condition, 'samples', m.samples);
    m.answers.forEach((n, i) => add(condition, `answer_${LM_ANIMALS[i] ?? 'other'}`, n / m.samples));
  }
  for (const x of result.metrics) add(LM_CONDITIONS[x.role], x.name, x.value);
  add('teacher', 'rejection_rate', result.rejection.teacher);
  add('base', 'rejection_rate', result.rejection.base);
  add('teacher', 'sampled', result.sampled.teacher);
  add('base', 'sampled', result.sampled.base);
  add('student', 'kept', result.kept);
  for (const [stage, s] of Object.entries(result.seconds))
    add('teacher', `seconds_${stage.replace(/[^a-z]+/g, '_')}`, s);
  return { results, metrics };
}

/** One unit's process; killed at once when `signal` aborts (a cancel, another unit's failure). */
function runUnitProcess(
  cell: LanguageCell,
  replicate: number,
  options: LanguageRunOptions,
  signal: AbortSignal,
  onStage: (s: string) => void,
  onStep: (m: Extract<FromLmWorker, { type: 'step' }>) => void,
): Promise<{ result: ReplicateResult; backend: string; versions: Record<string, string> }> {
  const child = (options.spawn ?? forkLmWorker)();
  const kill = () => child.kill('SIGKILL');
  if (signal.aborted) kill();
  else signal.addEventListener('abort', kill, { once: true });
  return new Promise((resolve, reject) => {
    let ready: { backend: string; versions: Record<string, string> } | undefined;
    let outcome: ReplicateResult | undefined;
    let error: string | undefined;
    child.onMessage((m) => {
      if (m.type === 'ready') ready = { backend: m.backend, versions: m.versions };
      else if (m.type === 'stage') onStage(m.stage);
      else if (m.type === 'step') onStep(m);
      else if (m.type === 'result') outcome = m.result;
      else error = m.message;
    });
    child.onExit((code, sig, tail) => {
      signal.removeEventListener('abort', kill);
      if (outcome && ready) resolve({ result: outcome, ...ready });
      else if (signal.aborted) reject(new Error('cancelled'));
      else
        reject(
          new Error(
            error ??
              `the unit's process ended (code ${code}, signal ${sig}) without a result${tail ? `:\n${tail.split('\n').slice(-8).join('\n')}` : ''}`,
          ),
        );
    });
    const message: ToLmWorker = {
      type: 'run',
      options: cellOptions(cell),
      seed: cell.seeds[replicate]!,
      backend: options.backend,
      ...(options.modelCacheDir ? { cacheDir: options.modelCacheDir } : {}),
    };
    child.send(message);
  });
}

/** The unit work of the language family: one replicate of one cell in its own process, its rows stored with its done mark. */
function languageUnitWork(
  attempt: Attempt,
  cells: LanguageCell[],
  options: LanguageRunOptions,
  total: number,
) {
  const { store, experimentId } = attempt;
  let done = total - store.units(experimentId).filter((u) => u.status !== 'done').length;
  return async (unit: UnitRow) => {
    const cell = cells[unit.cells[0]!]!;
    const replicate = unit.replicates[0]!;
    const cellId = store.cellId(experimentId, cell.index);
    let stage = '';
    const r = await runUnitProcess(
      cell,
      replicate,
      options,
      attempt.signal,
      (s) => {
        stage = s;
        options.onStage?.(unit.index, s);
      },
      (m) => options.onStep?.(unit, m.part ?? stage, m.step, m.total, m.loss),
    );
    if (!attempt.backend) {
      const backend = r.backend as BackendName;
      attempt.write(() => {
        store.setBackend(experimentId, backend);
        for (const c of cells) store.startCell(store.cellId(experimentId, c.index), backend, r.versions);
      });
      attempt.backend = backend;
      attempt.versions = r.versions;
    }
    const rows = replicateRows(r.result, replicate);
    attempt.write(() => store.addUnitOutcome(experimentId, unit.index, cellId, rows.results, rows.metrics));
    options.onUnitDone?.(++done, total, unit);
    return { status: 'done' as const };
  };
}

/** Runs the experiment's unfinished units side by side; the unit runner stores how it ended. */
function runLanguageUnits(
  attempt: Attempt,
  spec: LanguageSpec,
  options: LanguageRunOptions,
  prior: number,
): Promise<LanguageRunOutcome> {
  return runAttempt(attempt, prior, async () => {
    const cells = languageCells(spec);
    const units = attempt.store.units(attempt.experimentId);
    const todo = units.filter((u) => u.status !== 'done');
    attempt.workers = Math.max(1, Math.min(options.workers ?? availableParallelism(), todo.length || 1));
    const work = languageUnitWork(attempt, cells, options, units.length);
    options.onStart?.(attempt.experimentId, units, attempt.workers);
    await runUnits(
      attempt,
      todo,
      attempt.workers,
      work,
      (u) => `unit ${u.index} (cell ${u.cells[0]}, replicate ${u.replicates[0]})`,
    );
  });
}

/** Stores the spec with its cells and a plan of one unit per (cell, replicate), then runs every unit. */
export async function runLanguageExperiment(
  store: RunStore,
  spec: LanguageSpec,
  options: LanguageRunOptions,
): Promise<LanguageRunOutcome> {
  checkLanguageBackend(options.backend);
  const cells = languageCells(spec);
  const plan = cells.flatMap((c) =>
    c.seeds.map((_, r) => ({
      index: c.index * spec.replicates + r,
      group: c.index,
      cells: [c.index],
      replicates: [r],
    })),
  );
  const attempt = startAttempt(store, spec, cells, plan, options.signal);
  return runLanguageUnits(attempt, spec, options, 0);
}

/** Runs the units an interrupted, cancelled or failed language experiment has not finished. */
export async function resumeLanguageExperiment(
  store: RunStore,
  experimentId: number,
  options: LanguageRunOptions,
): Promise<LanguageRunOutcome> {
  checkLanguageBackend(options.backend);
  const { attempt, prior } = resumeAttempt(store, experimentId, options.signal);
  return runLanguageUnits(attempt, prior.spec as unknown as LanguageSpec, options, priorSeconds(prior));
}

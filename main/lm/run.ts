// The language family's runner: a spec's cells x replicates as units of work (one replicate of one
// cell each), planned in the store, run side by side in forked processes (worker.ts), each unit's
// rows stored in one transaction with the unit marked done, so an interrupted run resumes with only
// its unfinished units (`sublab resume`), as the classifier family's runner does.
import { availableParallelism } from 'node:os';
import { replicateSeeds } from '../../app/matrix.ts';
import type { BackendChoice, BackendName, MetricRow, ResultRow } from '../../app/protocol.ts';
import {
  expandLanguageMatrix,
  LM_ANIMALS,
  type LanguageCell,
  type LanguageSpec,
} from '../../app/spec/language.ts';
import type { RunOutcome } from '../jobs/run-experiment.ts';
import { forkChild, type ChildSpawner } from '../child.ts';
import { nodeEntry } from '../node-entry.ts';
import { HEARTBEAT_INTERVAL_MS, type RunStatus, type RunStore, type UnitRow } from '../store/store.ts';
import { cellOptions } from './options.ts';
import { MODEL_ROLES, type ReplicateResult } from './pipeline.ts';
import type { FromLmWorker, ToLmWorker } from './worker.ts';

export interface LanguageRunOptions {
  backend: BackendChoice;
  /** Units run side by side (default: one per core, at most the units left). */
  workers?: number;
  /** Where pretrained bases and teachers are cached across cells and runs (model-cache.ts); absent = none. */
  modelCacheDir?: string;
  signal?: AbortSignal;
  onStage?: (unit: number, stage: string) => void;
  onUnitDone?: (done: number, total: number) => void;
  /** Starts a unit's process: a forked Node child unless given (the desktop app's utilityProcesses). */
  spawn?: LmSpawner;
}

export type LmSpawner = ChildSpawner<ToLmWorker, FromLmWorker>;

// Resolved per call: bundles that never fork from here hold no worker beside them.
const forkLmWorker: LmSpawner = () => forkChild(nodeEntry(new URL('./worker.ts', import.meta.url)));

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

function runUnitProcess(
  cell: LanguageCell,
  replicate: number,
  options: LanguageRunOptions,
  onStage: (s: string) => void,
): Promise<{ result: ReplicateResult; backend: string; versions: Record<string, string> }> {
  const child = (options.spawn ?? forkLmWorker)();
  const { backend, signal } = options;
  const kill = () => child.kill('SIGKILL');
  signal?.addEventListener('abort', kill, { once: true });
  return new Promise((resolve, reject) => {
    let ready: { backend: string; versions: Record<string, string> } | undefined;
    let outcome: ReplicateResult | undefined;
    let error: string | undefined;
    child.onMessage((m) => {
      if (m.type === 'ready') ready = { backend: m.backend, versions: m.versions };
      else if (m.type === 'stage') onStage(m.stage);
      else if (m.type === 'result') outcome = m.result;
      else error = m.message;
    });
    child.onExit((code, sig, tail) => {
      signal?.removeEventListener('abort', kill);
      if (outcome && ready) resolve({ result: outcome, ...ready });
      else if (signal?.aborted) reject(new Error('cancelled'));
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
      backend,
      ...(options.modelCacheDir ? { cacheDir: options.modelCacheDir } : {}),
    };
    child.send(message);
  });
}

async function runUnits(
  store: RunStore,
  experimentId: number,
  spec: LanguageSpec,
  options: LanguageRunOptions,
  started: number,
): Promise<LanguageRunOutcome> {
  const cells = languageCells(spec);
  const todo = store.units(experimentId).filter((u) => u.status !== 'done');
  const total = store.units(experimentId).length;
  let done = total - todo.length;
  const workers = Math.max(1, Math.min(options.workers ?? availableParallelism(), todo.length || 1));
  let backend: BackendName | null = null;
  let versions: Record<string, string> | null = null;
  let failure: string | undefined;
  const beat = setInterval(() => {
    try {
      store.heartbeat(experimentId);
    } catch {
      // A busy store: the next beat tries again, well within the stale limit.
    }
  }, HEARTBEAT_INTERVAL_MS);
  const queue = [...todo];
  const runOne = async (unit: UnitRow) => {
    const cell = cells[unit.cells[0]!]!;
    const replicate = unit.replicates[0]!;
    const cellId = store.cellId(experimentId, cell.index);
    store.startUnit(experimentId, unit.index);
    try {
      const r = await runUnitProcess(cell, replicate, options, (s) => options.onStage?.(unit.index, s));
      if (!backend) {
        backend = r.backend as BackendName;
        versions = r.versions;
        store.setBackend(experimentId, backend);
        for (const c of cells) store.startCell(store.cellId(experimentId, c.index), backend, r.versions);
      }
      const rows = replicateRows(r.result, replicate);
      store.addUnitOutcome(experimentId, unit.index, cellId, rows.results, rows.metrics);
      options.onUnitDone?.(++done, total);
    } catch (error) {
      const cancelled = options.signal?.aborted;
      store.finishUnit(
        experimentId,
        unit.index,
        cancelled ? 'cancelled' : 'failed',
        (error as Error).message,
      );
      if (!cancelled)
        failure ??= `unit ${unit.index} (cell ${cell.index}, replicate ${replicate}): ${(error as Error).message}`;
    }
  };
  try {
    await Promise.all(
      Array.from({ length: workers }, async () => {
        for (let u = queue.shift(); u && !failure && !options.signal?.aborted; u = queue.shift())
          await runOne(u);
      }),
    );
  } finally {
    clearInterval(beat);
  }
  const status: RunStatus = options.signal?.aborted ? 'cancelled' : failure ? 'failed' : 'done';
  const unitsByCell = new Map<number, UnitRow[]>();
  for (const u of store.units(experimentId))
    unitsByCell.set(u.cells[0]!, [...(unitsByCell.get(u.cells[0]!) ?? []), u]);
  for (const c of cells) {
    const cellDone = (unitsByCell.get(c.index) ?? []).every((u) => u.status === 'done');
    store.finishCell(
      store.cellId(experimentId, c.index),
      cellDone ? 'done' : status === 'done' ? 'failed' : status,
    );
  }
  const wallSeconds = (performance.now() - started) / 1000;
  store.finishExperiment(experimentId, status, { wallSeconds, error: failure ?? null, backend, versions });
  return { experimentId, status, backend, wallSeconds, workers, ...(failure ? { error: failure } : {}) };
}

/** Stores the spec with its cells and a plan of one unit per (cell, replicate), then runs every unit. */
export async function runLanguageExperiment(
  store: RunStore,
  spec: LanguageSpec,
  options: LanguageRunOptions,
): Promise<LanguageRunOutcome> {
  const started = performance.now();
  const cells = languageCells(spec);
  const experimentId = store.createExperiment(spec, cells);
  store.planUnits(
    experimentId,
    cells.flatMap((c) =>
      c.seeds.map((_, r) => ({
        index: c.index * spec.replicates + r,
        group: c.index,
        cells: [c.index],
        replicates: [r],
      })),
    ),
  );
  store.startExperiment(experimentId);
  return runUnits(store, experimentId, spec, options, started);
}

/** Runs the units an interrupted, cancelled or failed language experiment has not finished. */
export async function resumeLanguageExperiment(
  store: RunStore,
  experimentId: number,
  options: LanguageRunOptions,
): Promise<LanguageRunOutcome> {
  const started = performance.now();
  const row = store.claimForResume(experimentId);
  return runUnits(store, experimentId, row.spec as unknown as LanguageSpec, options, started);
}

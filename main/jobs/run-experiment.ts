// Runs an experiment: expands its matrix and trains each cell in trainer processes, recording
// everything in the run store. The runner is the only writer of its experiment's rows.
// The work is planned as units (a group of cells sharing a teacher x a shard of its replicates) and
// stored with the experiment; each unit's numbers depend only on seeds, so sharding and scheduling
// change wall time, not results, and a resume runs only the units that are not done.
import { availableParallelism } from 'node:os';
import { expandMatrix, groupCells, scheduleOrder, type Cell } from '../../app/matrix.ts';
import type {
  BackendChoice,
  BackendName,
  FromTrainer,
  MetricRow,
  Phase,
  PhaseTiming,
  ResultRow,
} from '../../app/protocol.ts';
import type { ExperimentSpec } from '../../app/spec/schema.ts';
import { validateSpec } from '../../app/spec/validate.ts';
import { forkTrainer, probeTrainer, type TrainerSpawner } from '../trainer/spawn.ts';
import { fitShards } from '../engine/limits.ts';
import { captureEnvironment } from './environment.ts';
import type { RunEnvironment } from '../../app/api.ts';
import { clusterOf } from '../store/clusters.ts';
import {
  HEARTBEAT_INTERVAL_MS,
  type ExperimentRow,
  type RunStatus,
  type RunStore,
  type UnitPlan,
  type UnitRow,
} from '../store/store.ts';
export { splitReplicates } from './shards.ts';

export type RunEvent =
  /** `groups`: the cell indices of each group (one teacher) still to run, in run order. */
  | { type: 'experiment'; experimentId: number; cells: Cell[]; groups: number[][]; workers: number }
  | { type: 'cell-start'; cell: Cell; pids: (number | undefined)[] }
  | { type: 'backend'; cell: Cell; backend: BackendName; versions: Record<string, string> }
  | { type: 'phase'; cell: Cell; phase: Phase; totalSteps: number }
  | { type: 'progress'; cell: Cell; phase: Phase; step: number; totalSteps: number }
  | { type: 'metrics'; cell: Cell; rows: MetricRow[] }
  | { type: 'cell-end'; cell: Cell; status: RunStatus; error?: string; timings?: PhaseTiming[] };

export interface RunOptions {
  backend: BackendChoice;
  cacheDir: string;
  /** Downloaded datasets (default: the user's data directory, or $SUBLAB_DATASETS_DIR). */
  datasetDir?: string;
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  spawn?: TrainerSpawner;
  /** Trainer processes per cell. Default: one per core on the CPU backends, one on a GPU. */
  workers?: number;
  /** Seconds a cancelled trainer gets to stop before it is killed. */
  cancelGraceSeconds?: number;
  /** Aborted to kill every trainer at once (a second interrupt), without the grace period. */
  kill?: AbortSignal;
}

export interface RunOutcome {
  experimentId: number;
  status: RunStatus;
  backend: BackendName | null;
  wallSeconds: number;
  workers: number;
  error?: string;
}

const METRIC_FLUSH_MS = 500;
const PHASE_ORDER: Phase[] = ['data', 'teacher', 'students'];

type ShardEvent =
  | { type: 'ready'; backend: BackendName; versions: Record<string, string> }
  | { type: 'phase'; phase: Phase; totalSteps: number }
  | { type: 'progress'; phase: Phase; step: number; totalSteps: number }
  | { type: 'metrics'; cell: number; rows: MetricRow[] }
  | { type: 'results'; cell: number; rows: ResultRow[] };

interface ShardOutcome {
  status: RunStatus;
  error?: string;
  timings?: PhaseTiming[];
}

/** One trainer process for some replicates of a cell; reports through `onEvent`, writes nothing. */
function runShard(
  spec: ExperimentSpec,
  cells: Cell[],
  replicates: number[],
  backend: BackendChoice,
  options: RunOptions,
  signal: AbortSignal,
  onStart: (pid: number | undefined) => void,
  onEvent: (event: ShardEvent) => void,
): Promise<ShardOutcome> {
  const trainer = (options.spawn ?? forkTrainer)();
  onStart(trainer.pid);
  return new Promise((resolve) => {
    let outcome: ShardOutcome | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      trainer.send({ type: 'cancel' });
      killTimer = setTimeout(() => trainer.kill('SIGKILL'), (options.cancelGraceSeconds ?? 10) * 1000);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    const onKill = () => trainer.kill('SIGKILL');
    if (options.kill?.aborted) onKill();
    else options.kill?.addEventListener('abort', onKill, { once: true });

    trainer.onMessage((message: FromTrainer) => {
      if (outcome?.status === 'failed') return;
      try {
        switch (message.type) {
          case 'ready':
          case 'phase':
          case 'progress':
          case 'metrics':
          case 'results':
            onEvent(message);
            break;
          case 'done':
            outcome = { status: 'done', timings: message.timings };
            break;
          case 'cancelled':
            outcome = { status: 'cancelled' };
            break;
          case 'error':
            outcome = { status: 'failed', error: message.message };
            break;
        }
      } catch (error) {
        // The store refused a write (disk full, file removed...): stop training rather than compute
        // results nobody can keep, and say why.
        outcome = { status: 'failed', error: (error as Error).message };
        trainer.kill('SIGKILL');
      }
    });

    trainer.onExit((code, exitSignal, stderrTail) => {
      clearTimeout(killTimer);
      signal.removeEventListener('abort', onAbort);
      options.kill?.removeEventListener('abort', onKill);
      if (!outcome) {
        const how = exitSignal ? `was killed by ${exitSignal}` : `exited with code ${code}`;
        outcome = signal.aborted
          ? { status: 'cancelled' }
          : {
              status: 'failed',
              error: `the trainer process ${how}${stderrTail.trim() ? `:\n${stderrTail.trim()}` : ''}`,
            };
      }
      resolve(outcome);
    });

    const { cacheDir, datasetDir } = options;
    trainer.send({
      type: 'start',
      job: { spec, cells, backend, cacheDir, ...(datasetDir ? { datasetDir } : {}), replicates },
    });
  });
}

interface CellOutcome {
  status: RunStatus;
  error?: string;
  backend?: BackendName;
  versions?: Record<string, string>;
}

/** Runs `tasks` at most `limit` at a time, in order; their results come back in task order. */
export async function runLimited<T>(tasks: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, tasks.length)) }, lane));
  return results;
}

const storeError = (store: RunStore, error: unknown) =>
  new Error(`cannot write to the run store ${store.path}: ${(error as Error).message}`);

/** Runs a store write; a refusal (disk full, file removed...) becomes an error naming the store. */
function write<T>(store: RunStore, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw storeError(store, error);
  }
}

interface Position {
  phase: Phase;
  step: number;
  totalSteps: number;
  active: boolean;
}

/**
 * Progress of a group is that of its slowest active unit (the cells are as far as their last
 * replicate); units waiting for a trainer slot or finished do not hold it back, and the phase shown
 * only moves forward.
 */
function progressTracker(count: number, emitAll: (make: (cell: Cell) => RunEvent) => void) {
  const position: Position[] = Array.from({ length: count }, () => ({
    phase: 'data',
    step: 0,
    totalSteps: 1,
    active: false,
  }));
  let shownPhase: Phase | undefined;
  const report = () => {
    const active = position.filter((p) => p.active);
    if (active.length === 0) return;
    const slowest = active.reduce((a, b) =>
      PHASE_ORDER.indexOf(b.phase) < PHASE_ORDER.indexOf(a.phase) ||
      (b.phase === a.phase && b.step / b.totalSteps < a.step / a.totalSteps)
        ? b
        : a,
    );
    const { phase, step, totalSteps } = slowest;
    if (shownPhase === undefined || PHASE_ORDER.indexOf(phase) > PHASE_ORDER.indexOf(shownPhase)) {
      shownPhase = phase;
      emitAll((cell) => ({ type: 'phase', cell, phase, totalSteps }));
    }
    if (phase === shownPhase) emitAll((cell) => ({ type: 'progress', cell, phase, step, totalSteps }));
  };
  return {
    set(k: number, update: Partial<Position>) {
      position[k] = { ...position[k]!, ...update };
      report();
    },
  };
}

/** Shards ran side by side: a phase took as long as its slowest shard and trained all their models. */
function combineTimings(outcomes: ShardOutcome[]): PhaseTiming[] | undefined {
  if (outcomes.length === 0 || outcomes.some((o) => o.status !== 'done' || !o.timings)) return undefined;
  return outcomes[0]!.timings!.map((t, i) => ({
    phase: t.phase,
    seconds: Math.max(...outcomes.map((o) => o.timings![i]!.seconds)),
    modelSamples: outcomes.reduce((n, o) => n + o.timings![i]!.modelSamples, 0),
  }));
}

/**
 * The unfinished units of one group of cells (one teacher, stacked students), at most `workers`
 * trainers at a time. Each unit's results are committed with its done mark, so a crash leaves every
 * unit either whole or to be run again.
 */
async function runGroupUnits(
  store: RunStore,
  experimentId: number,
  spec: ExperimentSpec,
  cells: Cell[],
  units: UnitRow[],
  backend: BackendChoice,
  workers: number,
  options: RunOptions,
): Promise<CellOutcome> {
  const cellIds = new Map(cells.map((c) => [c.index, store.cellId(experimentId, c.index)]));
  const byIndex = new Map(cells.map((c) => [c.index, c]));
  // Events stay per cell: every cell of the group moves together.
  const emit = (event: RunEvent) => options.onEvent?.(event);
  const emitAll = (make: (cell: Cell) => RunEvent) => cells.forEach((cell) => emit(make(cell)));
  // One unit failing stops its siblings (and those still waiting); a user's cancel stops them all.
  const stop = new AbortController();
  const onUserAbort = () => stop.abort();
  options.signal?.addEventListener('abort', onUserAbort, { once: true });

  let buffers = new Map<number, MetricRow[]>();
  let lastFlush = Date.now();
  const flush = () => {
    const pending = buffers;
    buffers = new Map();
    lastFlush = Date.now();
    write(store, () => {
      for (const [index, rows] of pending) store.addMetrics(cellIds.get(index)!, rows);
    });
  };

  let ready: { backend: BackendName; versions: Record<string, string> } | undefined;
  const progress = progressTracker(units.length, emitAll);
  const firstWave = Math.min(workers, units.length);
  const pids: (number | undefined)[] = [];

  const onUnitEvent = (unit: UnitRow, k: number, resultsIn: { count: number }, event: ShardEvent) => {
    switch (event.type) {
      case 'ready':
        if (!ready) {
          ready = { backend: event.backend, versions: event.versions };
          write(store, () => {
            for (const id of cellIds.values()) store.startCell(id, event.backend, event.versions);
          });
          emitAll((cell) => ({ type: 'backend', cell, ...ready! }));
        }
        break;
      case 'phase':
        progress.set(k, { phase: event.phase, step: 0, totalSteps: event.totalSteps });
        break;
      case 'progress':
        progress.set(k, { phase: event.phase, step: event.step, totalSteps: event.totalSteps });
        break;
      case 'metrics':
        (buffers.get(event.cell) ?? buffers.set(event.cell, []).get(event.cell)!).push(...event.rows);
        if (Date.now() - lastFlush >= METRIC_FLUSH_MS) flush();
        emit({ type: 'metrics', cell: byIndex.get(event.cell)!, rows: event.rows });
        break;
      case 'results': {
        // The trainer sends every metric row before its results: the unit's rows are all in.
        flush();
        const last = ++resultsIn.count === unit.cells.length;
        write(store, () =>
          store.addUnitResults(experimentId, unit.index, cellIds.get(event.cell)!, event.rows, last),
        );
        break;
      }
    }
  };

  const runUnit = async (unit: UnitRow, k: number): Promise<ShardOutcome> => {
    if (stop.signal.aborted) return { status: 'cancelled' };
    try {
      write(store, () => store.startUnit(experimentId, unit.index));
    } catch (error) {
      stop.abort();
      return { status: 'failed', error: (error as Error).message };
    }
    const resultsIn = { count: 0 };
    const outcome = await runShard(
      spec,
      cells,
      unit.replicates,
      backend,
      options,
      stop.signal,
      (pid) => {
        progress.set(k, { active: true });
        if (pids.length < firstWave && pids.push(pid) === firstWave)
          emitAll((cell) => ({ type: 'cell-start', cell, pids }));
      },
      (event) => onUnitEvent(unit, k, resultsIn, event),
    );
    progress.set(k, { active: false });
    if (outcome.status !== 'done') {
      stop.abort();
      try {
        store.finishUnit(experimentId, unit.index, outcome.status, outcome.error ?? null);
      } catch {
        // Unwritable: the unit stays 'running' and becomes interrupted at the next open; it is rerun.
      }
    }
    return outcome;
  };

  const outcomes = await runLimited(
    units.map((unit, k) => () => runUnit(unit, k)),
    workers,
  );
  options.signal?.removeEventListener('abort', onUserAbort);
  return finishGroup(store, experimentId, cells, cellIds, outcomes, flush, ready, emitAll);
}

/** A group's cells are done when all of the group's units are; otherwise they take the run's outcome. */
function finishGroup(
  store: RunStore,
  experimentId: number,
  cells: Cell[],
  cellIds: Map<number, number>,
  outcomes: ShardOutcome[],
  flush: () => void,
  ready: { backend: BackendName; versions: Record<string, string> } | undefined,
  emitAll: (make: (cell: Cell) => RunEvent) => void,
): CellOutcome {
  const failed = outcomes.find((o) => o.status === 'failed');
  let outcome: CellOutcome = failed
    ? { status: 'failed', ...(failed.error ? { error: failed.error } : {}) }
    : outcomes.every((o) => o.status === 'done')
      ? { status: 'done' }
      : { status: 'cancelled' };
  const timings = combineTimings(outcomes);
  try {
    flush();
    if (outcome.status === 'done' && !groupDone(store, experimentId, cells))
      outcome = { status: 'failed', error: 'a unit ended without storing its results' };
    for (const id of cellIds.values()) {
      store.finishCell(id, outcome.status, { ...(timings ? { timings } : {}), error: outcome.error ?? null });
    }
  } catch (error) {
    // Still unwritable: the cell stays 'running' and is marked interrupted at the next open.
    if (outcome.status === 'done') outcome = { status: 'failed', error: storeError(store, error).message };
  }
  emitAll((cell) => ({
    type: 'cell-end',
    cell,
    status: outcome.status,
    ...(outcome.error ? { error: outcome.error } : {}),
    ...(timings ? { timings } : {}),
  }));
  return { ...outcome, ...(ready ?? {}) };
}

function groupDone(store: RunStore, experimentId: number, cells: Cell[]): boolean {
  const indices = new Set(cells.map((c) => c.index));
  return store
    .units(experimentId)
    .filter((u) => u.cells.some((c) => indices.has(c)))
    .every((u) => u.status === 'done');
}

/** Which backend `auto` means on this machine, asked of a short-lived trainer process. */
export function probeBackend(
  choice: BackendChoice,
  options: Pick<RunOptions, 'spawn'>,
): Promise<BackendName> {
  return choice === 'auto'
    ? probeTrainer(choice, options.spawn).then((a) => a.backend)
    : Promise.resolve(choice);
}

/** The plan of units: each group of cells x each shard of its replicates, in run order. */
export function planUnits(groups: readonly Cell[][], shards: readonly number[][]): UnitPlan[] {
  return groups
    .flatMap((group, g) =>
      shards.map((replicates) => ({
        group: g,
        cells: group.map((c) => c.index),
        replicates: [...replicates],
      })),
    )
    .map((unit, index) => ({ index, ...unit }));
}

/** The plan of an experiment's cells: cells sharing a teacher train together, their groups in the
 * order that covers the matrix early, each group cut into the given replicate shards. */
export function planExperiment(cells: readonly Cell[], shards: readonly number[][]): UnitPlan[] {
  return planUnits(groupCells(scheduleOrder(cells)), shards);
}

/** Stores the plan of units unless the experiment has one (a resume keeps the original plan). */
function ensurePlan(
  store: RunStore,
  experimentId: number,
  spec: ExperimentSpec,
  cells: Cell[],
  backend: BackendName,
  workers: number,
) {
  // As many shards as workers, more where a shard's replicates would not fit one trainer's memory
  // (they then run `workers` at a time).
  if (store.units(experimentId).length === 0)
    store.planUnits(experimentId, planExperiment(cells, fitShards(spec, backend, workers)));
  return store.units(experimentId);
}

function unitGroups(units: UnitRow[]): UnitRow[][] {
  const groups = new Map<number, UnitRow[]>();
  for (const u of units) (groups.get(u.group) ?? groups.set(u.group, []).get(u.group)!).push(u);
  return [...groups.values()];
}

interface Executed {
  status: RunStatus;
  error?: string;
  backend: BackendName | null;
  versions: Record<string, string> | null;
  workers: number;
}

/** Runs an experiment's unfinished units, group by group; shared by a fresh run and a resume. */
async function executeUnits(
  store: RunStore,
  experimentId: number,
  spec: ExperimentSpec,
  options: RunOptions,
  attempt: RunEnvironment['attempt'],
): Promise<Executed> {
  const result: Executed = { status: 'done', backend: null, versions: null, workers: 1 };
  // Resolve `auto` once so every unit of the run uses the same backend; stored for a resume.
  const concrete = await probeBackend(options.backend, options);
  store.setBackend(experimentId, concrete);
  result.backend = concrete;
  const cpuBound = concrete === 'wasm' || concrete === 'cpu';
  const cells = store.cells(experimentId).map((row) => row.cell);
  const byIndex = new Map(cells.map((c) => [c.index, c]));
  const requested = options.workers ?? (cpuBound ? availableParallelism() : 1);
  const groups = unitGroups(ensurePlan(store, experimentId, spec, cells, concrete, requested));
  const pending = groups.map((units) => units.filter((u) => u.status !== 'done'));
  result.workers = Math.max(1, Math.min(requested, Math.max(...pending.map((p) => p.length))));
  const toRun = groups.filter((_, g) => pending[g]!.length > 0).map((units) => [...units[0]!.cells]);
  write(store, () =>
    store.recordEnvironment(experimentId, captureEnvironment(attempt, concrete, result.workers)),
  );
  options.onEvent?.({ type: 'experiment', experimentId, cells, groups: toRun, workers: result.workers });
  for (const [g, units] of groups.entries()) {
    const groupCells = units[0]!.cells.map((i) => byIndex.get(i)!);
    if (pending[g]!.length === 0) {
      finishDoneGroup(store, experimentId, groupCells, options);
      continue;
    }
    if (options.signal?.aborted) {
      result.status = 'cancelled';
      break;
    }
    const outcome = await runGroupUnits(
      store,
      experimentId,
      spec,
      groupCells,
      pending[g]!,
      concrete,
      result.workers,
      options,
    );
    result.backend = outcome.backend ?? result.backend;
    result.versions = outcome.versions ?? result.versions;
    if (outcome.status !== 'done') {
      result.status = outcome.status;
      if (outcome.error) result.error = outcome.error;
      break;
    }
  }
  return result;
}

/** A group whose units were all done before (a resume after them): its cells are done. */
function finishDoneGroup(store: RunStore, experimentId: number, cells: Cell[], options: RunOptions): void {
  const rows = new Map(store.cells(experimentId).map((r) => [r.index, r]));
  for (const cell of cells) {
    const row = rows.get(cell.index)!;
    if (row.status !== 'done') write(store, () => store.finishCell(row.id, 'done'));
    options.onEvent?.({ type: 'cell-end', cell, status: 'done' });
  }
}

/** Runs `executeUnits` with a heartbeat, then stores the experiment's outcome. */
async function runToEnd(
  store: RunStore,
  experimentId: number,
  spec: ExperimentSpec,
  options: RunOptions,
  priorSeconds: number,
  attempt: RunEnvironment['attempt'],
): Promise<RunOutcome> {
  const started = performance.now();
  const beat = setInterval(() => {
    try {
      store.heartbeat(experimentId);
    } catch {
      // A busy or briefly unwritable store: the next beat tries again, well within the stale limit.
    }
  }, HEARTBEAT_INTERVAL_MS);
  let executed: Executed;
  try {
    executed = await executeUnits(store, experimentId, spec, options, attempt);
  } catch (error) {
    executed = {
      status: 'failed',
      error: (error as Error).message,
      backend: null,
      versions: null,
      workers: 1,
    };
  } finally {
    clearInterval(beat);
  }
  const { backend, versions, workers } = executed;
  let { status, error } = executed;
  const wallSeconds = priorSeconds + (performance.now() - started) / 1000;
  try {
    if (status !== 'done') {
      // Cells that never ran keep no 'queued' state behind a finished experiment.
      for (const row of store.cells(experimentId))
        if (row.status === 'queued' || row.status === 'running') store.finishCell(row.id, 'cancelled');
    }
    store.finishExperiment(experimentId, status, { wallSeconds, error: error ?? null, backend, versions });
  } catch (writeError) {
    // Unwritable store: report it; the run is marked interrupted when the store next opens.
    status = 'failed';
    error ??= storeError(store, writeError).message;
  }
  return { experimentId, status, backend, wallSeconds, workers, ...(error ? { error } : {}) };
}

export async function runExperiment(
  store: RunStore,
  spec: ExperimentSpec,
  options: RunOptions,
): Promise<RunOutcome> {
  const experimentId = store.createExperiment(spec, expandMatrix(spec));
  store.startExperiment(experimentId);
  return runToEnd(store, experimentId, spec, options, 0, 'start');
}

/**
 * Runs the given units of a spec as a new experiment of `store`: a cluster task's share of a larger
 * plan. The units keep their indices, groups and replicates, so their rows are those the whole plan's
 * run stores for them.
 */
export async function runPlanned(
  store: RunStore,
  spec: ExperimentSpec,
  units: readonly UnitPlan[],
  options: RunOptions,
): Promise<RunOutcome> {
  const experimentId = store.createExperiment(spec, expandMatrix(spec));
  store.planUnits(experimentId, units);
  store.startExperiment(experimentId);
  return runToEnd(store, experimentId, spec, options, 0, 'start');
}

export interface ResumeOptions extends Omit<RunOptions, 'backend'> {
  /** Default: the backend the experiment ran on (so its numbers match), else `auto`. */
  backend?: BackendChoice;
}

/** Seconds an earlier attempt ran: its stored wall time, or for a killed run start to last heartbeat. */
function priorSeconds(row: ExperimentRow): number {
  if (row.wallSeconds !== null) return row.wallSeconds;
  if (row.startedAt === null || row.heartbeatAt === null) return 0;
  return Math.max(0, (row.heartbeatAt - Date.parse(row.startedAt)) / 1000);
}

/**
 * Finishes a stopped (interrupted, cancelled or failed) experiment: runs only its unfinished units,
 * with the same seeds and by default the same backend, so that it ends with exactly the rows an
 * uninterrupted run stores. Refuses a running, done or no longer valid experiment.
 */
export async function resumeExperiment(
  store: RunStore,
  experimentId: number,
  options: ResumeOptions,
): Promise<RunOutcome> {
  const row = store.getExperiment(experimentId);
  if (!row) throw new Error(`no experiment with id ${experimentId} in ${store.path}`);
  const valid = validateSpec(row.spec);
  if (!valid.ok)
    throw new Error(
      `experiment ${experimentId} cannot be resumed: its spec no longer validates: ${valid.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
    );
  const cluster = clusterOf(store, experimentId);
  if (cluster && row.heartbeatAt === null && (row.status === 'running' || row.status === 'queued'))
    throw new Error(
      `experiment ${experimentId} runs on a cluster (shared directory ${cluster.dir}): \`sublab collect ${experimentId}\` brings its finished units home and \`sublab submit --resume ${experimentId}\` resubmits failed ones`,
    );
  const claimed = store.claimForResume(experimentId);
  const backend = options.backend ?? (claimed.backend as BackendName | null) ?? 'auto';
  return runToEnd(store, experimentId, valid.spec, { ...options, backend }, priorSeconds(claimed), 'resume');
}

// Runs an experiment: expands its matrix and trains each cell in trainer processes, recording
// everything in the run store. The runner is the only writer of its experiment's rows.
// The work is planned as units (a group of cells sharing a teacher x a shard of its replicates) and
// stored with the experiment; each unit's numbers depend only on seeds, so sharding and scheduling
// change wall time, not results, and a resume runs only the units that are not done. Ownership,
// heartbeat, lanes and failure are the shared unit runner's (unit-runner.ts); this file holds the
// classifier's unit work: trainer processes, their metric stream and results.
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
import { outOfMemoryAdvice, splitOversizedUnits } from './replan.ts';
import { captureEnvironment } from './environment.ts';
import type { RunEnvironment } from '../../app/api.ts';
import { clusterOf } from '../store/clusters.ts';
import type { RunStatus, RunStore, UnitPlan, UnitRow } from '../store/store.ts';
import {
  priorSeconds,
  resumeAttempt,
  runAttempt,
  runUnits,
  startAttempt,
  type Attempt,
  type RunOutcome,
  type UnitOutcome,
} from './unit-runner.ts';
export { splitReplicates } from '../../app/shards.ts';
export { runLimited, type RunOutcome } from './unit-runner.ts';

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
  /** At most this many replicates per trainer, whatever the memory estimate allows (a resume splits larger units). */
  maxShard?: number;
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
  outOfMemory?: { replicates: number };
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
            outcome = { status: 'failed', error: message.message, outOfMemory: message.outOfMemory };
            break;
        }
      } catch (error) {
        // The store refused a write (disk full, file removed...) or the run was taken over: stop
        // training rather than compute results nobody can keep, and say why.
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

/** A group's shared state while its units run: its cells' rows, buffered metrics, first backend. */
function groupWriter(attempt: Attempt, cells: Cell[]) {
  const { store, experimentId } = attempt;
  const cellIds = new Map(cells.map((c) => [c.index, store.cellId(experimentId, c.index)]));
  let buffers = new Map<number, MetricRow[]>();
  let lastFlush = Date.now();
  const flush = () => {
    const pending = buffers;
    buffers = new Map();
    lastFlush = Date.now();
    attempt.write(() => {
      for (const [index, rows] of pending) store.addMetrics(cellIds.get(index)!, rows);
    });
  };
  return {
    cellIds,
    flush,
    /** Buffers a trainer's metric rows; committed every METRIC_FLUSH_MS, one transaction each. */
    metrics(cell: number, rows: MetricRow[]) {
      (buffers.get(cell) ?? buffers.set(cell, []).get(cell)!).push(...rows);
      if (Date.now() - lastFlush >= METRIC_FLUSH_MS) flush();
    },
    /** A unit's results for one cell: with the last cell's, the unit is marked done in the same commit. */
    results(unit: UnitRow, cell: number, rows: ResultRow[], last: boolean) {
      // The trainer sends every metric row before its results: the unit's rows are all in.
      flush();
      attempt.write(() => store.addUnitResults(experimentId, unit.index, cellIds.get(cell)!, rows, last));
    },
  };
}

/**
 * The unfinished units of one group of cells (one teacher, stacked students), at most `workers`
 * trainers at a time. Each unit's results are committed with its done mark, so a crash leaves every
 * unit either whole or to be run again.
 */
async function runGroupUnits(
  attempt: Attempt,
  spec: ExperimentSpec,
  cells: Cell[],
  units: UnitRow[],
  backend: BackendChoice,
  options: RunOptions,
): Promise<void> {
  const writer = groupWriter(attempt, cells);
  const byIndex = new Map(cells.map((c) => [c.index, c]));
  // Events stay per cell: every cell of the group moves together.
  const emit = (event: RunEvent) => options.onEvent?.(event);
  const emitAll = (make: (cell: Cell) => RunEvent) => cells.forEach((cell) => emit(make(cell)));
  let ready = false;
  const progress = progressTracker(units.length, emitAll);
  const firstWave = Math.min(attempt.workers, units.length);
  const pids: (number | undefined)[] = [];

  const onUnitEvent = (unit: UnitRow, k: number, resultsIn: { count: number }, event: ShardEvent) => {
    switch (event.type) {
      case 'ready':
        if (!ready) {
          ready = true;
          attempt.backend = event.backend;
          attempt.versions = event.versions;
          attempt.write(() => {
            for (const id of writer.cellIds.values())
              attempt.store.startCell(id, event.backend, event.versions);
          });
          emitAll((cell) => ({ type: 'backend', cell, backend: event.backend, versions: event.versions }));
        }
        break;
      case 'phase':
        progress.set(k, { phase: event.phase, step: 0, totalSteps: event.totalSteps });
        break;
      case 'progress':
        progress.set(k, { phase: event.phase, step: event.step, totalSteps: event.totalSteps });
        break;
      case 'metrics':
        writer.metrics(event.cell, event.rows);
        emit({ type: 'metrics', cell: byIndex.get(event.cell)!, rows: event.rows });
        break;
      case 'results':
        writer.results(unit, event.cell, event.rows, ++resultsIn.count === unit.cells.length);
        break;
    }
  };

  const runUnit = async (unit: UnitRow, k: number): Promise<ShardOutcome> => {
    const resultsIn = { count: 0 };
    const onStart = (pid: number | undefined) => {
      progress.set(k, { active: true });
      if (pids.length < firstWave && pids.push(pid) === firstWave)
        emitAll((cell) => ({ type: 'cell-start', cell, pids }));
    };
    const outcome = await runShard(
      spec,
      cells,
      unit.replicates,
      backend,
      options,
      attempt.signal,
      onStart,
      (e) => onUnitEvent(unit, k, resultsIn, e),
    );
    progress.set(k, { active: false });
    if (outcome.outOfMemory)
      outcome.error = outOfMemoryAdvice(outcome.error!, attempt.experimentId, outcome.outOfMemory);
    return outcome;
  };

  const outcomes = await runUnits(attempt, units, attempt.workers, runUnit);
  finishGroup(attempt, cells, writer, outcomes, emitAll);
}

/** A group's cells are done when all of the group's units are; otherwise they take the run's outcome. */
function finishGroup(
  attempt: Attempt,
  cells: Cell[],
  writer: ReturnType<typeof groupWriter>,
  outcomes: ShardOutcome[],
  emitAll: (make: (cell: Cell) => RunEvent) => void,
): void {
  const failed = outcomes.find((o) => o.status === 'failed');
  let outcome: UnitOutcome = failed
    ? { status: 'failed', ...(failed.error ? { error: failed.error } : {}) }
    : outcomes.every((o) => o.status === 'done')
      ? { status: 'done' }
      : { status: 'cancelled' };
  const timings = combineTimings(outcomes);
  try {
    writer.flush();
    if (outcome.status === 'done' && !groupDone(attempt, cells)) {
      outcome = { status: 'failed', error: 'a unit ended without storing its results' };
      attempt.fail(outcome.error);
    }
    attempt.write(() => {
      for (const id of writer.cellIds.values())
        attempt.store.finishCell(id, outcome.status, {
          ...(timings ? { timings } : {}),
          error: outcome.error ?? null,
        });
    });
  } catch (error) {
    // Still unwritable (the attempt has failed with the reason): the cells stay 'running' and are
    // marked interrupted at the next open.
    if (outcome.status === 'done') outcome = { status: 'failed', error: (error as Error).message };
  }
  emitAll((cell) => ({
    type: 'cell-end',
    cell,
    status: outcome.status,
    ...(outcome.error ? { error: outcome.error } : {}),
    ...(timings ? { timings } : {}),
  }));
}

function groupDone(attempt: Attempt, cells: Cell[]): boolean {
  const indices = new Set(cells.map((c) => c.index));
  return attempt.store
    .units(attempt.experimentId)
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
  attempt: Attempt,
  spec: ExperimentSpec,
  cells: Cell[],
  backend: BackendName,
  workers: number,
  { kind, maxShard }: { kind: RunEnvironment['attempt']; maxShard: number | undefined },
) {
  const { store, experimentId } = attempt;
  // As many shards as workers, more where a shard's replicates would not fit one trainer's memory
  // (they then run `workers` at a time).
  if (store.units(experimentId).length === 0)
    attempt.write(() =>
      store.planUnits(experimentId, planExperiment(cells, fitShards(spec, backend, workers, maxShard))),
    );
  else if (kind === 'resume') {
    const split = splitOversizedUnits(store.units(experimentId), spec, backend, workers, maxShard);
    if (split) attempt.write(() => store.replaceUnits(experimentId, split.removed, split.added));
  }
  return store.units(experimentId);
}

function unitGroups(units: UnitRow[]): UnitRow[][] {
  const groups = new Map<number, UnitRow[]>();
  for (const u of units) (groups.get(u.group) ?? groups.set(u.group, []).get(u.group)!).push(u);
  return [...groups.values()];
}

/** Runs an experiment's unfinished units, group by group; shared by a fresh run and a resume. */
async function executeUnits(
  attempt: Attempt,
  spec: ExperimentSpec,
  options: RunOptions,
  kind: RunEnvironment['attempt'],
): Promise<void> {
  const { store, experimentId } = attempt;
  // Resolve `auto` once so every unit of the run uses the same backend; stored for a resume.
  const concrete = await probeBackend(options.backend, options);
  attempt.write(() => store.setBackend(experimentId, concrete));
  attempt.backend = concrete;
  const cpuBound = concrete === 'wasm' || concrete === 'cpu';
  const cells = store.cells(experimentId).map((row) => row.cell);
  const byIndex = new Map(cells.map((c) => [c.index, c]));
  const requested = options.workers ?? (cpuBound ? availableParallelism() : 1);
  const plan = ensurePlan(attempt, spec, cells, concrete, requested, { kind, maxShard: options.maxShard });
  const groups = unitGroups(plan);
  const pending = groups.map((units) => units.filter((u) => u.status !== 'done'));
  attempt.workers = Math.max(1, Math.min(requested, Math.max(...pending.map((p) => p.length))));
  const toRun = groups.filter((_, g) => pending[g]!.length > 0).map((units) => [...units[0]!.cells]);
  attempt.write(() =>
    store.recordEnvironment(experimentId, captureEnvironment(kind, concrete, attempt.workers)),
  );
  options.onEvent?.({ type: 'experiment', experimentId, cells, groups: toRun, workers: attempt.workers });
  for (const [g, units] of groups.entries()) {
    const groupCells = units[0]!.cells.map((i) => byIndex.get(i)!);
    if (pending[g]!.length === 0) finishDoneGroup(attempt, groupCells, options);
    else if (!attempt.stopped) await runGroupUnits(attempt, spec, groupCells, pending[g]!, concrete, options);
  }
}

/** A group whose units were all done before (a resume after them): its cells are done. */
function finishDoneGroup(attempt: Attempt, cells: Cell[], options: RunOptions): void {
  const rows = new Map(attempt.store.cells(attempt.experimentId).map((r) => [r.index, r]));
  for (const cell of cells) {
    const row = rows.get(cell.index)!;
    if (row.status !== 'done') attempt.write(() => attempt.store.finishCell(row.id, 'done'));
    options.onEvent?.({ type: 'cell-end', cell, status: 'done' });
  }
}

export async function runExperiment(
  store: RunStore,
  spec: ExperimentSpec,
  options: RunOptions,
): Promise<RunOutcome> {
  const attempt = startAttempt(store, spec, expandMatrix(spec), null, options.signal);
  return runAttempt(attempt, 0, () => executeUnits(attempt, spec, options, 'start'));
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
  const attempt = startAttempt(store, spec, expandMatrix(spec), units, options.signal);
  return runAttempt(attempt, 0, () => executeUnits(attempt, spec, options, 'start'));
}

export interface ResumeOptions extends Omit<RunOptions, 'backend'> {
  /** Default: the backend the experiment ran on (so its numbers match), else `auto`. */
  backend?: BackendChoice;
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
  const { attempt, prior } = resumeAttempt(store, experimentId, options.signal);
  const backend = options.backend ?? (prior.backend as BackendName | null) ?? 'auto';
  return runAttempt(attempt, priorSeconds(prior), () =>
    executeUnits(attempt, valid.spec, { ...options, backend }, 'resume'),
  );
}

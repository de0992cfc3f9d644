// Runs an experiment: expands its matrix and trains each cell in trainer processes, recording
// everything in the run store. The runner is the store's only writer during a run.
// On CPU backends a cell's replicates are split into shards, one trainer process per core: each
// replicate's numbers depend only on seeds, so sharding changes wall time, not results.
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
import { forkTrainer, type TrainerSpawner } from '../trainer/spawn.ts';
import { fitShards } from '../engine/limits.ts';
export { splitReplicates } from './shards.ts';
import type { RunStatus, RunStore } from '../store/store.ts';

export type RunEvent =
  | { type: 'experiment'; experimentId: number; cells: Cell[]; workers: number }
  | { type: 'cell-start'; cell: Cell; pids: (number | undefined)[] }
  | { type: 'backend'; cell: Cell; backend: BackendName; versions: Record<string, string> }
  | { type: 'phase'; cell: Cell; phase: Phase; totalSteps: number }
  | { type: 'progress'; cell: Cell; phase: Phase; step: number; totalSteps: number }
  | { type: 'metrics'; cell: Cell; rows: MetricRow[] }
  | { type: 'cell-end'; cell: Cell; status: RunStatus; error?: string; timings?: PhaseTiming[] };

export interface RunOptions {
  backend: BackendChoice;
  cacheDir: string;
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  spawn?: TrainerSpawner;
  /** Trainer processes per cell. Default: one per core on the CPU backends, one on a GPU. */
  workers?: number;
  /** Seconds a cancelled trainer gets to stop before it is killed. */
  cancelGraceSeconds?: number;
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

    trainer.send({ type: 'start', job: { spec, cells, backend, cacheDir: options.cacheDir, replicates } });
  });
}

interface CellOutcome {
  status: RunStatus;
  error?: string;
  backend?: BackendName;
  versions?: Record<string, string>;
}

/** A group of cells (one teacher, stacked students), its replicates split into shards. */
async function runGroupSharded(
  store: RunStore,
  experimentId: number,
  spec: ExperimentSpec,
  cells: Cell[],
  backend: BackendChoice,
  shards: number[][],
  options: RunOptions,
): Promise<CellOutcome> {
  const cellIds = new Map(cells.map((c) => [c.index, store.cellId(experimentId, c.index)]));
  const byIndex = new Map(cells.map((c) => [c.index, c]));
  // Events stay per cell: every cell of the group moves together.
  const emit = (event: RunEvent) => options.onEvent?.(event);
  const emitAll = (make: (cell: Cell) => RunEvent) => cells.forEach((cell) => emit(make(cell)));
  // One shard failing stops its siblings; a user's cancel stops them all.
  const stop = new AbortController();
  const onUserAbort = () => stop.abort();
  options.signal?.addEventListener('abort', onUserAbort, { once: true });

  const storeError = (error: unknown) =>
    new Error(`cannot write to the run store ${store.path}: ${(error as Error).message}`);
  let buffers = new Map<number, MetricRow[]>();
  let lastFlush = Date.now();
  const flush = () => {
    const pending = buffers;
    buffers = new Map();
    lastFlush = Date.now();
    try {
      for (const [index, rows] of pending) store.addMetrics(cellIds.get(index)!, rows);
    } catch (error) {
      throw storeError(error);
    }
  };

  let ready: { backend: BackendName; versions: Record<string, string> } | undefined;
  const position = shards.map(() => ({ phase: 'data' as Phase, step: 0, totalSteps: 1 }));
  let shownPhase: Phase | undefined;
  // Progress is that of the slowest shard: the cell is as far as its last replicate.
  const report = () => {
    const slowest = position.reduce((a, b) =>
      PHASE_ORDER.indexOf(b.phase) < PHASE_ORDER.indexOf(a.phase) ||
      (b.phase === a.phase && b.step / b.totalSteps < a.step / a.totalSteps)
        ? b
        : a,
    );
    if (slowest.phase !== shownPhase) {
      shownPhase = slowest.phase;
      emitAll((cell) => ({ type: 'phase', cell, phase: slowest.phase, totalSteps: slowest.totalSteps }));
    }
    emitAll((cell) => ({ type: 'progress', cell, ...slowest }));
  };

  const pids: (number | undefined)[] = [];
  const outcomes = await Promise.all(
    shards.map((replicates, k) =>
      runShard(
        spec,
        cells,
        replicates,
        backend,
        options,
        stop.signal,
        (pid) => {
          if (pids.push(pid) === shards.length) emitAll((cell) => ({ type: 'cell-start', cell, pids }));
        },
        (event) => {
          switch (event.type) {
            case 'ready':
              if (!ready) {
                ready = { backend: event.backend, versions: event.versions };
                try {
                  for (const id of cellIds.values()) store.startCell(id, event.backend, event.versions);
                } catch (error) {
                  throw storeError(error);
                }
                emitAll((cell) => ({ type: 'backend', cell, ...ready! }));
              }
              break;
            case 'phase':
              position[k] = { phase: event.phase, step: 0, totalSteps: event.totalSteps };
              report();
              break;
            case 'progress':
              position[k] = { phase: event.phase, step: event.step, totalSteps: event.totalSteps };
              report();
              break;
            case 'metrics':
              (buffers.get(event.cell) ?? buffers.set(event.cell, []).get(event.cell)!).push(...event.rows);
              if (Date.now() - lastFlush >= METRIC_FLUSH_MS) flush();
              emit({ type: 'metrics', cell: byIndex.get(event.cell)!, rows: event.rows });
              break;
            case 'results':
              flush();
              try {
                store.addResults(cellIds.get(event.cell)!, event.rows);
              } catch (error) {
                throw storeError(error);
              }
              break;
          }
        },
      ).then((outcome) => {
        if (outcome.status !== 'done') stop.abort();
        return outcome;
      }),
    ),
  );
  options.signal?.removeEventListener('abort', onUserAbort);

  const failed = outcomes.find((o) => o.status === 'failed');
  let outcome: CellOutcome = failed
    ? { status: 'failed', ...(failed.error ? { error: failed.error } : {}) }
    : outcomes.every((o) => o.status === 'done')
      ? { status: 'done' }
      : { status: 'cancelled' };
  // Shards ran side by side: a phase took as long as its slowest shard and trained all their models.
  const timings: PhaseTiming[] | undefined =
    outcome.status === 'done'
      ? outcomes[0]!.timings!.map((t, i) => ({
          phase: t.phase,
          seconds: Math.max(...outcomes.map((o) => o.timings![i]!.seconds)),
          modelSamples: outcomes.reduce((n, o) => n + o.timings![i]!.modelSamples, 0),
        }))
      : undefined;
  try {
    flush();
    for (const id of cellIds.values()) {
      store.finishCell(id, outcome.status, { ...(timings ? { timings } : {}), error: outcome.error ?? null });
    }
  } catch (error) {
    // Still unwritable: the cell stays 'running' and is marked interrupted at the next open.
    if (outcome.status === 'done') outcome = { status: 'failed', error: storeError(error).message };
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

/** Which backend `auto` means on this machine, asked of a short-lived trainer process. */
export function probeBackend(
  choice: BackendChoice,
  options: Pick<RunOptions, 'spawn'>,
): Promise<BackendName> {
  if (choice !== 'auto') return Promise.resolve(choice);
  const trainer = (options.spawn ?? forkTrainer)();
  return new Promise((resolve, reject) => {
    let answer: BackendName | undefined;
    let error = 'the backend probe ended without an answer';
    trainer.onMessage((m) => {
      if (m.type === 'ready') answer = m.backend;
      if (m.type === 'error') error = m.message;
    });
    trainer.onExit(() => (answer ? resolve(answer) : reject(new Error(error))));
    trainer.send({ type: 'probe', backend: choice });
  });
}

export async function runExperiment(
  store: RunStore,
  spec: ExperimentSpec,
  options: RunOptions,
): Promise<RunOutcome> {
  const cells = expandMatrix(spec);
  const experimentId = store.createExperiment(spec, cells);
  const started = performance.now();
  store.startExperiment(experimentId);
  let status: RunStatus = 'done';
  let error: string | undefined;
  let backend: BackendName | null = null;
  let versions: Record<string, string> | null = null;
  let workers = 1;
  try {
    // Resolve `auto` once so every shard and cell of the run uses the same backend.
    const concrete = await probeBackend(options.backend, options);
    const cpuBound = concrete === 'wasm' || concrete === 'cpu';
    workers = options.workers ?? (cpuBound ? availableParallelism() : 1);
    const shards = fitShards(spec, concrete, workers);
    workers = shards.length;
    options.onEvent?.({ type: 'experiment', experimentId, cells, workers });
    // Cells sharing a trait train together; groups come in the order that covers the matrix early.
    for (const group of groupCells(scheduleOrder(cells))) {
      if (options.signal?.aborted) {
        status = 'cancelled';
        break;
      }
      const outcome = await runGroupSharded(store, experimentId, spec, group, concrete, shards, options);
      backend = outcome.backend ?? backend;
      versions = outcome.versions ?? versions;
      if (outcome.status !== 'done') {
        status = outcome.status;
        error = outcome.error;
        break;
      }
    }
  } catch (probeError) {
    status = 'failed';
    error = (probeError as Error).message;
  }
  const wallSeconds = (performance.now() - started) / 1000;
  try {
    if (status !== 'done') {
      // Cells that never ran keep no 'queued' state behind a finished experiment.
      for (const row of store.cells(experimentId))
        if (row.status === 'queued') store.finishCell(row.id, 'cancelled');
    }
    store.finishExperiment(experimentId, status, { wallSeconds, error: error ?? null, backend, versions });
  } catch (storeError) {
    // Unwritable store: report it; the run is marked interrupted when the store next opens.
    status = 'failed';
    error ??= `cannot write to the run store ${store.path}: ${(storeError as Error).message}`;
  }
  return { experimentId, status, backend, wallSeconds, workers, ...(error ? { error } : {}) };
}

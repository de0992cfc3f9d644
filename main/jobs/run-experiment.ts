// Runs an experiment: expands its matrix, trains each cell in a trainer process, and records
// everything in the run store. The runner is the store's only writer during a run.
import { expandMatrix, type Cell } from '../../app/matrix.ts';
import type {
  BackendChoice,
  BackendName,
  FromTrainer,
  MetricRow,
  Phase,
  PhaseTiming,
} from '../../app/protocol.ts';
import type { ExperimentSpec } from '../../app/spec/schema.ts';
import { forkTrainer, type TrainerSpawner } from '../trainer/spawn.ts';
import type { RunStatus, RunStore } from '../store/store.ts';

export type RunEvent =
  | { type: 'experiment'; experimentId: number; cells: Cell[] }
  | { type: 'cell-start'; cell: Cell; pid: number | undefined }
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
  /** Seconds a cancelled trainer gets to stop before it is killed. */
  cancelGraceSeconds?: number;
}

export interface RunOutcome {
  experimentId: number;
  status: RunStatus;
  backend: BackendName | null;
  wallSeconds: number;
  error?: string;
}

const METRIC_FLUSH_MS = 500;

interface CellOutcome {
  status: RunStatus;
  error?: string;
  backend?: BackendName;
  versions?: Record<string, string>;
}

function runCellInTrainer(
  store: RunStore,
  experimentId: number,
  spec: ExperimentSpec,
  cell: Cell,
  options: RunOptions,
): Promise<CellOutcome> {
  const cellId = store.cellId(experimentId, cell.index);
  const trainer = (options.spawn ?? forkTrainer)();
  const emit = (event: RunEvent) => options.onEvent?.(event);
  emit({ type: 'cell-start', cell, pid: trainer.pid });

  let buffer: MetricRow[] = [];
  let lastFlush = Date.now();
  const flush = () => {
    store.addMetrics(cellId, buffer);
    buffer = [];
    lastFlush = Date.now();
  };

  return new Promise((resolve) => {
    let outcome: CellOutcome | undefined;
    let backend: BackendName | undefined;
    let versions: Record<string, string> | undefined;
    let killTimer: NodeJS.Timeout | undefined;

    const onAbort = () => {
      trainer.send({ type: 'cancel' });
      killTimer = setTimeout(() => trainer.kill('SIGKILL'), (options.cancelGraceSeconds ?? 10) * 1000);
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });

    trainer.onMessage((message: FromTrainer) => {
      if (outcome?.status === 'failed') return;
      try {
        handle(message);
      } catch (error) {
        // The store refused a write (disk full, file removed...): stop training rather than compute
        // results nobody can keep, and say why.
        outcome = {
          status: 'failed',
          error: `cannot write to the run store ${store.path}: ${(error as Error).message}`,
        };
        buffer = [];
        trainer.kill('SIGKILL');
      }
    });

    const handle = (message: FromTrainer) => {
      switch (message.type) {
        case 'ready':
          backend = message.backend;
          versions = message.versions;
          store.startCell(cellId, message.backend, message.versions);
          emit({ type: 'backend', cell, backend: message.backend, versions: message.versions });
          break;
        case 'phase':
          emit({ type: 'phase', cell, phase: message.phase, totalSteps: message.totalSteps });
          break;
        case 'progress':
          emit({
            type: 'progress',
            cell,
            phase: message.phase,
            step: message.step,
            totalSteps: message.totalSteps,
          });
          break;
        case 'metrics':
          buffer.push(...message.rows);
          if (Date.now() - lastFlush >= METRIC_FLUSH_MS) flush();
          emit({ type: 'metrics', cell, rows: message.rows });
          break;
        case 'results':
          flush();
          store.addResults(cellId, message.rows);
          break;
        case 'done':
          store.finishCell(cellId, 'done', { timings: message.timings });
          outcome = { status: 'done' };
          emit({ type: 'cell-end', cell, status: 'done', timings: message.timings });
          break;
        case 'cancelled':
          outcome = { status: 'cancelled' };
          break;
        case 'error':
          outcome = { status: 'failed', error: message.message };
          break;
      }
    };

    trainer.onExit((code, signal, stderrTail) => {
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      try {
        flush();
      } catch (error) {
        outcome ??= {
          status: 'failed',
          error: `cannot write to the run store ${store.path}: ${(error as Error).message}`,
        };
      }
      if (!outcome) {
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        outcome = options.signal?.aborted
          ? { status: 'cancelled' }
          : {
              status: 'failed',
              error: `the trainer process ${how}${stderrTail.trim() ? `:\n${stderrTail.trim()}` : ''}`,
            };
      }
      if (outcome.status !== 'done') {
        try {
          store.finishCell(cellId, outcome.status, { error: outcome.error ?? null });
        } catch {
          // Still unwritable: the cell stays 'running' and is marked interrupted at the next open.
        }
        emit({
          type: 'cell-end',
          cell,
          status: outcome.status,
          ...(outcome.error ? { error: outcome.error } : {}),
        });
      }
      resolve({ ...outcome, ...(backend ? { backend } : {}), ...(versions ? { versions } : {}) });
    });

    trainer.send({
      type: 'start',
      job: { spec, cell, backend: options.backend, cacheDir: options.cacheDir },
    });
  });
}

export async function runExperiment(
  store: RunStore,
  spec: ExperimentSpec,
  options: RunOptions,
): Promise<RunOutcome> {
  const cells = expandMatrix(spec);
  const experimentId = store.createExperiment(spec, cells);
  options.onEvent?.({ type: 'experiment', experimentId, cells });
  return resumeExperiment(store, experimentId, spec, cells, options);
}

async function resumeExperiment(
  store: RunStore,
  experimentId: number,
  spec: ExperimentSpec,
  cells: Cell[],
  options: RunOptions,
): Promise<RunOutcome> {
  const started = performance.now();
  store.startExperiment(experimentId);
  let status: RunStatus = 'done';
  let error: string | undefined;
  let backend: BackendName | null = null;
  let versions: Record<string, string> | null = null;
  for (const cell of cells) {
    if (options.signal?.aborted) {
      status = 'cancelled';
      break;
    }
    const outcome = await runCellInTrainer(store, experimentId, spec, cell, options);
    backend = outcome.backend ?? backend;
    versions = outcome.versions ?? versions;
    if (outcome.status !== 'done') {
      status = outcome.status;
      error = outcome.error;
      break;
    }
  }
  if (status !== 'done') {
    // Cells that never ran keep no 'queued' state behind a finished experiment.
    try {
      for (const row of store.cells(experimentId))
        if (row.status === 'queued') store.finishCell(row.id, 'cancelled');
    } catch {
      // see finishExperiment below
    }
  }
  const wallSeconds = (performance.now() - started) / 1000;
  try {
    store.finishExperiment(experimentId, status, { wallSeconds, error: error ?? null, backend, versions });
  } catch (storeError) {
    // Unwritable store: report it; the run is marked interrupted when the store next opens.
    status = 'failed';
    error ??= `cannot write to the run store ${store.path}: ${(storeError as Error).message}`;
  }
  return { experimentId, status, backend, wallSeconds, ...(error ? { error } : {}) };
}

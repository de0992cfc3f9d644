// The one runner of units every experiment family plugs its unit work into (the classifier's trainer
// shards, the language family's replicate processes). An attempt (a start or a resume) owns its
// experiment through a lease: every write goes through it, so an attempt whose run was taken over
// changes nothing and stops. The attempt beats its heartbeat, runs the units in lanes, stops every
// lane at the first failure (no unit starts after it, running ones are stopped), and always stores
// how the experiment ended, failed runs resumable unit by unit.
import { setMaxListeners } from 'node:events';
import type { BackendName } from '../../app/protocol.ts';
import type { Cell } from '../../app/matrix.ts';
import type { ExperimentSpec } from '../../app/spec/schema.ts';
import type { LanguageCell, LanguageSpec } from '../../app/spec/language.ts';
import type { LlmCell, LlmSpec } from '../../app/spec/llm.ts';
import { OwnershipLost, StoreWriteError, type RunLease } from '../store/lease.ts';
import {
  HEARTBEAT_INTERVAL_MS,
  type ExperimentRow,
  type RunStatus,
  type RunStore,
  type UnitPlan,
  type UnitRow,
} from '../store/store.ts';

export interface RunOutcome {
  experimentId: number;
  /** `interrupted`: this attempt lost its experiment to another (a resume after its heartbeat went stale). */
  status: RunStatus;
  backend: BackendName | null;
  wallSeconds: number;
  workers: number;
  error?: string;
}

/** How a unit's work ended; a family's outcome may carry more (timings). */
export interface UnitOutcome {
  status: RunStatus;
  error?: string;
}

/** One attempt at an experiment: its lease, the signal that stops its lanes, and how it is going. */
export class Attempt {
  /** Aborted on the user's cancel, the first failure, or the loss of the experiment. */
  private readonly stopper = new AbortController();
  /** The first failure, and the unit it happened in where known. */
  private failure: { cause: unknown; where?: string } | undefined;
  private lost: OwnershipLost | undefined;
  private readonly onCancel = () => this.stopper.abort();
  backend: BackendName | null = null;
  versions: Record<string, string> | null = null;
  workers = 1;

  constructor(
    readonly store: RunStore,
    readonly lease: RunLease,
    private readonly cancel?: AbortSignal,
  ) {
    // Every request and wait in flight in every lane listens to this one signal (an llm stage has
    // dozens at once), so Node's leak warning past 10 listeners would be noise, not a leak.
    setMaxListeners(0, this.stopper.signal);
    if (cancel?.aborted) this.stopper.abort();
    else cancel?.addEventListener('abort', this.onCancel, { once: true });
  }

  get experimentId(): number {
    return this.lease.experimentId;
  }

  get signal(): AbortSignal {
    return this.stopper.signal;
  }

  get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  /** A write through the lease; a refused one (store error, lost ownership) fails the attempt. */
  write<T>(fn: () => T): T {
    try {
      return this.lease.write(fn);
    } catch (error) {
      this.fail(error);
      throw error;
    }
  }

  /**
   * The attempt fails and every lane stops. The first reason is kept; `where` (the unit) is added
   * when that same reason is reported again by the unit runner, which knows the unit.
   */
  fail(reason: unknown, where?: string): void {
    if (reason instanceof OwnershipLost) this.lost ??= reason;
    else if (!this.failure || (where && !this.failure.where && this.failure.cause === reason))
      this.failure = { cause: reason, ...(where ? { where } : {}) };
    this.stopper.abort();
  }

  /** How the attempt ended: lost beats failed beats cancelled beats done. */
  verdict(): { status: RunStatus; error?: string } {
    if (this.lost) return { status: 'interrupted', error: this.lost.message };
    if (this.failure) {
      const { cause, where } = this.failure;
      const message = cause instanceof Error ? cause.message : String(cause);
      return { status: 'failed', error: where ? `${where}: ${message}` : message };
    }
    return { status: this.cancel?.aborted ? 'cancelled' : 'done' };
  }

  dispose(): void {
    this.cancel?.removeEventListener('abort', this.onCancel);
  }
}

/** A new experiment, its plan stored when given, started under a fresh attempt of this process. */
export function startAttempt(
  store: RunStore,
  spec: ExperimentSpec | LanguageSpec | LlmSpec,
  cells: readonly (Cell | LanguageCell | LlmCell)[],
  plan: readonly UnitPlan[] | null,
  cancel?: AbortSignal,
): Attempt {
  const id = store.createExperiment(spec, cells);
  if (plan) store.planUnits(id, plan);
  return new Attempt(store, store.startExperiment(id), cancel);
}

/** A stopped experiment claimed for a resume; `prior` is its row before the claim. */
export function resumeAttempt(
  store: RunStore,
  experimentId: number,
  cancel?: AbortSignal,
): { attempt: Attempt; prior: ExperimentRow } {
  const { prior, lease } = store.claimForResume(experimentId);
  return { attempt: new Attempt(store, lease, cancel), prior };
}

/** Seconds an earlier attempt ran: its stored wall time, or for a killed run start to last heartbeat. */
export function priorSeconds(row: ExperimentRow): number {
  if (row.wallSeconds !== null) return row.wallSeconds;
  if (row.startedAt === null || row.heartbeatAt === null) return 0;
  return Math.max(0, (row.heartbeatAt - Date.parse(row.startedAt)) / 1000);
}

/** Runs `tasks` at most `limit` at a time, in order; their results come back in task order. */
export async function runLimited<T>(tasks: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    while (next < tasks.length && !failure) {
      const i = next++;
      try {
        results[i] = await tasks[i]!();
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  // After a failure no task starts, and the call returns only once the running ones have ended, so
  // nothing a caller's `finally` tears down (a lease, a store) is still in use by a sibling.
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, tasks.length)) }, lane));
  if (failure) throw failure.error;
  return results;
}

/**
 * Runs `units` at most `workers` at a time. Each is marked running (what an earlier attempt left of
 * it deleted) before its `work` starts; `work` stores the unit's rows with its done mark and stops
 * when `attempt.signal` aborts. A unit that fails (its work says so or throws) fails the attempt,
 * which stops the others; units not yet started then never start. `label` names a unit in the failure.
 */
export function runUnits<O extends UnitOutcome>(
  attempt: Attempt,
  units: readonly UnitRow[],
  workers: number,
  work: (unit: UnitRow, k: number) => Promise<O>,
  label?: (unit: UnitRow) => string,
): Promise<(O | UnitOutcome)[]> {
  const { store, experimentId } = attempt;
  const runOne = async (unit: UnitRow, k: number): Promise<O | UnitOutcome> => {
    if (attempt.stopped) return { status: 'cancelled' };
    const where = label?.(unit);
    let outcome: O | UnitOutcome;
    try {
      attempt.write(() => store.startUnit(experimentId, unit.index));
      outcome = await work(unit, k);
      if (outcome.status === 'failed') attempt.fail(outcome.error ?? 'a unit failed', where);
    } catch (error) {
      const refused = error instanceof StoreWriteError || error instanceof OwnershipLost;
      if (attempt.stopped && !refused) outcome = { status: 'cancelled' };
      else {
        outcome = { status: 'failed', error: (error as Error).message };
        attempt.fail(error, where);
      }
    }
    if (outcome.status !== 'done') {
      try {
        attempt.lease.write(() =>
          store.finishUnit(experimentId, unit.index, outcome.status, outcome.error ?? null),
        );
      } catch {
        // Unwritable or lost: the unit stays 'running', is marked interrupted at the next open, and
        // runs again on resume.
      }
    }
    return outcome;
  };
  return runLimited(
    units.map((unit, k) => () => runOne(unit, k)),
    workers,
  );
}

/**
 * Runs an attempt's `body` with its heartbeat, then stores how the experiment ended, whatever the
 * body did: cells not done take the run's status, and the experiment its status and wall time. A
 * heartbeat refused because the experiment was taken over stops the attempt at once.
 */
export async function runAttempt(
  attempt: Attempt,
  priorSeconds: number,
  body: () => Promise<void>,
): Promise<RunOutcome> {
  const started = performance.now();
  const beat = setInterval(() => {
    try {
      attempt.lease.heartbeat();
    } catch (error) {
      // A busy or briefly unwritable store: the next beat tries again, well within the stale limit.
      if (error instanceof OwnershipLost) attempt.fail(error);
    }
  }, HEARTBEAT_INTERVAL_MS);
  try {
    await body();
  } catch (error) {
    attempt.fail(error);
  } finally {
    clearInterval(beat);
    attempt.dispose();
  }
  return finishAttempt(attempt, priorSeconds + (performance.now() - started) / 1000);
}

function finishAttempt(attempt: Attempt, wallSeconds: number): RunOutcome {
  let { status, error } = attempt.verdict();
  const { store, experimentId, backend, versions, workers } = attempt;
  if (status !== 'interrupted') {
    try {
      attempt.lease.write(() => {
        finishCells(store, experimentId, status);
        store.finishExperiment(experimentId, status, {
          wallSeconds,
          error: error ?? null,
          backend,
          versions,
        });
      });
    } catch (writeError) {
      // Unwritable: the run is marked interrupted when the store next opens, and can be resumed.
      status = writeError instanceof OwnershipLost ? 'interrupted' : 'failed';
      error =
        writeError instanceof OwnershipLost ? writeError.message : (error ?? (writeError as Error).message);
    }
  }
  return { experimentId, status, backend, wallSeconds, workers, ...(error ? { error } : {}) };
}

/** Cells whose units are all done are done; the others, unless finished already, take `status`. */
function finishCells(store: RunStore, experimentId: number, status: RunStatus): void {
  const units = store.units(experimentId);
  for (const cell of store.cells(experimentId)) {
    if (cell.status === 'done' || cell.status === 'failed' || cell.status === 'cancelled') continue;
    const own = units.filter((u) => u.cells.includes(cell.index));
    const done = own.length > 0 && own.every((u) => u.status === 'done');
    store.finishCell(cell.id, done ? 'done' : status === 'done' ? 'failed' : status);
  }
}

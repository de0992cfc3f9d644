// The run store: one SQLite file (WAL). Each run has one writer (its job runner); several runs may
// share a file, their short transactions serialised by SQLite's lock (busy_timeout).
// Crash safety comes from SQLite's transactions: a run's rows are committed in batches, so a crash
// loses at most the last uncommitted batch and never corrupts what was committed. A run whose owner
// process died, or whose heartbeat went stale while no live process on this host owns it, is marked
// `interrupted` the next time any process opens the store; its unfinished units can then be resumed.
// A runner writes through its attempt's lease (lease.ts), so one that lost its run changes nothing.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import type { RunEnvironment } from '../../app/api.ts';
import type { Cell } from '../../app/matrix.ts';
import type { BackendName, DivergenceReason, MetricRow, PhaseTiming, ResultRow } from '../../app/protocol.ts';
import type { ExperimentSpec } from '../../app/spec/schema.ts';
import type { LanguageCell, LanguageSpec } from '../../app/spec/language.ts';
import type { LlmCell, LlmSpec } from '../../app/spec/llm.ts';
import { specHash } from '../../app/spec/hash.ts';
import { finalMetricRows } from './metric-keys.ts';
import { MIGRATIONS } from './migrations.ts';
import { RunLease } from './lease.ts';
import { newOwner, ownerLiveness, processStart } from './owner.ts';

export type RunStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'interrupted';

/** The stale limit: 30 s, or $SUBLAB_HEARTBEAT_STALE_MS (tests that stop a run need not wait). */
function staleLimit(): number {
  const set = process.env.SUBLAB_HEARTBEAT_STALE_MS;
  if (set === undefined || set === '') return 30_000;
  const ms = Number(set);
  if (!Number.isInteger(ms) || ms < 100)
    throw new Error(
      `SUBLAB_HEARTBEAT_STALE_MS is ${JSON.stringify(set)}: give whole milliseconds, at least 100`,
    );
  return ms;
}

/**
 * A heartbeat older than this means the run's process is gone, unless that process is alive on this
 * host: another host's run, or one whose PID now names another process, is judged by its silence.
 */
export const HEARTBEAT_STALE_MS = staleLimit();
/** How often a running experiment's runner writes its heartbeat: well within the stale limit. */
export const HEARTBEAT_INTERVAL_MS = Math.min(2_000, Math.floor(HEARTBEAT_STALE_MS / 4));

/**
 * One unit of work: the cells of a group (one teacher, stacked students) x a shard of its replicates.
 * Its results depend only on the spec and the replicates' seeds, so it can run anywhere, any time.
 */
export interface UnitPlan {
  index: number;
  /** Position of the unit's group in the run order; the units of a group cover the same cells. */
  group: number;
  /** Cell indices (positions in the expanded matrix) the unit trains. */
  cells: number[];
  /** Replicate indices the unit trains. */
  replicates: number[];
}

/** One unit's rows as another store computed them, to be stored as that unit's outcome. */
export interface ImportedUnit {
  index: number;
  startedAt: string | null;
  finishedAt: string | null;
  cells: { index: number; results: ResultRow[]; metrics: MetricRow[] }[];
}

export interface UnitRow extends UnitPlan {
  experimentId: number;
  status: RunStatus;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
}

interface RawUnit {
  experiment_id: number;
  idx: number;
  grp: number;
  cells_json: string;
  replicates_json: string;
  status: RunStatus;
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
}

export interface ExperimentRow {
  id: number;
  name: string;
  spec: ExperimentSpec;
  specHash: string;
  status: RunStatus;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  notes: string;
  tags: string[];
  backend: string | null;
  versions: Record<string, string> | null;
  wallSeconds: number | null;
  error: string | null;
  ownerPid: number | null;
  ownerHost: string | null;
  /** The owner process's start (owner.ts), to tell it from a later process given its PID. */
  ownerStarted: string | null;
  /** The runner's last heartbeat, ms since the epoch; null before the first. */
  heartbeatAt: number | null;
  /** Machine and software of each attempt; null for experiments stored before they were recorded. */
  environments: RunEnvironment[] | null;
}

export interface CellRow {
  id: number;
  experimentId: number;
  index: number;
  cell: Cell;
  status: RunStatus;
  backend: string | null;
  timings: PhaseTiming[] | null;
  error: string | null;
}

interface RawExperiment {
  id: number;
  name: string;
  spec_json: string;
  spec_hash: string;
  status: RunStatus;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  notes: string;
  tags_json: string;
  backend: string | null;
  versions_json: string | null;
  wall_seconds: number | null;
  error: string | null;
  owner_pid: number | null;
  owner_host: string | null;
  owner_started: string | null;
  heartbeat_at: number | null;
  environment_json: string | null;
}

interface RawCell {
  id: number;
  experiment_id: number;
  idx: number;
  cell_json: string;
  status: RunStatus;
  backend: string | null;
  timings_json: string | null;
  error: string | null;
}

type RawResult = Omit<ResultRow, 'diverged'> & {
  phase: 'teacher' | 'students' | null;
  step: number | null;
  reason: DivergenceReason | null;
};

function checkResult(r: ResultRow): void {
  const where = `result of ${r.condition} replicate ${r.replicate}`;
  if (r.diverged) {
    if (r.accuracy !== null || r.traitScore !== null)
      throw new Error(`${where} diverged, so it cannot have an accuracy or trait score`);
    return;
  }
  if (r.accuracy === null || !Number.isFinite(r.accuracy))
    throw new Error(
      `${where} has accuracy ${r.accuracy} but did not diverge: only finite values can be stored`,
    );
  if (r.traitScore !== null && !Number.isFinite(r.traitScore))
    throw new Error(`${where} has trait score ${r.traitScore}: only finite values can be stored`);
}

const now = () => new Date().toISOString();

function toExperiment(r: RawExperiment): ExperimentRow {
  return {
    id: r.id,
    name: r.name,
    spec: JSON.parse(r.spec_json) as ExperimentSpec,
    specHash: r.spec_hash,
    status: r.status,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    notes: r.notes,
    tags: JSON.parse(r.tags_json) as string[],
    backend: r.backend,
    versions: r.versions_json ? (JSON.parse(r.versions_json) as Record<string, string>) : null,
    wallSeconds: r.wall_seconds,
    error: r.error,
    ownerPid: r.owner_pid,
    ownerHost: r.owner_host,
    ownerStarted: r.owner_started,
    heartbeatAt: r.heartbeat_at,
    environments: r.environment_json ? (JSON.parse(r.environment_json) as RunEnvironment[]) : null,
  };
}

function toUnit(r: RawUnit): UnitRow {
  return {
    experimentId: r.experiment_id,
    index: r.idx,
    group: r.grp,
    cells: JSON.parse(r.cells_json) as number[],
    replicates: JSON.parse(r.replicates_json) as number[],
    status: r.status,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    error: r.error,
  };
}

function toCell(r: RawCell): CellRow {
  return {
    id: r.id,
    experimentId: r.experiment_id,
    index: r.idx,
    cell: JSON.parse(r.cell_json) as Cell,
    status: r.status,
    backend: r.backend,
    timings: r.timings_json ? (JSON.parse(r.timings_json) as PhaseTiming[]) : null,
    error: r.error,
  };
}

/** Why a running experiment cannot be resumed: who owns it, and for a stopped owner here, what to do. */
function stillRunning(row: ExperimentRow): string {
  const silent = row.heartbeatAt === null ? null : (Date.now() - row.heartbeatAt) / 1000;
  const beat = silent === null ? '' : `, last heartbeat ${silent.toFixed(1)} s ago`;
  const owner = `process ${row.ownerPid ?? '?'} on ${row.ownerHost ?? '?'}`;
  let message = `experiment ${row.id} is ${row.status} (${owner}${beat}); it cannot be resumed while it runs`;
  const alive =
    row.ownerPid !== null &&
    ownerLiveness({ pid: row.ownerPid, host: row.ownerHost, started: row.ownerStarted }) === 'alive';
  if (alive && silent !== null && silent * 1000 > HEARTBEAT_STALE_MS)
    message += `: ${owner} is alive though silent, stopped (Ctrl-Z, SIGSTOP) or suspended; \`kill -CONT ${row.ownerPid}\` lets it go on`;
  return message;
}

export class RunStore {
  readonly db: Database.Database;
  private readonly insertMetric: Database.Statement;

  /** `nativeBinding`: the better-sqlite3 addon to load (the desktop app's copy built for Electron). */
  constructor(
    readonly path: string,
    options: { nativeBinding?: string } = {},
  ) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    try {
      this.db = new Database(path, options.nativeBinding ? { nativeBinding: options.nativeBinding } : {});
      this.db.pragma('journal_mode = WAL');
      // NORMAL in WAL mode: a committed transaction survives a process crash; only an OS crash or
      // power loss can lose the last commits, never consistency.
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      this.db.pragma('busy_timeout = 5000');
      this.migrate();
    } catch (error) {
      throw new Error(`cannot open the run store ${path}: ${(error as Error).message}`, { cause: error });
    }
    this.insertMetric = this.db.prepare(
      // The key (cell, condition, name, step, replicate) holds one value: a batch written again replaces.
      'INSERT OR REPLACE INTO metrics (cell_id, condition, replicate, step, name, value) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.recoverInterrupted();
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  private migrate(): void {
    const version = this.schemaVersion;
    if (version > MIGRATIONS.length) {
      throw new Error(
        `the database has schema version ${version}, newer than this program's ${MIGRATIONS.length}; update Subliminal Lab`,
      );
    }
    // One step per IMMEDIATE transaction that reads the version under the write lock: two processes
    // opening a new file at once would otherwise both run the first step ("table already exists").
    const step = this.db.transaction((): boolean => {
      const v = this.schemaVersion;
      if (v >= MIGRATIONS.length) return false;
      this.db.exec(MIGRATIONS[v]!);
      this.db.pragma(`user_version = ${v + 1}`);
      return true;
    });
    while (step.immediate()) {
      // next step
    }
  }

  /**
   * Runs left `running`/`queued` become `interrupted` when their owner is a dead process on this host,
   * or when their heartbeat is stale and their owner is not a live process here: a reused PID or
   * another host's run that died is recognised by its silence. A live owner here is never recovered,
   * however silent: stopped (Ctrl-Z, SIGSTOP) or suspended, it goes on when continued.
   */
  recoverInterrupted(): number[] {
    const nowMs = Date.now();
    const stale = (
      this.db
        .prepare(
          // A cluster experiment waiting for its tasks has no local process and no heartbeat: it is
          // as alive as its scheduler says (sublab collect asks); a local resume of one beats as usual.
          `SELECT id, owner_pid, owner_host, owner_started, heartbeat_at FROM experiments WHERE status IN ('running', 'queued')
           AND NOT (heartbeat_at IS NULL AND id IN (SELECT experiment_id FROM clusters))`,
        )
        .all() as {
        id: number;
        owner_pid: number | null;
        owner_host: string | null;
        owner_started: string | null;
        heartbeat_at: number | null;
      }[]
    ).filter((r) => {
      if (r.owner_pid === null) return true;
      const liveness = ownerLiveness({ pid: r.owner_pid, host: r.owner_host, started: r.owner_started });
      if (liveness !== 'unknown') return liveness === 'dead';
      return r.heartbeat_at !== null && nowMs - r.heartbeat_at > HEARTBEAT_STALE_MS;
    });
    if (stale.length === 0) return [];
    const mark = this.db.transaction((ids: number[]) => {
      for (const id of ids) {
        this.db
          .prepare(
            "UPDATE experiments SET status = 'interrupted', finished_at = ?, error = coalesce(error, 'the process running it stopped unexpectedly') WHERE id = ?",
          )
          .run(now(), id);
        this.db
          .prepare(
            "UPDATE cells SET status = 'interrupted' WHERE experiment_id = ? AND status IN ('running', 'queued')",
          )
          .run(id);
        this.db
          .prepare("UPDATE units SET status = 'interrupted' WHERE experiment_id = ? AND status = 'running'")
          .run(id);
      }
    });
    const ids = stale.map((r) => r.id);
    mark(ids);
    return ids;
  }

  /** Either family: a classifier spec with its cells, or a language spec (kind "language") with its cells. */
  createExperiment(
    spec: ExperimentSpec | LanguageSpec | LlmSpec,
    cells: readonly (Cell | LanguageCell | LlmCell)[],
  ): number {
    return this.db.transaction(() => {
      const info = this.db
        .prepare(
          `INSERT INTO experiments (name, spec_json, spec_hash, status, created_at, tags_json, owner_pid, owner_host, owner_started)
           VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?)`,
        )
        .run(
          spec.name,
          JSON.stringify(spec),
          specHash(spec),
          now(),
          JSON.stringify(spec.tags),
          process.pid,
          hostname(),
          processStart(process.pid),
        );
      const id = Number(info.lastInsertRowid);
      const insertCell = this.db.prepare(
        `INSERT INTO cells (experiment_id, idx, trait, filter, architecture, cell_json, status) VALUES (?, ?, ?, ?, ?, ?, 'queued')`,
      );
      for (const cell of cells) {
        insertCell.run(
          id,
          cell.index,
          cell.coords.trait,
          cell.coords.filter,
          cell.coords.architecture,
          JSON.stringify(cell),
        );
      }
      return id;
    })();
  }

  /** Marks an experiment running under a new attempt of this process: the lease its writes go through. */
  startExperiment(id: number): RunLease {
    const owner = newOwner();
    this.db
      .prepare(
        `UPDATE experiments SET status = 'running', started_at = ?, owner_pid = ?, owner_host = ?, owner_started = ?,
         owner_token = ?, heartbeat_at = ? WHERE id = ?`,
      )
      .run(now(), owner.pid, owner.host, owner.started, owner.token, Date.now(), id);
    return new RunLease(this.db, this.path, id, owner);
  }

  /**
   * Takes over a stopped experiment for a resume: it becomes `running`, owned by a new attempt of this
   * process, and its unfinished cells `queued`. Atomic, so two resumes of one experiment cannot both
   * start; the attempt it was taken from can write nothing more. `prior`: the row before the claim.
   */
  claimForResume(id: number): { prior: ExperimentRow; lease: RunLease } {
    this.recoverInterrupted();
    const owner = newOwner();
    const prior = this.db
      .transaction(() => {
        const row = this.getExperiment(id);
        if (!row) throw new Error(`no experiment with id ${id} in ${this.path}`);
        if (row.status === 'done') throw new Error(`experiment ${id} is already done; nothing to resume`);
        if (row.status === 'running' || row.status === 'queued') throw new Error(stillRunning(row));
        this.db
          .prepare(
            `UPDATE experiments SET status = 'running', owner_pid = ?, owner_host = ?, owner_started = ?, owner_token = ?,
             heartbeat_at = ?, finished_at = NULL, error = NULL WHERE id = ?`,
          )
          .run(owner.pid, owner.host, owner.started, owner.token, Date.now(), id);
        this.db
          .prepare(
            "UPDATE cells SET status = 'queued', error = NULL WHERE experiment_id = ? AND status != 'done'",
          )
          .run(id);
        return row;
      })
      // IMMEDIATE: take the write lock before reading, so a concurrent claim waits instead of racing.
      .immediate();
    return { prior, lease: new RunLease(this.db, this.path, id, owner) };
  }

  /**
   * Stores a run as cancelled whatever its runner was doing: the last resort of a process that must
   * exit now, so that no row is left `running`.
   */
  abandon(id: number): void {
    this.db.transaction(() => {
      // Only a run this process still owns: one taken over meanwhile is its new owner's.
      const info = this.db
        .prepare(
          `UPDATE experiments SET status = 'cancelled', finished_at = ? WHERE id = ? AND status IN ('running', 'queued')
           AND owner_pid = ? AND owner_host = ?`,
        )
        .run(now(), id, process.pid, hostname());
      if (info.changes === 0) return;
      this.db
        .prepare(
          "UPDATE cells SET status = 'cancelled' WHERE experiment_id = ? AND status IN ('running', 'queued')",
        )
        .run(id);
      this.db
        .prepare("UPDATE units SET status = 'cancelled' WHERE experiment_id = ? AND status = 'running'")
        .run(id);
    })();
  }

  /** Records the concrete backend as soon as it is known, so a resume uses the same one. */
  setBackend(id: number, backend: BackendName): void {
    this.db.prepare('UPDATE experiments SET backend = ? WHERE id = ?').run(backend, id);
  }

  /** Appends the machine and software of an attempt (a start or a resume) as it begins. */
  recordEnvironment(id: number, environment: RunEnvironment): void {
    const info = this.db
      .prepare(
        `UPDATE experiments SET environment_json = json_insert(coalesce(environment_json, '[]'), '$[#]', json(?))
         WHERE id = ?`,
      )
      .run(JSON.stringify(environment), id);
    if (info.changes === 0) throw new Error(`no experiment with id ${id} in ${this.path}`);
  }

  /** Stores an experiment's plan of units, all `queued`. */
  planUnits(experimentId: number, units: readonly UnitPlan[]): void {
    const insert = this.db.prepare(
      "INSERT INTO units (experiment_id, idx, grp, cells_json, replicates_json, status) VALUES (?, ?, ?, ?, ?, 'queued')",
    );
    this.db.transaction(() => {
      for (const u of units)
        insert.run(experimentId, u.index, u.group, JSON.stringify(u.cells), JSON.stringify(u.replicates));
    })();
  }

  /** Replaces unfinished units by others (a resume's smaller shards), in one transaction. */
  replaceUnits(experimentId: number, removed: readonly number[], added: readonly UnitPlan[]): void {
    const drop = this.db.prepare(
      "DELETE FROM units WHERE experiment_id = ? AND idx = ? AND status != 'done'",
    );
    this.db.transaction(() => {
      for (const index of removed)
        if (drop.run(experimentId, index).changes !== 1)
          throw new Error(`experiment ${experimentId} has no unfinished unit ${index}`);
      this.planUnits(experimentId, added);
    })();
  }

  units(experimentId: number): UnitRow[] {
    return (
      this.db
        .prepare('SELECT * FROM units WHERE experiment_id = ? ORDER BY idx')
        .all(experimentId) as RawUnit[]
    ).map(toUnit);
  }

  /**
   * Marks a unit running after deleting whatever an earlier, killed attempt left of it (metric rows
   * and results of its cells and replicates), so that its rows come from one attempt only.
   */
  startUnit(experimentId: number, index: number): void {
    const unit = this.units(experimentId).find((u) => u.index === index);
    if (!unit) throw new Error(`experiment ${experimentId} has no unit ${index}`);
    const cells = `SELECT id FROM cells WHERE experiment_id = ? AND idx IN (SELECT value FROM json_each(?))`;
    const replicates = 'replicate IN (SELECT value FROM json_each(?))';
    const args = [experimentId, JSON.stringify(unit.cells), JSON.stringify(unit.replicates)];
    this.db.transaction(() => {
      this.db.prepare(`DELETE FROM metrics WHERE cell_id IN (${cells}) AND ${replicates}`).run(...args);
      this.db.prepare(`DELETE FROM results WHERE cell_id IN (${cells}) AND ${replicates}`).run(...args);
      this.db
        .prepare(
          "UPDATE units SET status = 'running', started_at = ?, finished_at = NULL, error = NULL WHERE experiment_id = ? AND idx = ?",
        )
        .run(now(), experimentId, index);
    })();
  }

  /**
   * A unit computed elsewhere (a cluster task's unit file): its rows replace whatever the store held
   * for its cells and replicates, and it is marked done with the task's times, in one transaction.
   */
  importUnit(experimentId: number, unit: ImportedUnit): void {
    this.db.transaction(() => {
      this.startUnit(experimentId, unit.index);
      for (const cell of unit.cells) {
        const id = this.cellId(experimentId, cell.index);
        this.addMetrics(id, cell.metrics);
        this.addResults(id, cell.results);
      }
      this.db
        .prepare(
          "UPDATE units SET status = 'done', started_at = ?, finished_at = ?, error = NULL WHERE experiment_id = ? AND idx = ?",
        )
        .run(unit.startedAt, unit.finishedAt, experimentId, unit.index);
    })();
  }

  finishUnit(experimentId: number, index: number, status: RunStatus, error: string | null = null): void {
    this.db
      .prepare('UPDATE units SET status = ?, finished_at = ?, error = ? WHERE experiment_id = ? AND idx = ?')
      .run(status, now(), error, experimentId, index);
  }

  /** A language unit's rows (results and metrics of its one cell) stored and the unit marked done, atomically. */
  addUnitOutcome(
    experimentId: number,
    unitIndex: number,
    cellId: number,
    results: readonly ResultRow[],
    metrics: readonly MetricRow[],
  ): void {
    this.db.transaction(() => {
      this.addResults(cellId, results);
      this.addMetrics(cellId, metrics);
      this.finishUnit(experimentId, unitIndex, 'done');
    })();
  }

  /** A unit's results for one cell; with `last`, the unit is marked done in the same transaction. */
  addUnitResults(
    experimentId: number,
    unitIndex: number,
    cellId: number,
    rows: readonly ResultRow[],
    last: boolean,
  ): void {
    this.db.transaction(() => {
      this.addResults(cellId, rows);
      if (last) this.finishUnit(experimentId, unitIndex, 'done');
    })();
  }

  finishExperiment(
    id: number,
    status: RunStatus,
    fields: {
      wallSeconds?: number;
      error?: string | null;
      backend?: string | null;
      versions?: Record<string, string> | null;
    } = {},
  ): void {
    this.db
      .prepare(
        `UPDATE experiments SET status = ?, finished_at = ?, wall_seconds = coalesce(?, wall_seconds), error = ?,
         backend = coalesce(?, backend), versions_json = coalesce(?, versions_json) WHERE id = ?`,
      )
      .run(
        status,
        now(),
        fields.wallSeconds ?? null,
        fields.error ?? null,
        fields.backend ?? null,
        fields.versions ? JSON.stringify(fields.versions) : null,
        id,
      );
  }

  cellId(experimentId: number, index: number): number {
    const row = this.db
      .prepare('SELECT id FROM cells WHERE experiment_id = ? AND idx = ?')
      .get(experimentId, index) as { id: number } | undefined;
    if (!row) throw new Error(`experiment ${experimentId} has no cell ${index}`);
    return row.id;
  }

  startCell(cellId: number, backend: BackendName, versions: Record<string, string>): void {
    this.db
      .prepare(
        "UPDATE cells SET status = 'running', started_at = ?, backend = ?, versions_json = ? WHERE id = ?",
      )
      .run(now(), backend, JSON.stringify(versions), cellId);
  }

  /** A cell some of whose units are in (a cluster experiment being collected), with their timings so far. */
  cellInProgress(cellId: number, timings: PhaseTiming[] | null): void {
    this.db
      .prepare(
        "UPDATE cells SET status = 'running', started_at = coalesce(started_at, ?), timings_json = ? WHERE id = ?",
      )
      .run(now(), timings ? JSON.stringify(timings) : null, cellId);
  }

  finishCell(
    cellId: number,
    status: RunStatus,
    fields: { timings?: PhaseTiming[]; error?: string | null } = {},
  ): void {
    this.db
      .prepare(
        'UPDATE cells SET status = ?, finished_at = ?, timings_json = coalesce(?, timings_json), error = ? WHERE id = ?',
      )
      .run(
        status,
        now(),
        fields.timings ? JSON.stringify(fields.timings) : null,
        fields.error ?? null,
        cellId,
      );
  }

  /**
   * Bulk insert in one transaction: thousands of rows cost one commit. A non-finite value is
   * rejected, the whole batch with it: SQLite would store NaN as NULL, and the engine never emits
   * one (a diverged model stops emitting metrics), so it is a programming error to report loudly.
   */
  addMetrics(cellId: number, rows: readonly MetricRow[]): void {
    if (rows.length === 0) return;
    const bad = rows.find((r) => !Number.isFinite(r.value));
    if (bad)
      throw new Error(
        `metric "${bad.name}" of ${bad.condition} replicate ${bad.replicate} at step ${bad.step} is ${bad.value}: only finite values can be stored`,
      );
    // Within one batch a key twice is a producer's error, not a replay: refused, not silently replaced.
    const keys = new Set<string>();
    for (const r of rows) {
      const key = JSON.stringify([r.condition, r.replicate, r.step, r.name]);
      if (keys.has(key))
        throw new Error(
          `metric "${r.name}" of ${r.condition} replicate ${r.replicate} at step ${r.step} appears twice in one batch: a step is stored once`,
        );
      keys.add(key);
    }
    this.db.transaction(() => {
      for (const r of rows) this.insertMetric.run(cellId, r.condition, r.replicate, r.step, r.name, r.value);
    })();
  }

  /** A diverged model's row has no numbers; any other has a finite accuracy (checked, as for metrics). */
  addResults(cellId: number, rows: readonly ResultRow[]): void {
    for (const r of rows) checkResult(r);
    const insert = this.db.prepare(
      `INSERT OR REPLACE INTO results (cell_id, condition, replicate, seed, accuracy, trait_score,
       diverged_phase, diverged_step, diverged_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const r of rows) {
        const d = r.diverged;
        insert.run(
          cellId,
          r.condition,
          r.replicate,
          r.seed,
          r.accuracy,
          r.traitScore,
          d?.phase,
          d?.step,
          d?.reason,
        );
      }
    })();
  }

  listExperiments(): ExperimentRow[] {
    return (this.db.prepare('SELECT * FROM experiments ORDER BY id').all() as RawExperiment[]).map(
      toExperiment,
    );
  }

  getExperiment(id: number): ExperimentRow | undefined {
    const row = this.db.prepare('SELECT * FROM experiments WHERE id = ?').get(id) as
      RawExperiment | undefined;
    return row ? toExperiment(row) : undefined;
  }

  cells(experimentId: number): CellRow[] {
    return (
      this.db
        .prepare('SELECT * FROM cells WHERE experiment_id = ? ORDER BY idx')
        .all(experimentId) as RawCell[]
    ).map(toCell);
  }

  results(cellId: number): ResultRow[] {
    const raw = this.db
      .prepare(
        `SELECT condition, replicate, seed, accuracy, trait_score AS traitScore, diverged_phase AS phase,
         diverged_step AS step, diverged_reason AS reason FROM results WHERE cell_id = ? ORDER BY condition, replicate`,
      )
      .all(cellId) as RawResult[];
    return raw.map(({ phase, step, reason, ...r }) => ({
      ...r,
      diverged: phase !== null && step !== null && reason !== null ? { phase, step, reason } : null,
    }));
  }

  /** A cell's metric rows, of one condition or metric when asked (read through the series index). */
  metrics(cellId: number, filter: { condition?: string; name?: string } = {}): MetricRow[] {
    // Only the constraints given: `(? IS NULL OR name = ?)` would keep SQLite off the index and
    // make it read every row of the cell.
    const by = [
      filter.condition !== undefined ? ' AND condition = ?' : '',
      filter.name !== undefined ? ' AND name = ?' : '',
    ];
    return this.db
      .prepare(
        `SELECT condition, replicate, step, name, value FROM metrics WHERE cell_id = ?${by.join('')}
         ORDER BY condition, name, step, replicate`,
      )
      .all(
        cellId,
        ...[filter.condition, filter.name].filter((v): v is string => v !== undefined),
      ) as MetricRow[];
  }

  /**
   * The rows of each (condition, metric) of a cell at its last recorded step, for metric names that
   * start with one of `prefixes`: the final values, found by seeks on the series index (metric-keys.ts).
   */
  finalMetrics(cellId: number, prefixes: readonly string[]): MetricRow[] {
    return finalMetricRows(this.db, cellId, prefixes);
  }

  /** Renames, re-notes or re-tags an experiment; fields left out keep their value. */
  updateExperiment(id: number, fields: { name?: string; notes?: string; tags?: string[] }): void {
    const info = this.db
      .prepare(
        'UPDATE experiments SET name = coalesce(?, name), notes = coalesce(?, notes), tags_json = coalesce(?, tags_json) WHERE id = ?',
      )
      .run(fields.name ?? null, fields.notes ?? null, fields.tags ? JSON.stringify(fields.tags) : null, id);
    if (info.changes === 0) throw new Error(`no experiment with id ${id} in ${this.path}`);
  }

  /** Deletes an experiment with its cells, results and metrics (cascading foreign keys). */
  deleteExperiment(id: number): void {
    // A run whose process died elsewhere shows as running until its heartbeat is seen to be stale.
    this.recoverInterrupted();
    const row = this.getExperiment(id);
    if (!row) throw new Error(`no experiment with id ${id} in ${this.path}`);
    if (row.status === 'running' || row.status === 'queued')
      throw new Error(`experiment ${id} is ${row.status}; cancel it before deleting it`);
    this.db.prepare('DELETE FROM experiments WHERE id = ?').run(id);
  }

  /** Every metric row of an experiment with its cell index, in (cell, condition, name, step) order. */
  experimentMetrics(experimentId: number): (MetricRow & { cell: number })[] {
    return this.db
      .prepare(
        `SELECT c.idx AS cell, m.condition, m.replicate, m.step, m.name, m.value FROM metrics m
         JOIN cells c ON c.id = m.cell_id WHERE c.experiment_id = ? ORDER BY c.idx, m.condition, m.name, m.step, m.replicate`,
      )
      .all(experimentId) as (MetricRow & { cell: number })[];
  }

  close(): void {
    this.db.close();
  }
}

// An attempt's right to write its experiment. Every write a runner makes goes through its lease: one
// IMMEDIATE transaction that first checks, under the write lock, that the experiment is still running
// under this attempt's token. A run recovered as interrupted and resumed by someone else therefore
// changes nothing more for the attempt that lost it; that attempt learns so from the OwnershipLost
// its next write (or heartbeat) throws, and stops.
import type Database from 'better-sqlite3';
import type { Owner } from './owner.ts';

/** The attempt no longer owns its experiment: nothing it tried to write was written. */
export class OwnershipLost extends Error {}

/** A write the store refused (disk full, file removed, busy past the timeout), naming the store. */
export class StoreWriteError extends Error {}

interface OwnerRow {
  status: string;
  owner_token: string | null;
  owner_pid: number | null;
  owner_host: string | null;
}

export class RunLease {
  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
    readonly experimentId: number,
    readonly owner: Owner,
  ) {}

  /** `fn` in one transaction, only while this attempt owns the experiment. */
  write<T>(fn: () => T): T {
    try {
      return this.db
        .transaction(() => {
          this.check();
          return fn();
        })
        .immediate();
    } catch (error) {
      if (error instanceof OwnershipLost || error instanceof StoreWriteError) throw error;
      throw new StoreWriteError(`cannot write to the run store ${this.path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** Throws OwnershipLost, saying who holds the experiment now, unless this attempt does. */
  check(): void {
    const row = this.db
      .prepare('SELECT status, owner_token, owner_pid, owner_host FROM experiments WHERE id = ?')
      .get(this.experimentId) as OwnerRow | undefined;
    if (row?.owner_token === this.owner.token && row.status === 'running') return;
    const self = `process ${this.owner.pid} on ${this.owner.host}`;
    const now = !row
      ? 'it was deleted'
      : row.owner_token !== this.owner.token
        ? `it was taken over by process ${row.owner_pid ?? '?'} on ${row.owner_host ?? '?'} (now ${row.status}) after this process's heartbeat went stale`
        : `it was marked ${row.status} while this process's heartbeat was stale`;
    throw new OwnershipLost(
      `${self} no longer owns experiment ${this.experimentId}: ${now}; it stopped its trainers and wrote nothing more`,
    );
  }

  /** The attempt's sign of life; throws OwnershipLost once the experiment is someone else's. */
  heartbeat(): void {
    this.write(() =>
      this.db
        .prepare('UPDATE experiments SET heartbeat_at = ? WHERE id = ?')
        .run(Date.now(), this.experimentId),
    );
  }
}

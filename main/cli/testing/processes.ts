// Test helpers: real `sublab` processes and what they left in a run store, read as another process
// would (tests of interrupted, stopped and taken-over runs).
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { procStat } from '../../store/owner.ts';
import { RunStore } from '../../store/store.ts';

const root = new URL('../../../', import.meta.url).pathname;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * A tiny classifier spec written into `dir`, its path returned: a group (one teacher) per trait, so
 * with --workers 2 each group has two units.
 */
export function tinyClassifierSpec(dir: string, traits: readonly ('skill' | 'backdoor')[]): string {
  const file = join(dir, `${traits.join('-')}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      name: `${traits.length} group(s)`,
      dataset: { name: 'mnist', trainSize: 600, testLimit: 200 },
      model: { hidden: [32] },
      teacher: { epochs: 1, batchSize: 100 },
      student: { epochs: 1, batchSize: 64, inputs: { kind: 'uniform', count: 4096 } },
      replicates: 2,
      lossEvery: 1,
      matrix: { traits: traits.map((kind) => ({ kind })) },
    }),
  );
  return file;
}

/** `sublab ...args` as a child process with `env`; `exit` resolves with its output once it ends. */
export function sublab(env: NodeJS.ProcessEnv, ...args: string[]) {
  const child = spawn(process.execPath, [join(root, 'bin/sublab.js'), ...args], { cwd: root, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<Exit>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, exit };
}

/** Polls a read-only connection (as another process would) until `sql` returns a row. */
export async function waitForRow(db: string, sql: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const conn = new Database(db, { readonly: true, fileMustExist: true });
      try {
        if (conn.prepare(sql).get() !== undefined) return;
      } finally {
        conn.close();
      }
    } catch {
      // Not created or not migrated yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for: ${sql}`);
}

/** Everything a run stored that must not depend on how it ran: results and metric rows, in order. */
export function storedRows(db: string, id: number) {
  const store = new RunStore(db);
  try {
    return {
      results: store.cells(id).map((c) => ({ cell: c.index, status: c.status, rows: store.results(c.id) })),
      metrics: store.experimentMetrics(id),
    };
  } finally {
    store.close();
  }
}

export function statuses(db: string, id: number) {
  const conn = new Database(db, { readonly: true });
  try {
    const all = (sql: string) => (conn.prepare(sql).all(id) as { status: string }[]).map((r) => r.status);
    return {
      experiment: all('SELECT status FROM experiments WHERE id = ?')[0],
      cells: all('SELECT status FROM cells WHERE experiment_id = ? ORDER BY idx'),
      units: all('SELECT status FROM units WHERE experiment_id = ? ORDER BY idx'),
    };
  } finally {
    conn.close();
  }
}

/** The PIDs whose parent is `pid` (Linux /proc): a runner's trainer processes. */
export function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry) && Number(procStat(Number(entry))?.[1]) === pid)
    .map(Number);
}

// Ownership of a run end to end, with real `sublab` processes, real trainers, real signals and real
// SQLite files: a run stopped past the stale time is not taken over while its process lives; one
// whose host fell silent is, and the old owner then writes nothing more and stops with a message.
// Both end with exactly the rows of an uninterrupted run. The stale time is shortened through
// SUBLAB_HEARTBEAT_STALE_MS so the tests need not wait 30 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { processAlive } from '../process-alive.ts';
import {
  childrenOf,
  statuses,
  storedRows,
  sublab as spawnSublab,
  tinyClassifierSpec,
  waitForRow,
} from './testing/processes.ts';

const STALE_MS = 1_000;
const dir = mkdtempSync(join(tmpdir(), 'sublab-fencing-'));
const env = {
  ...process.env,
  SUBLAB_CACHE_DIR: join(dir, 'cache'),
  SUBLAB_BACKEND: 'wasm',
  SUBLAB_HEARTBEAT_STALE_MS: String(STALE_MS),
};
const sublab = (...args: string[]) => spawnSublab(env, ...args);
// One group (one teacher) of two units, both running side by side with --workers 2.
const specFile = tinyClassifierSpec(dir, ['skill']);
const here = hostname().replace(/\./g, '\\.');

// One uninterrupted run of the spec, started now and compared with by both tests.
const referenceDb = join(dir, 'reference.sqlite');
const reference = sublab('run', specFile, '--db', referenceDb, '--workers', '2', '--json').exit;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Metric keys stored more than once in the whole file (none may be). */
function duplicateMetrics(db: string): number {
  const conn = new Database(db, { readonly: true });
  try {
    const sql = `SELECT count(*) AS n FROM (SELECT 1 FROM metrics
      GROUP BY cell_id, condition, replicate, step, name HAVING count(*) > 1)`;
    return (conn.prepare(sql).get() as { n: number }).n;
  } finally {
    conn.close();
  }
}

/** The run in `db` is done with exactly the rows of the uninterrupted reference run, each once. */
async function assertSameAsReference(db: string): Promise<void> {
  const ref = await reference;
  assert.equal(ref.code, 0, ref.stderr);
  assert.deepEqual(statuses(db, 1), { experiment: 'done', cells: ['done'], units: ['done', 'done'] });
  assert.equal(duplicateMetrics(db), 0, 'no metric stored twice');
  const got = storedRows(db, 1);
  const want = storedRows(referenceDb, 1);
  assert.equal(got.results.flatMap((c) => c.rows).length, 6 * 2, 'conditions x replicates');
  assert.deepEqual(got.results, want.results);
  assert.equal(got.metrics.length, want.metrics.length);
  assert.deepEqual(got.metrics, want.metrics);
}

test('a stopped run is not taken over: resume is refused naming the live owner, and continued it stores exactly the rows of an uninterrupted run', async () => {
  const db = join(dir, 'stopped.sqlite');
  const run = sublab('run', specFile, '--db', db, '--workers', '2');
  await waitForRow(db, "SELECT 1 FROM metrics WHERE condition = 'teacher'");
  run.child.kill('SIGSTOP');
  await sleep(3 * STALE_MS);

  // Another process opens the store and asks to resume the silent run.
  const refused = await sublab('resume', '1', '--db', db).exit;
  assert.equal(refused.code, 1, refused.stderr);
  const pid = run.child.pid!;
  assert.match(
    refused.stderr,
    new RegExp(
      `experiment 1 is running \\(process ${pid} on ${here}, last heartbeat [\\d.]+ s ago\\); it cannot be resumed while it runs: process ${pid} on ${here} is alive though silent, stopped \\(Ctrl-Z, SIGSTOP\\) or suspended; \`kill -CONT ${pid}\` lets it go on`,
    ),
  );
  assert.equal(statuses(db, 1).experiment, 'running', 'opening the store recovered nothing');

  run.child.kill('SIGCONT');
  const exit = await run.exit;
  assert.equal(exit.code, 0, exit.stderr);
  await assertSameAsReference(db);
});

test('a run whose host fell silent is taken over; the old owner then writes nothing, stops its trainers and says why', async () => {
  const db = join(dir, 'taken.sqlite');
  const run = sublab('run', specFile, '--db', db, '--workers', '2');
  await waitForRow(db, "SELECT 1 FROM metrics WHERE condition = 'teacher'");
  run.child.kill('SIGSTOP');
  const trainers = childrenOf(run.child.pid!);
  assert.ok(trainers.length > 0, 'its trainers run');
  // As if it ran on another machine sharing the file: only its silent heartbeat can be judged.
  const conn = new Database(db);
  conn
    .prepare("UPDATE experiments SET owner_host = 'elsewhere.invalid', heartbeat_at = ? WHERE id = 1")
    .run(Date.now() - 10 * STALE_MS);
  conn.close();

  const resumed = sublab('resume', '1', '--db', db, '--json');
  // The resume owns the run and has started its units; then the old owner goes on.
  await waitForRow(db, `SELECT 1 FROM experiments WHERE id = 1 AND owner_pid = ${resumed.child.pid}`);
  await waitForRow(db, "SELECT 1 FROM units WHERE experiment_id = 1 AND status = 'running'");
  run.child.kill('SIGCONT');
  const old = await run.exit;
  assert.equal(old.code, 1, old.stderr);
  assert.match(
    old.stderr,
    new RegExp(
      `sublab: process ${run.child.pid} on ${here} no longer owns experiment 1: it was taken over by process ${resumed.child.pid} on ${here} \\(now running\\) after this process's heartbeat went stale; it stopped its trainers and wrote nothing more`,
    ),
  );
  assert.deepEqual(
    trainers.filter((pid) => processAlive(pid)),
    [],
    'no trainer of the old owner is left',
  );

  const r = await resumed.exit;
  assert.equal(r.code, 0, r.stderr);
  await assertSameAsReference(db);
});

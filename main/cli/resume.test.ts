// Interrupted runs end to end, with real `sublab` processes, real trainers, real signals and real
// SQLite files: a run killed with SIGKILL and resumed stores exactly what an uninterrupted run stores;
// SIGTERM and repeated signals leave a consistent `cancelled` run; two runs share one database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { RunStore } from '../store/store.ts';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'sublab-resume-'));
const env = { ...process.env, SUBLAB_CACHE_DIR: join(dir, 'cache'), SUBLAB_BACKEND: 'wasm' };

// Two traits, so two groups (two teachers); with --workers 2 each group has two units.
const specFile = join(dir, 'two-groups.json');
writeFileSync(
  specFile,
  JSON.stringify({
    version: 1,
    name: 'two groups',
    dataset: { name: 'mnist', trainSize: 600, testLimit: 200 },
    model: { hidden: [32] },
    teacher: { epochs: 1, batchSize: 100 },
    student: { epochs: 1, batchSize: 64, inputs: { kind: 'uniform', count: 4096 } },
    replicates: 2,
    lossEvery: 1,
    matrix: { traits: [{ kind: 'skill' }, { kind: 'backdoor' }] },
  }),
);

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function sublab(...args: string[]) {
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
async function waitForRow(db: string, sql: string, timeoutMs = 120_000): Promise<void> {
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
function storedRows(db: string, id: number) {
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

function statuses(db: string, id: number) {
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

const studentRowsOfGroup = (group: number) =>
  `SELECT 1 FROM metrics m JOIN cells c ON c.id = m.cell_id JOIN units u ON u.experiment_id = c.experiment_id
   WHERE u.grp = ${group} AND c.idx IN (SELECT value FROM json_each(u.cells_json)) AND m.condition = 'student'`;

test('a run killed with SIGKILL mid-unit and resumed stores exactly the rows of an uninterrupted run', async () => {
  const db = join(dir, 'killed.sqlite');
  const run = sublab('run', specFile, '--db', db, '--workers', '2');
  // The second group's student phase is under way: its units have partial rows, the first's are done.
  await waitForRow(db, studentRowsOfGroup(1));
  run.child.kill('SIGKILL');
  assert.equal((await run.exit).signal, 'SIGKILL');
  const left = statuses(db, 1);
  assert.equal(left.experiment, 'running', 'nobody marked it: the process died');
  assert.deepEqual(left.units.slice(0, 2), ['done', 'done']);
  assert.ok(
    left.units.slice(2).some((s) => s !== 'done'),
    `a unit of the second group is unfinished: ${left.units.join(',')}`,
  );
  const partial = storedRows(db, 1); // opening the store marks it interrupted
  assert.ok(partial.metrics.some((m) => m.cell === 1 && m.condition === 'student'));
  assert.equal(statuses(db, 1).experiment, 'interrupted');

  const resumed = sublab('resume', '1', '--db', db, '--json');
  const reference = sublab(
    'run',
    specFile,
    '--db',
    join(dir, 'reference.sqlite'),
    '--workers',
    '1',
    '--json',
  );
  const [r, ref] = await Promise.all([resumed.exit, reference.exit]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(ref.code, 0, ref.stderr);
  assert.equal((JSON.parse(r.stdout) as { backend: string }).backend, 'wasm', 'the stored backend');
  assert.deepEqual(statuses(db, 1), {
    experiment: 'done',
    cells: ['done', 'done'],
    units: ['done', 'done', 'done', 'done'],
  });
  const got = storedRows(db, 1);
  const want = storedRows(join(dir, 'reference.sqlite'), 1);
  assert.equal(got.results.flatMap((c) => c.rows).length, 2 * 6 * 2);
  assert.deepEqual(got.results, want.results);
  assert.equal(got.metrics.length, want.metrics.length);
  assert.deepEqual(got.metrics, want.metrics);
  // Each attempt recorded the machine it ran on as it began: the killed start, then the resume.
  const attempts = (file: string) => {
    const store = new RunStore(file);
    try {
      return store.getExperiment(1)!.environments!.map((e) => [e.attempt, e.backend, e.workers]);
    } finally {
      store.close();
    }
  };
  assert.deepEqual(attempts(db), [
    ['start', 'wasm', 2],
    ['resume', 'wasm', 2],
  ]);
  assert.deepEqual(attempts(join(dir, 'reference.sqlite')), [['start', 'wasm', 1]]);

  const again = sublab('resume', '1', '--db', db);
  const refused = await again.exit;
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /experiment 1 is already done; nothing to resume/);
});

test('SIGTERM stores the run as cancelled and exits 143', async () => {
  const db = join(dir, 'sigterm.sqlite');
  const run = sublab('run', specFile, '--db', db, '--workers', '1');
  await waitForRow(db, "SELECT 1 FROM metrics WHERE condition = 'teacher'");
  run.child.kill('SIGTERM');
  const exit = await run.exit;
  assert.equal(exit.code, 143, exit.stderr);
  assert.match(exit.stderr, /SIGTERM: cancelling/);
  const s = statuses(db, 1);
  assert.equal(s.experiment, 'cancelled');
  assert.deepEqual(s.cells, ['cancelled', 'cancelled']);
  assert.ok(!s.units.includes('running'), s.units.join(','));
});

test('two signals in a row kill the trainers at once and still leave no running rows', async () => {
  const db = join(dir, 'twice.sqlite');
  const run = sublab('run', specFile, '--db', db, '--workers', '2');
  await waitForRow(db, "SELECT 1 FROM metrics WHERE condition = 'teacher'");
  run.child.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 50));
  run.child.kill('SIGINT');
  const started = Date.now();
  const exit = await run.exit;
  assert.equal(exit.code, 130, exit.stderr);
  assert.match(exit.stderr, /SIGINT: stopping the trainers now/);
  assert.ok(Date.now() - started < 5_000, 'no grace period after the second signal');
  const s = statuses(db, 1);
  assert.equal(s.experiment, 'cancelled');
  assert.ok(![...s.cells, ...s.units].includes('running'), JSON.stringify(s));
});

test('two runs writing one database at the same time both store every row', async () => {
  const db = join(dir, 'shared.sqlite');
  const a = sublab('run', specFile, '--db', db, '--workers', '1', '--json');
  const b = sublab('run', specFile, '--db', db, '--workers', '1', '--json');
  const [ea, eb] = await Promise.all([a.exit, b.exit]);
  assert.equal(ea.code, 0, ea.stderr);
  assert.equal(eb.code, 0, eb.stderr);
  const ids = [ea, eb].map((e) => (JSON.parse(e.stdout) as { experimentId: number }).experimentId).sort();
  assert.deepEqual(ids, [1, 2]);
  const [one, two] = ids.map((id) => storedRows(db, id));
  for (const rows of [one!, two!]) {
    assert.equal(rows.results.flatMap((c) => c.rows).length, 2 * 6 * 2, 'cells x conditions x replicates');
    assert.ok(rows.metrics.length > 0);
  }
  // Same spec, same seeds: the two runs' rows are identical, whatever their interleaving.
  assert.deepEqual(one!.results, two!.results);
  assert.deepEqual(one!.metrics, two!.metrics);
});

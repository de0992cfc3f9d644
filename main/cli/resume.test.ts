// Interrupted runs end to end, with real `sublab` processes, real trainers, real signals and real
// SQLite files: a run killed with SIGKILL and resumed stores exactly what an uninterrupted run stores;
// SIGTERM and repeated signals leave a consistent `cancelled` run; two runs share one database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { procStat } from '../store/owner.ts';
import { RunStore } from '../store/store.ts';
import {
  statuses,
  storedRows,
  sublab as spawnSublab,
  tinyClassifierSpec,
  waitForRow,
} from './testing/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-resume-'));
const env = { ...process.env, SUBLAB_CACHE_DIR: join(dir, 'cache'), SUBLAB_BACKEND: 'wasm' };

// Two traits, so two groups (two teachers); with --workers 2 each group has two units.
const specFile = tinyClassifierSpec(dir, ['skill', 'backdoor']);

const sublab = (...args: string[]) => spawnSublab(env, ...args);

/** The trainer processes whose parent is `pid`, from /proc (a first run's esbuild is a child too). */
function trainersOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name) && procStat(Number(name))?.[1] === String(pid))
    .flatMap((name) => {
      try {
        return /\/worker\.(ts|mjs)\0/.test(readFileSync(`/proc/${name}/cmdline`, 'utf8'))
          ? [Number(name)]
          : [];
      } catch {
        return []; // ended while we looked
      }
    });
}

/** A process that ended but was not yet reaped (a zombie) counts as gone. */
function alive(pid: number): boolean {
  const state = procStat(pid)?.[0];
  return state !== undefined && state !== 'Z';
}

async function until(what: string, ready: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
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
  // Frozen trainers cannot finish the graceful cancel, so the second signal always finds it under
  // way (a tiny run's trainers otherwise stop within the 50 ms this test used to wait).
  let trainers: number[] = [];
  await until('a trainer per worker', () => (trainers = trainersOf(run.child.pid!)).length === 2);
  try {
    for (const pid of trainers) process.kill(pid, 'SIGSTOP');
    let stderr = '';
    run.child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    run.child.kill('SIGINT');
    await until('the first signal to be taken', () => stderr.includes('SIGINT: cancelling'));
    run.child.kill('SIGINT');
    const started = Date.now();
    const exit = await run.exit;
    assert.equal(exit.code, 130, exit.stderr);
    assert.match(exit.stderr, /SIGINT: stopping the trainers now/);
    assert.ok(Date.now() - started < 5_000, 'no grace period after the second signal');
    for (const pid of trainers) assert.ok(!alive(pid), `trainer ${pid} was killed`);
  } finally {
    // A failed check must not leave frozen trainers (or their CLI) behind to hold the test runner.
    for (const pid of [...trainers, run.child.pid!]) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
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

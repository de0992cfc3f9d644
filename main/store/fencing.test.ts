// Ownership fencing in real SQLite files: a live owner on this host is never recovered whatever its
// heartbeat, an attempt whose run was taken over writes nothing more and says who holds it, and a
// metric step is stored once (older files' duplicates folded by the migration).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandMatrix } from '../../app/matrix.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import { OwnershipLost } from './lease.ts';
import { MIGRATIONS } from './migrations.ts';
import { storeBefore } from './testing/older.ts';
import { processStart } from './owner.ts';
import { HEARTBEAT_STALE_MS, RunStore } from './store.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-fencing-'));
const spec = mustValidate({ version: 1, name: 'fencing', replicates: 2 });
const stale = () => Date.now() - HEARTBEAT_STALE_MS - 60_000;
const loss = (replicate: number, step: number, value: number) => ({
  condition: 'teacher' as const,
  replicate,
  step,
  name: 'loss',
  value,
});

test('a live owner on this host is never recovered, however old its heartbeat; a reused PID is judged by its heartbeat', () => {
  const path = join(dir, 'live.sqlite');
  const store = new RunStore(path);
  const live = store.createExperiment(spec, expandMatrix(spec));
  store.startExperiment(live);
  const reused = store.createExperiment(spec, expandMatrix(spec));
  store.startExperiment(reused);
  // The parent process is alive, but its start is not the one recorded: the PID was given again.
  store.db.prepare('UPDATE experiments SET owner_pid = ? WHERE id = ?').run(process.ppid, reused);
  store.db.prepare('UPDATE experiments SET heartbeat_at = ?').run(stale());
  store.close();

  const other = new RunStore(path); // another opener: recovers what it may
  assert.equal(other.getExperiment(live)!.status, 'running', 'stopped (SIGSTOP) is not dead');
  assert.equal(other.getExperiment(reused)!.status, 'interrupted');
  assert.throws(
    () => other.claimForResume(live),
    new RegExp(
      `experiment ${live} is running \\(process ${process.pid} on ${hostname().replace(/\./g, '\\.')}, last heartbeat \\d+\\.\\d s ago\\); it cannot be resumed while it runs: .* is alive though silent, stopped \\(Ctrl-Z, SIGSTOP\\) or suspended; \`kill -CONT ${process.pid}\``,
    ),
  );
  assert.equal(other.getExperiment(live)!.status, 'running', 'the refusal changed nothing');
  other.close();
  assert.ok(processStart(process.pid), 'this system tells a process start (Linux /proc)');
});

test('an attempt whose run was taken over writes nothing more and is told who holds it', () => {
  const path = join(dir, 'taken.sqlite');
  const first = new RunStore(path);
  const id = first.createExperiment(spec, expandMatrix(spec));
  first.planUnits(id, [{ index: 0, group: 0, cells: [0], replicates: [0, 1] }]);
  const old = first.startExperiment(id);
  const cellId = first.cellId(id, 0);
  old.write(() => first.startUnit(id, 0));
  old.write(() => first.addMetrics(cellId, [loss(0, 1, 2.5)]));
  // Its host goes silent (another machine sharing the file): the heartbeat is all there is to judge.
  first.db
    .prepare('UPDATE experiments SET owner_host = ?, heartbeat_at = ? WHERE id = ?')
    .run('node-17.cluster', stale(), id);

  const second = new RunStore(path);
  assert.equal(second.getExperiment(id)!.status, 'interrupted');
  const { lease } = second.claimForResume(id);
  lease.write(() => second.startUnit(id, 0));
  lease.write(() => second.addMetrics(cellId, [loss(0, 1, 2.5), loss(1, 1, 2.25)]));

  const before = second.experimentMetrics(id);
  const here = hostname().replace(/\./g, '\\.');
  const lost = new RegExp(
    `process ${process.pid} on ${here} no longer owns experiment ${id}: it was taken over by process ${process.pid} on ${here} \\(now running\\)`,
  );
  assert.throws(() => old.heartbeat(), lost);
  assert.throws(() => old.write(() => first.startUnit(id, 0)), OwnershipLost);
  assert.throws(() => old.write(() => first.addMetrics(cellId, [loss(0, 2, 1)])), OwnershipLost);
  assert.throws(() => old.write(() => first.finishExperiment(id, 'failed')), OwnershipLost);
  assert.deepEqual(second.experimentMetrics(id), before, "the old owner's writes changed nothing");
  assert.equal(second.units(id)[0]!.status, 'running');
  assert.equal(second.getExperiment(id)!.status, 'running');

  lease.write(() => second.finishExperiment(id, 'done'));
  // Finished, the run is nobody's to write any more, the new owner's included.
  assert.throws(() => lease.heartbeat(), /it was marked done/);
  // The cancel of a process that must exit now only touches a run it still owns.
  first.abandon(id);
  assert.equal(second.getExperiment(id)!.status, 'done');
  first.close();
  second.close();
});

test('a metric step is stored once; the migration folds the duplicates an older file holds', () => {
  const path = join(dir, 'before-key.sqlite');
  storeBefore(path, 'metrics_key', (db) =>
    db.exec(`INSERT INTO experiments (id, name, spec_json, spec_hash, status, created_at) VALUES (1, 'x', '{}', 'h', 'done', 't');
    INSERT INTO cells (id, experiment_id, idx, trait, filter, architecture, cell_json, status) VALUES (1, 1, 0, 's', 'f', 'a', '{}', 'done');
    INSERT INTO metrics (cell_id, condition, replicate, step, name, value) VALUES
      (1, 'teacher', 0, 1, 'loss', 2.5), (1, 'teacher', 1, 1, 'loss', 2.25), (1, 'teacher', 0, 1, 'loss', 2.5),
      (1, 'teacher', 0, 2, 'loss', 2), (1, 'teacher', 0, 1, 'loss', 2.5), (1, 'student', 0, 1, 'loss', 3);`),
  );

  const store = new RunStore(path);
  assert.equal(store.schemaVersion, MIGRATIONS.length);
  const want = [
    { condition: 'student', replicate: 0, step: 1, name: 'loss', value: 3 },
    { condition: 'teacher', replicate: 0, step: 1, name: 'loss', value: 2.5 },
    { condition: 'teacher', replicate: 1, step: 1, name: 'loss', value: 2.25 },
    { condition: 'teacher', replicate: 0, step: 2, name: 'loss', value: 2 },
  ];
  assert.deepEqual(store.metrics(1), want);
  // A batch written again (a retried flush) replaces its rows instead of adding them.
  store.addMetrics(1, [loss(0, 1, 2.5), loss(1, 1, 2.25)]);
  assert.deepEqual(store.metrics(1), want);
  assert.throws(
    () => store.addMetrics(1, [loss(0, 3, 1), loss(0, 3, 1.5)]),
    /metric "loss" of teacher replicate 0 at step 3 appears twice in one batch: a step is stored once/,
  );
  assert.deepEqual(store.metrics(1), want, 'the whole batch is refused');
  assert.throws(
    () =>
      store.db
        .prepare(
          "INSERT INTO metrics (cell_id, condition, replicate, step, name, value) VALUES (1, 'teacher', 0, 2, 'loss', 9)",
        )
        .run(),
    /UNIQUE constraint failed/,
  );
  // Series reads still go through an index.
  const plan = store.db
    .prepare(
      "EXPLAIN QUERY PLAN SELECT step, value FROM metrics WHERE cell_id = 1 AND condition = 'teacher' AND name = 'loss' ORDER BY step",
    )
    .all() as { detail: string }[];
  assert.match(plan.map((p) => p.detail).join('\n'), /USING INDEX metrics_key/);
  store.close();
});

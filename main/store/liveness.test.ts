// Units of work and liveness in a real SQLite file: the plan of units, a unit's partial rows cleared
// before it runs again, and a run's owner judged dead or alive by its PID and its heartbeat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandMatrix } from '../../app/matrix.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import { HEARTBEAT_STALE_MS, RunStore } from './store.ts';
import { MIGRATIONS } from './migrations.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-liveness-'));
const spec = mustValidate({
  version: 1,
  name: 'liveness',
  replicates: 4,
  matrix: {
    filters: [
      { kind: 'logits', keep: 'aux' },
      { kind: 'logits', keep: 'all' },
    ],
  },
});

/** A running experiment whose owner and heartbeat are then set as another process would have left them. */
function runningAs(store: RunStore, owner: { pid: number; host: string; heartbeatAgoMs: number }): number {
  const id = store.createExperiment(spec, expandMatrix(spec));
  store.startExperiment(id);
  store.db
    .prepare('UPDATE experiments SET owner_pid = ?, owner_host = ?, heartbeat_at = ? WHERE id = ?')
    .run(owner.pid, owner.host, Date.now() - owner.heartbeatAgoMs, id);
  return id;
}

test('a stale heartbeat is recovered whoever owns the run; a fresh one from another host is left running', () => {
  const path = join(dir, 'heartbeat.sqlite');
  const store = new RunStore(path);
  assert.equal(store.schemaVersion, MIGRATIONS.length);
  const stale = HEARTBEAT_STALE_MS + 5_000;
  // process.ppid is alive and not ours: on this host it stands for a PID reused by another program.
  const reusedPid = runningAs(store, { pid: process.ppid, host: hostname(), heartbeatAgoMs: stale });
  const otherHostStale = runningAs(store, { pid: 4242, host: 'node-17.cluster', heartbeatAgoMs: stale });
  const otherHostFresh = runningAs(store, { pid: 4242, host: 'node-17.cluster', heartbeatAgoMs: 1_000 });
  const aliveHere = runningAs(store, { pid: process.ppid, host: hostname(), heartbeatAgoMs: 1_000 });
  store.close();

  const reopened = new RunStore(path);
  const status = (id: number) => reopened.getExperiment(id)!.status;
  assert.equal(status(reusedPid), 'interrupted');
  assert.equal(status(otherHostStale), 'interrupted');
  assert.equal(status(otherHostFresh), 'running');
  assert.equal(status(aliveHere), 'running');
  assert.deepEqual(
    reopened.cells(otherHostStale).map((c) => c.status),
    ['interrupted', 'interrupted'],
  );
  // Interrupted runs can be deleted; a live one cannot.
  reopened.deleteExperiment(otherHostStale);
  assert.equal(reopened.getExperiment(otherHostStale), undefined);
  assert.throws(() => reopened.deleteExperiment(otherHostFresh), /is running; cancel it before deleting it/);
  assert.throws(
    () => reopened.claimForResume(otherHostFresh),
    /is running \(process 4242 on node-17\.cluster, last heartbeat 1\.\d s ago\)/,
  );
  // The heartbeat goes silent: the next look (here a delete) sees it.
  reopened.db
    .prepare('UPDATE experiments SET heartbeat_at = ? WHERE id = ?')
    .run(Date.now() - stale, otherHostFresh);
  reopened.deleteExperiment(otherHostFresh);
  assert.equal(reopened.getExperiment(otherHostFresh), undefined);
  reopened.close();
});

test('a unit run again first loses what a killed attempt left; its last results mark it done', () => {
  const store = new RunStore(join(dir, 'units.sqlite'));
  const id = store.createExperiment(spec, expandMatrix(spec));
  store.planUnits(id, [
    { index: 0, group: 0, cells: [0, 1], replicates: [0, 1] },
    { index: 1, group: 0, cells: [0, 1], replicates: [2, 3] },
  ]);
  assert.deepEqual(
    store.units(id).map((u) => [u.index, u.group, u.cells, u.replicates, u.status]),
    [
      [0, 0, [0, 1], [0, 1], 'queued'],
      [1, 0, [0, 1], [2, 3], 'queued'],
    ],
  );
  const [cell0, cell1] = [store.cellId(id, 0), store.cellId(id, 1)];
  const metric = (replicate: number) => ({
    condition: 'teacher' as const,
    replicate,
    step: 1,
    name: 'loss',
    value: 1,
  });
  const result = (replicate: number) => ({
    condition: 'teacher' as const,
    replicate,
    seed: 7,
    accuracy: 0.5,
    traitScore: null,
    diverged: null,
  });
  for (const cell of [cell0, cell1]) store.addMetrics(cell, [0, 1, 2, 3].map(metric));
  store.addResults(cell0, [result(2)]); // unit 1 was killed after its first cell's results
  store.startUnit(id, 1);
  assert.deepEqual(
    store.metrics(cell0).map((m) => m.replicate),
    [0, 1],
    "unit 1's replicates lost their rows, unit 0's kept them",
  );
  assert.deepEqual(
    store.metrics(cell1).map((m) => m.replicate),
    [0, 1],
  );
  assert.equal(store.results(cell0).length, 0);
  assert.equal(store.units(id)[1]!.status, 'running');
  store.addUnitResults(id, 1, cell0, [result(2), result(3)], false);
  assert.equal(store.units(id)[1]!.status, 'running');
  store.addUnitResults(id, 1, cell1, [result(2), result(3)], true);
  assert.equal(store.units(id)[1]!.status, 'done');
  assert.equal(store.units(id)[0]!.status, 'queued');
  store.close();
});

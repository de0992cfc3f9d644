// The runner with real trainer processes: cancel, a trainer killed mid-run, a trainer that fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mustValidate } from '../../app/spec/validate.ts';
import { RunStore } from '../store/store.ts';
import { captureEnvironment } from './environment.ts';
import { runExperiment, splitReplicates } from './run-experiment.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-jobs-'));
const cacheDir = join(dir, 'cache');
const spec = mustValidate({
  version: 1,
  name: 'runner',
  dataset: { name: 'mnist', trainSize: 2000 },
  model: { hidden: [64] },
  teacher: { epochs: 3, batchSize: 100 },
  student: { epochs: 3, batchSize: 100, inputs: { kind: 'uniform', count: 2000 } },
  replicates: 2,
  lossEvery: 1,
});

test('cancel stops the trainer cleanly and marks the run cancelled', async () => {
  const store = new RunStore(join(dir, 'cancel.sqlite'));
  const controller = new AbortController();
  const outcome = await runExperiment(store, spec, {
    backend: 'wasm',
    cacheDir,
    signal: controller.signal,
    onEvent: (e) => {
      if (e.type === 'progress' && e.phase === 'teacher' && e.step >= 5) controller.abort();
    },
  });
  assert.equal(outcome.status, 'cancelled');
  const e = store.getExperiment(outcome.experimentId)!;
  assert.equal(e.status, 'cancelled');
  assert.equal(store.cells(e.id)[0]!.status, 'cancelled');
  assert.ok(
    store.metrics(store.cells(e.id)[0]!.id, { name: 'loss' }).length > 0,
    'metrics up to the cancel are kept',
  );
  assert.equal(
    store.results(store.cells(e.id)[0]!.id).length,
    0,
    'a cancelled cell reports no final results',
  );
  store.close();
});

test('a trainer killed mid-run fails its job with the reason; the store stays whole', async () => {
  const store = new RunStore(join(dir, 'crash.sqlite'));
  let killed = false;
  let pid: number | undefined;
  const outcome = await runExperiment(store, spec, {
    backend: 'wasm',
    cacheDir,
    onEvent: (e) => {
      if (e.type === 'cell-start') pid = e.pids[0];
      if (e.type === 'progress' && e.phase === 'students' && !killed) {
        killed = true;
        process.kill(pid!, 'SIGKILL');
      }
    },
  });
  assert.equal(outcome.status, 'failed');
  assert.match(outcome.error!, /^the trainer process was killed by SIGKILL/);
  const cell = store.cells(outcome.experimentId)[0]!;
  assert.equal(cell.status, 'failed');
  assert.match(cell.error!, /killed by SIGKILL/);
  assert.ok(
    store.metrics(cell.id, { condition: 'teacher', name: 'loss' }).length >= 60,
    'the teacher phase was recorded',
  );
  assert.equal(store.db.pragma('integrity_check', { simple: true }), 'ok');
  store.close();
});

test('a trainer error reaches the run with its message', async () => {
  const store = new RunStore(join(dir, 'error.sqlite'));
  const outcome = await runExperiment(store, spec, { backend: 'tensorflow', cacheDir });
  assert.equal(outcome.status, 'failed');
  assert.match(
    outcome.error!,
    /backend "tensorflow" is not available: neither @tensorflow\/tfjs-node-gpu nor @tensorflow\/tfjs-node can be loaded/,
  );
  assert.equal(store.getExperiment(outcome.experimentId)!.status, 'failed');
  store.close();
});

test('a full disk fails the run with the reason and loses nothing already committed', async () => {
  const path = join(dir, 'full.sqlite');
  const store = new RunStore(path);
  // SQLite's own limit on the file size: inserts fail with SQLITE_FULL, as on a full disk.
  const pages = store.db.pragma('page_count', { simple: true }) as number;
  store.db.pragma(`max_page_count = ${pages + 8}`);
  const outcome = await runExperiment(store, spec, { backend: 'wasm', cacheDir });
  assert.equal(outcome.status, 'failed');
  assert.match(outcome.error!, /cannot write to the run store .*full\.sqlite: database or disk is full/);
  store.close();
  const reopened = new RunStore(path);
  assert.equal(reopened.db.pragma('integrity_check', { simple: true }), 'ok');
  const [experiment] = reopened.listExperiments();
  assert.equal(experiment!.name, 'runner');
  assert.ok(['failed', 'interrupted'].includes(experiment!.status), experiment!.status);
  reopened.close();
});

test('replicates split into even contiguous shards, never more shards than replicates', () => {
  assert.deepEqual(splitReplicates(5, 2), [
    [0, 1],
    [2, 3, 4],
  ]);
  assert.deepEqual(splitReplicates(2, 8), [[0], [1]]);
  assert.deepEqual(splitReplicates(4, 1), [[0, 1, 2, 3]]);
});

test('one trainer per core stores exactly what one trainer stores', async () => {
  const store = new RunStore(join(dir, 'shards.sqlite'));
  const sharded = { ...spec, replicates: 3 };
  const one = await runExperiment(store, sharded, { backend: 'wasm', cacheDir, workers: 1 });
  const two = await runExperiment(store, sharded, { backend: 'wasm', cacheDir, workers: 2 });
  assert.equal(one.status, 'done');
  assert.equal(two.status, 'done');
  assert.equal(two.workers, 2);
  const results = (id: number) => store.results(store.cells(id)[0]!.id);
  assert.equal(results(one.experimentId).length, 6 * 3);
  assert.deepEqual(results(two.experimentId), results(one.experimentId));
  const losses = (id: number) => store.metrics(store.cells(id)[0]!.id, { name: 'loss' });
  assert.deepEqual(losses(two.experimentId), losses(one.experimentId));
  // The machine and software are recorded as each run starts, with the workers it used.
  const [environment] = store.getExperiment(two.experimentId)!.environments!;
  assert.deepEqual(
    { ...environment!, recordedAt: '' },
    { ...captureEnvironment('start', 'wasm', 2), recordedAt: '' },
  );
  assert.equal(store.getExperiment(one.experimentId)!.environments![0]!.workers, 1);
  store.close();
});

// Resume's refusals and the trainer limiter, without training: a real SQLite file, no trainers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandMatrix } from '../../app/matrix.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import { RunStore } from '../store/store.ts';
import { planUnits, resumeExperiment, runLimited, splitReplicates } from './run-experiment.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-resume-unit-'));
const spec = mustValidate({ version: 1, name: 'refusals', replicates: 3 });

test('resume refuses a done run, a live run and a spec that no longer validates', async () => {
  const store = new RunStore(join(dir, 'refusals.sqlite'));
  const options = { cacheDir: join(dir, 'cache'), backend: 'wasm' as const };
  const make = () => store.createExperiment(spec, expandMatrix(spec));
  const done = make();
  store.finishExperiment(done, 'done');
  await assert.rejects(resumeExperiment(store, done, options), /experiment \d+ is already done/);
  const live = make();
  store.startExperiment(live); // this process, alive, heartbeat now
  await assert.rejects(
    resumeExperiment(store, live, options),
    /is running \(process \d+ on .*last heartbeat/,
  );
  const invalid = make();
  store.finishExperiment(invalid, 'cancelled');
  store.db
    .prepare('UPDATE experiments SET spec_json = ? WHERE id = ?')
    .run(JSON.stringify({ ...spec, replicates: 1 }), invalid);
  await assert.rejects(
    resumeExperiment(store, invalid, options),
    /cannot be resumed: its spec no longer validates: replicates: at least 2 seeds/,
  );
  assert.equal(store.getExperiment(invalid)!.status, 'cancelled', 'a refusal changes nothing');
  await assert.rejects(resumeExperiment(store, 999, options), /no experiment with id 999/);
  store.close();
});

test('the plan covers every group x shard once; the limiter keeps at most N running, results in order', async () => {
  const cells = expandMatrix(spec);
  const plan = planUnits([[cells[0]!]], splitReplicates(3, 2));
  assert.deepEqual(plan, [
    { index: 0, group: 0, cells: [0], replicates: [0] },
    { index: 1, group: 0, cells: [0], replicates: [1, 2] },
  ]);
  let running = 0;
  let peak = 0;
  const tasks = [30, 5, 20, 1, 10].map((ms, i) => async () => {
    peak = Math.max(peak, ++running);
    await new Promise((r) => setTimeout(r, ms));
    running--;
    return i;
  });
  assert.deepEqual(await runLimited(tasks, 2), [0, 1, 2, 3, 4]);
  assert.equal(peak, 2);
  // A failure starts no further task and returns only after the running ones end.
  const ended: number[] = [];
  const failing = [5, 40, 1, 1].map((ms, i) => async () => {
    await new Promise((r) => setTimeout(r, ms));
    if (i === 0) throw new Error('lane 0 failed');
    ended.push(i);
    return i;
  });
  await assert.rejects(runLimited(failing, 2), /lane 0 failed/);
  assert.deepEqual(ended, [1], 'task 1 (running at the failure) ended first; tasks 2 and 3 never started');
});

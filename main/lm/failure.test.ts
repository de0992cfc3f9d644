// The language runner under a store write that fails once, with real unit processes and a real
// SQLite file: every lane stops (the running unit's process is killed, no other starts), the
// experiment is stored `failed`, and a resume completes it with each row stored once.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { validateLanguageSpec } from '../../app/spec/language.ts';
import { forkChild } from '../child.ts';
import { nodeEntry } from '../node-entry.ts';
import { processAlive } from '../process-alive.ts';
import { RunStore } from '../store/store.ts';
import { resumeLanguageExperiment, runLanguageExperiment, type LmSpawner } from './run.ts';
import { tinyLanguageSpec } from './testing/tiny-spec.ts';
import type { FromLmWorker, ToLmWorker } from './lm-worker.ts';

/** A store whose marking of one unit as started fails once, as SQLite does when the disk is full. */
class FailingOnce extends RunStore {
  failed = false;
  constructor(
    path: string,
    private readonly unit: number,
  ) {
    super(path);
  }
  override startUnit(experimentId: number, index: number): void {
    if (index === this.unit && !this.failed) {
      this.failed = true;
      throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
    }
    super.startUnit(experimentId, index);
  }
}

function recordingSpawner(pids: number[]): LmSpawner {
  return () => {
    const child = forkChild<ToLmWorker, FromLmWorker>(nodeEntry(new URL('./lm-worker.ts', import.meta.url)));
    pids.push(child.pid!);
    return child;
  };
}

test('a store write that fails once stops every lane, leaves no process and the run failed; resume completes it', async () => {
  const parsed = validateLanguageSpec({ ...tinyLanguageSpec('lm failing write'), replicates: 3 });
  assert.ok(parsed.ok);
  const path = join(mkdtempSync(join(tmpdir(), 'sublab-lm-failure-')), 'runs.sqlite');
  const store = new FailingOnce(path, 1);
  const pids: number[] = [];
  // Unit 0's process starts in the first lane; the second lane's unit 1 then fails to be stored.
  const outcome = await runLanguageExperiment(store, parsed.spec, {
    backend: 'wasm',
    workers: 2,
    spawn: recordingSpawner(pids),
  });
  assert.deepEqual(
    pids.filter((pid) => processAlive(pid)),
    [],
    'no unit process outlives the run',
  );
  assert.equal(pids.length, 1, 'no unit process started after the failure');
  assert.equal(outcome.status, 'failed');
  assert.match(
    outcome.error!,
    /^unit 1 \(cell 0, replicate 1\): cannot write to the run store .*runs\.sqlite: database or disk is full$/,
  );
  const id = outcome.experimentId;
  const experiment = store.getExperiment(id)!;
  assert.equal(experiment.status, 'failed');
  assert.equal(experiment.error, outcome.error);
  assert.deepEqual(
    store.units(id).map((u) => u.status),
    ['cancelled', 'failed', 'queued'],
    'the running unit was stopped, not finished; the next never started',
  );
  assert.deepEqual(
    store.cells(id).map((c) => c.status),
    ['failed'],
  );
  store.close();

  const again = new RunStore(path);
  const resumed = await resumeLanguageExperiment(again, id, { backend: 'wasm', workers: 2 });
  assert.equal(resumed.status, 'done', resumed.error);
  assert.deepEqual(
    again.units(id).map((u) => u.status),
    ['done', 'done', 'done'],
  );
  const cellId = again.cellId(id, 0);
  assert.equal(
    again.metrics(cellId, { name: 'target_rate' }).length,
    5 * 3,
    'five models x three replicates',
  );
  assert.equal(again.results(cellId).length, 5 * 3);
  again.close();
});

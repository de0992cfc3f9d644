// A trainer whose wasm heap runs out, with real trainer processes and a real SQLite file: the heap's
// ceiling is lowered for the test (trainer/testing/cap-wasm-heap.ts) so that 8 replicates in one
// trainer exhaust it at test size, as 50 exhausted the 4 GiB heap at the paper's. The failure names
// the cause and what to change, nothing of the untrained models is reported as a result, and a
// resume with smaller shards finishes the experiment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ANALYSIS_PREFIXES } from '../../app/analysis.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import { forkChild } from '../child.ts';
import { resultTables } from '../cli/format.ts';
import { CHEAP_ANALYSIS } from '../engine/testing/analysis.ts';
import { nodeEntry } from '../node-entry.ts';
import { RunStore } from '../store/store.ts';
import type { TrainerSpawner } from '../trainer/spawn.ts';
import { resumeExperiment, runExperiment } from './run-experiment.ts';
import { summarizeExperiment } from './summary.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-oom-'));
// Measured at this shape: 2 replicates peak near 40 MiB of heap, 8 need about 140 MiB.
process.env.SUBLAB_TEST_WASM_HEAP_CAP = String(80 * 2 ** 20);
const worker = nodeEntry(new URL('../trainer/worker.ts', import.meta.url));
const preload = fileURLToPath(new URL('../trainer/testing/cap-wasm-heap.ts', import.meta.url));
const cappedTrainer: TrainerSpawner = () =>
  forkChild({ file: worker.file, execArgv: [...worker.execArgv, '--import', preload] });

const spec = mustValidate({
  version: 1,
  name: 'out of memory',
  dataset: { name: 'mnist', trainSize: 2000, testLimit: 500 },
  model: { hidden: [64, 64] },
  teacher: { epochs: 1, batchSize: 1000 },
  student: { epochs: 1, batchSize: 256, inputs: { kind: 'uniform', count: 512 } },
  analysis: CHEAP_ANALYSIS,
  replicates: 8,
});

test('a trainer out of wasm heap is reported with its cause and remedy; a resume in smaller shards finishes', async (t) => {
  const store = new RunStore(join(dir, 'oom.sqlite'));
  const options = {
    backend: 'wasm' as const,
    cacheDir: join(dir, 'cache'),
    workers: 1,
    spawn: cappedTrainer,
  };
  const failed = await runExperiment(store, spec, options);
  const id = failed.experimentId;
  assert.equal(failed.status, 'failed');
  t.diagnostic(failed.error ?? '');
  assert.match(
    failed.error ?? '',
    /^wasm heap exhausted: 8 replicates \(40 models\) in one trainer, heap [\d.]+ MiB of 4\.0 GiB(, an allocation of [\d.]+ [KM]iB failed,)? in the students phase after 0 of 2 steps/,
  );
  assert.match(failed.error ?? '', new RegExp(`sublab resume ${id} --max-shard 4`));
  assert.deepEqual(
    store.units(id).map((u) => [u.replicates.length, u.status]),
    [[8, 'failed']],
  );

  // The untrained students' step-0 analysis is in the store, but no result is made of it.
  const cellId = store.cellId(id, 0);
  assert.ok(store.finalMetrics(cellId, ANALYSIS_PREFIXES).length > 0);
  const summary = summarizeExperiment(store, id);
  assert.deepEqual(summary.cells[0]!.conditions, {});
  assert.equal(summary.cells[0]!.analysis, undefined);
  const printed = resultTables(summary);
  assert.match(printed, /no model finished training, no results/);
  assert.doesNotMatch(printed, /analysis at the end|mean accuracy|95% CI/);

  const resumed = await resumeExperiment(store, id, { ...options, maxShard: 2 });
  assert.equal(resumed.status, 'done', resumed.error);
  assert.deepEqual(
    store.units(id).map((u) => [u.replicates, u.status]),
    [
      [[0, 1], 'done'],
      [[2, 3], 'done'],
      [[4, 5], 'done'],
      [[6, 7], 'done'],
    ],
  );
  const results = store.results(cellId);
  assert.deepEqual([...new Set(results.map((r) => r.replicate))].sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(results.length, 8 * 6, 'each replicate once per condition');
  store.close();
});

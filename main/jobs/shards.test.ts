import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planShards, splitReplicates } from '../../app/shards.ts';
import { splitReplicates as reexported } from './run-experiment.ts';

const flat = (shards: number[][]) => shards.flat();
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

test('planShards: workers shards when one trainer holds them, contiguous and even', () => {
  assert.deepEqual(planShards(10, 2, 100), [range(5), [5, 6, 7, 8, 9]]);
  assert.deepEqual(planShards(3, 8, 100), [[0], [1], [2]]);
  assert.deepEqual(planShards(10, 2, 100), splitReplicates(10, 2));
  assert.equal(reexported, splitReplicates);
});

test('planShards: more shards than workers when a shard would exceed maxPerShard', () => {
  for (const [replicates, workers, max] of [
    [100, 2, 7],
    [100, 1, 30],
    [10, 2, 1],
    [101, 4, 25],
    [9999, 3, 17],
  ] as const) {
    const shards = planShards(replicates, workers, max);
    assert.deepEqual(flat(shards), range(replicates), 'every replicate once, in order');
    assert.ok(shards.every((s) => s.length <= max && s.length >= 1));
    assert.ok(shards.length >= workers);
    const needed = Math.ceil(replicates / max);
    const waves = Math.ceil(Math.max(workers, needed) / workers);
    assert.equal(shards.length, Math.min(replicates, waves * workers), 'full waves, no more than needed');
    const sizes = shards.map((s) => s.length);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `even: ${sizes.join(',')}`);
  }
  assert.deepEqual(planShards(5, 1, 2), [[0], [1, 2], [3, 4]]);
});

test('planShards: shards beyond the workers come in full waves of smaller shards', () => {
  // The paper's 100 replicates on 2 workers, at most 40 per trainer: two waves of two, not 34+33+33.
  assert.deepEqual(
    planShards(100, 2, 40).map((s) => s.length),
    [25, 25, 25, 25],
  );
  assert.deepEqual(
    planShards(10, 3, 3).map((s) => s.length),
    [1, 2, 2, 1, 2, 2],
  );
});

test('planShards refuses nonsense', () => {
  assert.throws(() => planShards(0, 1, 1), /replicates >= 1/);
  assert.throws(() => planShards(5, 1, 0), /at most >= 1/);
});

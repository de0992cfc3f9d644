import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregateSeries, seriesUpTo, type SeriesRow } from './series.ts';

// Three seeds' losses; seed 2 misses step 2 (it diverged there, or its shard is not in yet).
const rows: SeriesRow[] = [0, 1, 2].flatMap((replicate) =>
  [0, 1, 2]
    .filter((step) => !(replicate === 2 && step === 2))
    .map((step) => ({
      cell: 0,
      condition: 'student' as const,
      replicate,
      step,
      name: 'loss',
      value: 10 * replicate + step,
    })),
);

test('per-seed lines: each replicate on the mean curve steps, null where it has no value', () => {
  const [s] = aggregateSeries(rows, { perSeed: true });
  assert.deepEqual(s!.steps, [0, 1, 2]);
  assert.deepEqual(s!.n, [3, 3, 2]);
  assert.deepEqual(s!.perSeed, [
    { replicate: 0, values: [0, 1, 2] },
    { replicate: 1, values: [10, 11, 12] },
    { replicate: 2, values: [20, 21, null] },
  ]);
  // The mean is over the seeds each step has.
  assert.deepEqual(s!.mean, [10, 11, 7]);
  // Rows in any order give the same lines, sorted by replicate.
  const [shuffled] = aggregateSeries([...rows].reverse(), { perSeed: true });
  assert.deepEqual(shuffled!.perSeed, s!.perSeed);
});

test('per-seed lines only when asked for: N times the data', () => {
  const [s] = aggregateSeries(rows);
  assert.equal(s!.perSeed, undefined);
});

test('replay truncation cuts the seeds with the mean', () => {
  const [s] = aggregateSeries(rows, { perSeed: true });
  const cut = seriesUpTo(s!, 1);
  assert.deepEqual(cut.steps, [0, 1]);
  assert.deepEqual(
    cut.perSeed!.map((l) => l.values),
    [
      [0, 1],
      [10, 11],
      [20, 21],
    ],
  );
  assert.equal(seriesUpTo(aggregateSeries(rows)[0]!, 1).perSeed, undefined);
});

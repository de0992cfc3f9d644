import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregateSeries, loadSeries, momentsPoint, seriesUpTo, type SeriesRow } from './series.ts';
import { summarize } from './stats.ts';

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

test('loadSeries follows the cursors to the last page and refuses an empty page that is not the last', async () => {
  const [s] = aggregateSeries(rows);
  const pages = [
    { series: [s!], next: { cell: 1, condition: 'teacher', name: 'loss' } },
    { series: [{ ...s!, cell: 1 }], next: null },
  ];
  const asked: unknown[] = [];
  const all = await loadSeries({ id: 7 }, (input) => (asked.push(input), pages[asked.length - 1]!));
  assert.deepEqual(
    all.map((x) => x.cell),
    [0, 1],
  );
  assert.deepEqual(asked, [{ id: 7 }, { id: 7, from: { cell: 1, condition: 'teacher', name: 'loss' } }]);
  await assert.rejects(
    loadSeries({ id: 7 }, () => ({ series: [], next: { cell: 0, condition: 'a', name: 'b' } })),
    /empty page that is not the last/,
  );
});

test('momentsPoint: the mean and Student-t interval of summarize, no spread where every value is equal', () => {
  const values = [0.91, 0.93, 0.9, 0.95];
  const sum = values.reduce((a, b) => a + b, 0);
  const point = momentsPoint({
    n: 4,
    sum,
    sumSquares: values.reduce((a, b) => a + b * b, 0),
    min: 0.9,
    max: 0.95,
  });
  const want = summarize(values);
  assert.ok(Math.abs(point.mean - want.mean) < 1e-15 && Math.abs(point.ci95 - want.ci95) < 1e-12);
  assert.deepEqual(momentsPoint({ n: 3, sum: 0.30000000000000004, sumSquares: 0.03, min: 0.1, max: 0.1 }), {
    mean: 0.1,
    ci95: 0,
    n: 3,
  });
  assert.deepEqual(momentsPoint({ n: 1, sum: 2, sumSquares: 4, min: 2, max: 2 }), { mean: 2, ci95: 0, n: 1 });
});

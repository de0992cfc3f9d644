// Series read in pages from a real SQLite file: the same curves as aggregating every row at once,
// every page under its byte cap, each group exactly once, filters, and a group too large for any page
// refused by name. The worker path (series-reader.ts) gives the same pages as reading here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SeriesData } from '../../app/api.ts';
import { aggregateSeries, loadSeries } from '../../app/series.ts';
import { readSeriesPage, SeriesQueries, type SeriesRequest } from './series-query.ts';
import { MAX_QUEUED_SERIES, SeriesReader } from './series-reader.ts';
import { RunStore } from './store.ts';
import { syntheticExperiment } from './testing/synthetic-metrics.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-series-'));
const store = new RunStore(join(dir, 'runs.sqlite'));
const shape = {
  cells: 3,
  conditions: ['teacher', 'student', 'cross_init'],
  names: ['loss', 'test_accuracy', 'cka.hidden.0'],
  steps: 40,
  replicates: 5,
};
const id = syntheticExperiment(store, 'paged series', shape);
// Seed 4 stops early (diverged), cell 1's teacher loss has one replicate at its last step, and cell 2's
// CKA is the same in every seed: the cases an interval must handle.
store.db.exec(`DELETE FROM metrics WHERE replicate = 4 AND step > 30;
  DELETE FROM metrics WHERE cell_id = (SELECT id FROM cells WHERE experiment_id = ${id} AND idx = 1)
    AND condition = 'teacher' AND name = 'loss' AND step = 39 AND replicate > 0;
  UPDATE metrics SET value = 0.25 WHERE cell_id = (SELECT id FROM cells WHERE experiment_id = ${id} AND idx = 2)
    AND name = 'cka.hidden.0';`);
const queries = new SeriesQueries(store.db);
const expected = aggregateSeries(store.experimentMetrics(id), { perSeed: true });

function pages(request: SeriesRequest, cap: number): { all: SeriesData[]; sizes: number[] } {
  const sizes: number[] = [];
  let from = request.from;
  const all: SeriesData[] = [];
  for (let guard = 0; guard < 1000; guard++) {
    const page = readSeriesPage(queries, { ...request, ...(from ? { from } : {}) }, cap);
    sizes.push(Buffer.byteLength(JSON.stringify(page)));
    all.push(...page.series);
    if (!page.next) return { all, sizes };
    from = page.next;
  }
  throw new Error('no last page');
}

function assertSameCurves(got: SeriesData[], want: SeriesData[], perSeed: boolean): void {
  assert.deepEqual(
    got.map((s) => `${s.cell}/${s.condition}/${s.name}`),
    want.map((s) => `${s.cell}/${s.condition}/${s.name}`),
  );
  got.forEach((s, i) => {
    const w = want[i]!;
    assert.deepEqual(s.steps, w.steps);
    assert.deepEqual(s.n, w.n);
    s.mean.forEach((m, k) => assert.ok(Math.abs(m - w.mean[k]!) <= 1e-12, `mean ${m} vs ${w.mean[k]}`));
    s.ci95.forEach((c, k) => assert.ok(Math.abs(c - w.ci95[k]!) <= 1e-9, `ci95 ${c} vs ${w.ci95[k]}`));
    if (perSeed) assert.deepEqual(s.perSeed, w.perSeed);
    else assert.equal(s.perSeed, undefined);
  });
}

test('paged series equal the curves aggregated from every row, each page under its cap', () => {
  for (const cap of [1 << 20, 10_000]) {
    const { all, sizes } = pages({ id }, cap);
    assertSameCurves(
      all,
      expected.map(({ perSeed: _, ...s }) => s),
      false,
    );
    assert.ok(Math.max(...sizes) <= cap, `${Math.max(...sizes)} > ${cap}`);
    if (cap === 10_000) assert.ok(sizes.length > 3, `${sizes.length} pages`);
  }
  const constant = pages({ id, cell: 2, names: ['cka.hidden.0'] }, 1 << 20).all;
  assert.equal(constant.length, 3);
  for (const s of constant) assert.ok(s.ci95.every((c) => c === 0) && s.mean.every((m) => m === 0.25));
});

test("each seed's line, paged per (cell, condition, metric), equals the lines from every row", () => {
  const { all, sizes } = pages({ id, perSeed: true }, 20_000);
  assertSameCurves(all, expected, true);
  assert.ok(Math.max(...sizes) <= 20_000 && sizes.length > 5, JSON.stringify(sizes));
});

test('one cell, some metrics, and a cursor into the middle', () => {
  const { all } = pages({ id, cell: 1, names: ['test_accuracy', 'loss'] }, 1 << 20);
  assert.deepEqual(
    all.map((s) => `${s.cell}/${s.condition}/${s.name}`),
    [
      '1/cross_init/loss',
      '1/cross_init/test_accuracy',
      '1/student/loss',
      '1/student/test_accuracy',
      '1/teacher/loss',
      '1/teacher/test_accuracy',
    ],
  );
  const from = { cell: 1, condition: 'student', name: 'loss' };
  const rest = pages({ id, from }, 1 << 20).all;
  assert.deepEqual(
    rest.map((s) => `${s.cell}/${s.condition}/${s.name}`),
    expected.map((s) => `${s.cell}/${s.condition}/${s.name}`).filter((key) => key >= '1/student/loss'),
  );
  assert.equal(rest.length, 5 + 9);
  assert.deepEqual(pages({ id: id + 1 }, 1 << 20).all, [], 'an experiment without rows has no series');
});

test('a series larger than any page is refused with its name and what to ask instead', () => {
  assert.throws(
    () => readSeriesPage(queries, { id, cell: 0, perSeed: true }, 4_000),
    /the series of cell 0, cross_init, cka\.hidden\.0 with each seed's line is larger than the 4 KiB one reply may carry; ask for it without perSeed/,
  );
  // What fits is served first; the refusal comes with the page that would hold it alone.
  const first = readSeriesPage(queries, { id, cell: 0, perSeed: true }, 12_000);
  assert.ok(first.series.length >= 1 && first.next !== null);
});

test('the worker thread serves the same pages, refuses requests past its queue, and serves again', async () => {
  const reader = new SeriesReader(store);
  try {
    const got = await loadSeries({ id, perSeed: true }, (input) => reader.page(input));
    assertSameCurves(got, expected, true);
    const many = await Promise.all([0, 1, 2].map((cell) => reader.page({ id, cell })));
    assert.deepEqual(
      many.map((p) => p.series.length),
      [0, 1, 2].map((cell) => expected.filter((s) => s.cell === cell).length),
    );
    // Past MAX_QUEUED_SERIES waiting, a request is refused at once; the queued ones are all served.
    const flood = await Promise.allSettled(
      Array.from({ length: MAX_QUEUED_SERIES + 10 }, () => reader.page({ id, cell: 0, names: ['loss'] })),
    );
    const refused = flood.filter((r) => r.status === 'rejected');
    assert.equal(refused.length, 10);
    assert.match(
      String((refused[0] as PromiseRejectedResult).reason),
      /busy: 256 series requests are waiting/,
    );
    assert.ok(flood.slice(0, MAX_QUEUED_SERIES).every((r) => r.status === 'fulfilled'));
    assert.equal((await reader.page({ id, cell: 0, names: ['loss'] })).series.length, 3);
  } finally {
    await reader.close();
  }
  await assert.rejects(reader.page({ id }), /shutting down/);
});

test(':memory: stores are read in pages on the calling thread', async () => {
  const memory = new RunStore(':memory:');
  const mid = syntheticExperiment(memory, 'in memory', { ...shape, cells: 1, steps: 3, replicates: 2 });
  const reader = new SeriesReader(memory);
  const page = await reader.page({ id: mid });
  assert.equal(page.series.length, 9);
  assert.equal(page.next, null);
  await reader.close();
  memory.close();
});

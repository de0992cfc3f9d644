import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExperimentDetail } from './api.ts';
import { aggregateSeries, seriesUpTo } from './series.ts';
import { barsFigure, curvesFigure, figureCsv, heatmapFigure, seedsCsv, toCsv } from './figures.ts';
import { mustValidate } from './spec/validate.ts';
import { estimateSeconds, specSize } from './estimate.ts';

const spec = mustValidate({ version: 1, name: 'fig', replicates: 2 });
const detail: ExperimentDetail = {
  id: 7,
  name: 'fig, "quoted"',
  status: 'done',
  createdAt: '2026-01-01T00:00:00Z',
  tags: [],
  notes: '',
  specHash: 'abc123',
  cells: 1,
  replicates: 2,
  backend: 'wasm',
  wallSeconds: 1,
  spec,
  error: null,
  versions: null,
  cellDetails: [
    {
      index: 0,
      coords: { trait: 'skill', filter: 'logits:aux', architecture: 'same-init' },
      status: 'done',
      error: null,
      diverged: 0,
      conditions: {
        teacher: { mean: 0.9, ci95: 0.01, n: 2, diverged: 0 },
        student: { mean: 0.6, ci95: 0.05, n: 2, diverged: 0 },
        cross_init: { mean: 0.1, ci95: Number.NaN, n: 1, diverged: 0 },
      },
      comparisons: [],
    },
  ],
  results: [
    {
      cell: 0,
      condition: 'teacher',
      replicate: 0,
      seed: 11,
      accuracy: 0.89,
      traitScore: null,
      diverged: null,
    },
    {
      cell: 0,
      condition: 'teacher',
      replicate: 1,
      seed: 12,
      accuracy: 0.91,
      traitScore: null,
      diverged: null,
    },
  ],
};

test('bars: one row per condition with its CI and N; per-seed rows; CSV quoting', () => {
  const fig = barsFigure([detail]);
  assert.equal(fig.kind, 'bars');
  if (fig.kind !== 'bars') return;
  assert.equal(fig.rows.length, 3);
  assert.equal(fig.rows.find((r) => r.condition === 'cross_init')!.ci95, 0, 'N=1 has no CI; drawn as 0');
  assert.equal(fig.meta.n, '1-2');
  assert.deepEqual(fig.meta.experimentIds, [7]);
  const csv = figureCsv(fig).trim().split('\n');
  assert.equal(csv[0], 'cell,condition,mean_accuracy,ci95,n');
  assert.equal(csv[1], 'skill | logits:aux | same-init,teacher,0.9,0.01,2');
  assert.equal(seedsCsv(fig).trim().split('\n').length, 3);
  assert.equal(toCsv(['a'], [['x,"y"']]), 'a\n"x,""y"""\n');
});

test('heatmap: student minus cross-init per cell', () => {
  const fig = heatmapFigure(detail);
  assert.ok(fig.kind === 'heatmap' && Math.abs(fig.rows[0]!.value - 0.5) < 1e-12 && fig.rows[0]!.n === 1);
});

test('series: mean and 95% CI across replicates per step; replay truncation', () => {
  const rows = [0, 1].flatMap((replicate) =>
    [0, 1, 2].map((step) => ({
      cell: 0,
      condition: 'teacher' as const,
      replicate,
      step,
      name: 'loss',
      value: step + replicate,
    })),
  );
  const [s] = aggregateSeries(rows);
  assert.deepEqual(s!.steps, [0, 1, 2]);
  assert.deepEqual(s!.mean, [0.5, 1.5, 2.5]);
  // N = 2: t(0.975, 1) = 12.706... (scipy.stats.t.ppf(0.975, 1)) times sd / sqrt(2)
  assert.ok(Math.abs(s!.ci95[0]! - (12.706204736174698 * Math.SQRT1_2) / Math.SQRT2) < 1e-12);
  assert.deepEqual(seriesUpTo(s!, 1).steps, [0, 1]);
  assert.deepEqual(seriesUpTo(s!, -1).steps, []);
  const curves = curvesFigure(detail, [s!], 0, 'loss');
  assert.ok(
    curves.kind === 'curves' && curves.rows.length === 3 && curves.rows[0]!.lo < curves.rows[0]!.mean,
  );
});

test('size and estimate of the paper spec', () => {
  const paper = mustValidate({ version: 1, name: 'paper' });
  const size = specSize(paper);
  assert.deepEqual(size, { cells: 1, runs: 500, modelSamples: 100 * 8000 * 5 + 400 * 60000 * 5 });
  assert.equal(estimateSeconds(paper, size.modelSamples), 1);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExperimentDetail } from './api.ts';
import { aggregateSeries, seriesUpTo } from './series.ts';
import {
  barsFigure,
  curvesFigure,
  experimentAxes,
  figureCsv,
  heatmapFigure,
  seedsCsv,
  sweepFigure,
  toCsv,
} from './figures.ts';
import { expandMatrix } from './matrix.ts';
import { mustValidate } from './spec/validate.ts';
import { estimateSeconds, specSize } from './estimate.ts';

/** A condition summary with a symmetric interval (the fixtures' numbers are made up). */
const kept = (mean: number, ci95: number, n: number) => ({
  mean,
  ci95,
  n,
  sd: Number.NaN,
  low: mean - ci95,
  high: mean + ci95,
  method: 't' as const,
  diverged: 0,
});

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
  cluster: null,
  wallSeconds: 1,
  spec,
  error: null,
  versions: null,
  interval: 't',
  cellDetails: [
    {
      index: 0,
      coords: { trait: 'skill', filter: 'logits:aux', architecture: 'same-init' },
      status: 'done',
      error: null,
      diverged: 0,
      conditions: {
        teacher: kept(0.9, 0.01, 2),
        student: kept(0.6, 0.05, 2),
        cross_init: kept(0.1, Number.NaN, 1),
      },
      comparisons: [
        {
          a: 'student',
          b: 'cross_init',
          label: 'student minus cross-init',
          n: 2,
          meanDiff: 0.5,
          low: 0.25,
          high: 0.75,
          method: 't',
          t: 25.5,
          df: 1,
          p: 0.025,
          pHolm: 0.05,
          wilcoxonP: 0.5,
        },
      ],
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
  assert.equal(csv[0], 'cell,condition,mean_accuracy,ci95,n,ci95_low,ci95_high,p,p_holm');
  assert.equal(csv[1], 'skill | logits:aux | same-init,teacher,0.9,0.01,2,,,,');
  assert.deepEqual(fig.pairs, [
    {
      group: 'skill | logits:aux | same-init',
      label: 'student minus cross-init',
      meanDiff: 0.5,
      low: 0.25,
      high: 0.75,
      p: 0.025,
      pHolm: 0.05,
      n: 2,
    },
  ]);
  assert.equal(
    csv.at(-1),
    'skill | logits:aux | same-init,student_minus_cross_init,0.5,0.25,2,0.25,0.75,0.025,0.05',
  );
  assert.equal(seedsCsv(fig).trim().split('\n').length, 3);
  assert.equal(toCsv(['a'], [['x,"y"']]), 'a\n"x,""y"""\n');
});

test('heatmap: student minus cross-init per cell', () => {
  const fig = heatmapFigure(detail);
  assert.ok(fig.kind === 'heatmap' && Math.abs(fig.rows[0]!.value - 0.5) < 1e-12 && fig.rows[0]!.n === 1);
  assert.equal(
    figureCsv(fig).split('\n')[0],
    'filter,trait_architecture,student_minus_cross_init,n,cells,ci_crosses_zero',
  );
  // The cell's paired interval [0.25, 0.75] excludes 0: shaded as an effect.
  assert.equal(fig.kind === 'heatmap' && fig.rows[0]!.crossesZero, false);
});

/** An experiment over `sweeps` x two filters, with made-up accuracies that depend on the cell. */
function sweptDetail(sweeps: { path: string; values: unknown[] }[]): ExperimentDetail {
  const swept = mustValidate({
    version: 1,
    name: 'swept',
    replicates: 3,
    matrix: {
      filters: [
        { kind: 'logits', keep: 'aux' },
        { kind: 'logits', keep: 'all' },
      ],
      sweeps,
    },
  });
  const cells = expandMatrix(swept);
  return {
    ...detail,
    id: 9,
    name: 'swept',
    spec: swept,
    cells: cells.length,
    results: [],
    // Cells in reverse: the figure must order lines by the axis, not by cell order.
    cellDetails: cells.reverse().map((c) => ({
      index: c.index,
      coords: c.coords,
      status: 'done' as const,
      error: null,
      diverged: 0,
      comparisons: [],
      conditions: {
        teacher: kept(0.9, 0.01, 3),
        student: kept(0.2 + c.index / 100, 0.02, 3),
        cross_init: kept(0.1, Number.NaN, 3),
      },
    })),
  };
}

test('sweep figure: a line per condition along the swept values, a panel per other axis value', () => {
  const e = sweptDetail([{ path: 'student.learningRate', values: [1e-4, 1e-3, 1e-2] }]);
  assert.deepEqual(experimentAxes(e), ['filter', 'student.learningRate']);
  const fig = sweepFigure(e, 'student.learningRate');
  assert.ok(fig.kind === 'sweep');
  if (fig.kind !== 'sweep') return;
  assert.equal(fig.xScale, 'log', 'positive values over two decades');
  assert.match(fig.xLabel, /Student learning rate: student\.learningRate \(log scale\)/);
  assert.deepEqual(fig.facets, ['all-logits', 'aux-logits'], 'one panel per filter (cells came reversed)');
  assert.equal(fig.rows.length, 2 * 3 * 3, 'panels x conditions x values');
  const line = fig.rows.filter((r) => r.facet === 'aux-logits' && r.condition === 'student');
  assert.deepEqual(
    line.map((r) => [r.xValue, r.x]),
    [
      [1e-4, '0.0001'],
      [1e-3, '0.001'],
      [1e-2, '0.01'],
    ],
  );
  assert.deepEqual(
    line.map((r) => Number(r.mean.toFixed(2))),
    [0.2, 0.21, 0.22],
    'aux-logits is cells 0-2 in matrix order',
  );
  assert.ok(Math.abs(line[0]!.hi - line[0]!.lo - 0.04) < 1e-12, 'the band is mean +- ci95');
  const cross = fig.rows.find((r) => r.condition === 'cross_init')!;
  assert.equal(cross.lo, cross.hi, 'no CI (NaN) is a zero-width band');
  // The CSV holds exactly the plotted rows, in the same order.
  const csv = figureCsv(fig).trim().split('\n');
  assert.equal(csv[0], 'panel,student.learningRate,condition,mean_accuracy,ci95_low,ci95_high,n');
  assert.equal(csv.length, 1 + fig.rows.length);
  assert.equal(csv[1], `all-logits,0.0001,teacher,0.9,${0.9 - 0.01},${0.9 + 0.01},3`);
});

test('sweep figure: linear within a decade, categorical for lists and names; other sweeps facet', () => {
  const within = sweepFigure(
    sweptDetail([{ path: 'student.learningRate', values: [2e-4, 1e-3, 2e-3] }]),
    'student.learningRate',
  );
  assert.ok(within.kind === 'sweep' && within.xScale === 'linear');
  const zero = sweepFigure(
    sweptDetail([{ path: 'dataset.splitSeed', values: [0, 3, 100] }]),
    'dataset.splitSeed',
  );
  assert.ok(zero.kind === 'sweep' && zero.xScale === 'linear', 'a zero cannot go on a log axis');
  assert.ok(
    zero.kind === 'sweep' && zero.xLabel === 'dataset.splitSeed',
    'a path not in the list is its own label',
  );
  const e = sweptDetail([
    { path: 'model.hidden', values: [[64], [256, 256]] },
    { path: 'model.activation', values: ['relu', 'tanh'] },
  ]);
  const hidden = sweepFigure(e, 'model.hidden');
  assert.ok(hidden.kind === 'sweep');
  if (hidden.kind !== 'sweep') return;
  assert.equal(hidden.xScale, 'categorical');
  assert.deepEqual(hidden.xDomain, ['[64]', '[256,256]']);
  assert.ok(hidden.rows.every((r) => r.xValue === null));
  assert.deepEqual(hidden.facets, [
    'all-logits | model.activation=tanh',
    'all-logits | model.activation=relu',
    'aux-logits | model.activation=tanh',
    'aux-logits | model.activation=relu',
  ]);
  const activation = sweepFigure(e, 'model.activation');
  assert.ok(activation.kind === 'sweep' && activation.xScale === 'categorical');
  assert.equal(activation.rows.length, 4 * 3 * 2);
});

test('heatmap over two chosen axes: a sweep path against a filter, averaging what is not shown', () => {
  const e = sweptDetail([
    { path: 'student.learningRate', values: [1e-4, 1e-3] },
    { path: 'model.auxLogits', values: [3, 5] },
  ]);
  const fig = heatmapFigure(e, 'student.learningRate', 'filter');
  assert.ok(fig.kind === 'heatmap');
  if (fig.kind !== 'heatmap') return;
  assert.equal(fig.xLabel, 'student.learningRate');
  assert.equal(fig.yLabel, 'filter');
  assert.equal(fig.rows.length, 4);
  // Cells: filter slowest, then learningRate, then auxLogits; index/100 + 0.1 is student - cross.
  const square = fig.rows.find((r) => r.x === '0.001' && r.y === 'aux-logits')!;
  assert.equal(square.cells, 2, 'the two auxLogits cells share the square');
  assert.ok(
    Math.abs(square.value - (0.1 + (2 + 3) / 2 / 100)) < 1e-12,
    `mean of cells 2 and 3: ${square.value}`,
  );
  assert.equal(square.n, 3);
  const csv = figureCsv(fig).trim().split('\n');
  assert.equal(csv[0], 'student_learningRate,filter,student_minus_cross_init,n,cells,ci_crosses_zero');
  assert.equal(csv.length, 5);
  // "rest" shows every axis not on the other side: one square per cell.
  const all = heatmapFigure(e, 'filter', 'rest');
  assert.ok(all.kind === 'heatmap' && all.rows.length === 8 && all.rows.every((r) => r.cells === 1));
  assert.equal(all.yLabel, 'trait | architecture | student.learningRate | model.auxLogits');
  assert.ok(
    all.rows.some((r) => r.y === 'skill | same-init | student.learningRate=0.0001 | model.auxLogits=5'),
  );
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

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExperimentDetail } from './api.ts';
import { aggregateSeries, seriesUpTo } from './series.ts';
import {
  accuracyDomain,
  barsFigure,
  chanceLevel,
  compareCurvesFigure,
  compareHeatmapFigure,
  compareSweepFigure,
  curvesFigure,
  defaultHeatAxes,
  experimentAxes,
  matchingCell,
  figureCsv,
  heatmapFigure,
  readableLabel,
  seedsCsv,
  sweepFigure,
  toCsv,
} from './figures.ts';
import { CONDITIONS, CONDITION_DESCRIPTIONS, CONDITION_LABELS } from './conditions.ts';
import { BACKGROUNDS, CONDITION_COLOR, contrastRatio } from '../renderer/src/lib/colors.ts';
import { expandMatrix } from './matrix.ts';
import { mustValidate } from './spec/validate.ts';
import { INITS_SPEC, makeDetail } from './testing/detail.ts';
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
  // Every bar's interval as its ends, as for the paired difference; none where N = 1.
  assert.equal(csv[1], 'skill | logits:aux | same-init,teacher,0.9,0.01,2,0.89,0.91,,');
  assert.equal(csv[3], 'skill | logits:aux | same-init,cross_init,0.1,0,1,,,,');
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

test('a run cancelled before a cell finished: no empty panel for it, and nothing at all with no results', () => {
  const unfinished = { ...detail.cellDetails[0]!, index: 1, conditions: {}, comparisons: [] };
  const partial = barsFigure([
    { ...detail, status: 'cancelled', cellDetails: [detail.cellDetails[0]!, unfinished] },
  ]);
  assert.ok(partial.kind === 'bars');
  assert.deepEqual(partial.kind === 'bars' && partial.groups.map((g) => g.key), [
    'skill | logits:aux | same-init',
  ]);
  const none = barsFigure([{ ...detail, status: 'cancelled', cellDetails: [unfinished], results: [] }]);
  assert.ok(none.kind === 'bars' && none.groups.length === 0 && none.rows.length === 0);
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

test('the heatmap opens on the two axes with the most values, not the first axis against the rest', () => {
  const e = sweptDetail([
    { path: 'student.learningRate', values: [1e-4, 1e-3, 1e-2] },
    { path: 'model.auxLogits', values: [3, 5] },
  ]);
  // learningRate has 3 values; filter and auxLogits 2 each (filter first: matrix order breaks ties).
  assert.deepEqual(defaultHeatAxes(e), ['student.learningRate', 'filter']);
  const fig = heatmapFigure(e, ...defaultHeatAxes(e));
  assert.ok(fig.kind === 'heatmap');
  assert.equal(new Set(fig.rows.map((r) => r.x)).size, 3);
  assert.equal(new Set(fig.rows.map((r) => r.y)).size, 2, 'a grid, not one row per cell');
  // One axis that varies: it against the rest; nothing varies: filter against the rest.
  assert.deepEqual(defaultHeatAxes(sweptDetail([])), ['filter', 'rest']);
  assert.deepEqual(defaultHeatAxes(detail), ['filter', 'rest']);
});

test('compare: every selected experiment in the curves, sweep and heatmap, a line style or rows each', () => {
  const a = sweptDetail([{ path: 'student.learningRate', values: [1e-4, 1e-3] }]);
  const b = {
    ...sweptDetail([{ path: 'student.learningRate', values: [1e-3, 1e-2] }]),
    id: 12,
    name: 'other',
  };
  const sweep = compareSweepFigure([a, b], 'student.learningRate');
  assert.ok(sweep.kind === 'sweep');
  if (sweep.kind !== 'sweep') return;
  assert.deepEqual(sweep.meta.experimentIds, [9, 12]);
  assert.deepEqual(sweep.experiments, ['#9 swept', '#12 other']);
  assert.deepEqual(sweep.xDomain, ['0.0001', '0.001', '0.01'], 'the values of both, in order');
  assert.deepEqual([...new Set(sweep.rows.map((r) => r.experiment))], [9, 12]);
  assert.deepEqual(sweep.facets, ['all-logits', 'aux-logits'], 'the same panels hold both');
  assert.match(figureCsv(sweep).split('\n')[0]!, /^experiment,panel,student\.learningRate,/);
  const one = figureCsv(sweepFigure(a, 'student.learningRate')).split('\n')[0];
  assert.equal(one, 'panel,student.learningRate,condition,mean_accuracy,ci95_low,ci95_high,n');

  const heat = compareHeatmapFigure([a, b], 'student.learningRate', 'filter');
  assert.ok(heat.kind === 'heatmap');
  if (heat.kind !== 'heatmap') return;
  assert.equal(heat.yLabel, 'experiment | filter');
  assert.deepEqual([...new Set(heat.rows.map((r) => r.y))].sort(), [
    '#12 | all-logits',
    '#12 | aux-logits',
    '#9 | all-logits',
    '#9 | aux-logits',
  ]);

  const series = (mean: number) => ({
    cell: 0,
    condition: 'student' as const,
    name: 'test_accuracy',
    steps: [0, 1],
    mean: [mean, mean],
    ci95: [0.01, 0.01],
    n: [3, 3],
  });
  // Cells: filter slowest, then the learning rate. a's cell 1 (aux-logits, 0.001) is b's cell 0;
  // a's cell 0 (aux-logits, 0.0001) has no match in b: the same index then.
  assert.equal(matchingCell(a, 1, b), 0);
  assert.equal(matchingCell(a, 3, b), 2);
  assert.equal(matchingCell(a, 0, b), 0);
  const curves = compareCurvesFigure(
    [
      { experiment: a, series: [series(0.5)], cell: 0 },
      { experiment: b, series: [series(0.6)], cell: 0 },
    ],
    'test_accuracy',
  );
  assert.ok(curves.kind === 'curves');
  if (curves.kind !== 'curves') return;
  assert.deepEqual(
    curves.rows.map((r) => [r.experiment, r.mean]),
    [
      [9, 0.5],
      [9, 0.5],
      [12, 0.6],
      [12, 0.6],
    ],
  );
  assert.deepEqual(curves.experiments, ['#9 swept', '#12 other']);
  assert.match(curves.meta.title, /\(#9 vs #12\)$/);
  assert.equal(figureCsv(curves).split('\n')[1], '9,students,student,0,0.5,0.49,0.51,3');
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

/** `detail` with every condition present, given in an order unlike CONDITIONS, and `classes` if set. */
function allConditions(classes?: number[]): ExperimentDetail {
  const spec3 = mustValidate({
    version: 1,
    name: 'fig',
    replicates: 2,
    dataset: { name: 'mnist', ...(classes ? { classes } : {}) },
  });
  const s = (mean: number) => kept(mean, 0.02, 2);
  return {
    ...detail,
    spec: spec3,
    cellDetails: [
      {
        ...detail.cellDetails[0]!,
        conditions: {
          cross_init_all_logits: s(0.2),
          student: s(0.41),
          teacher: s(0.43),
          reference: s(0.1),
          cross_init: s(0.12),
          student_all_logits: s(0.3),
        },
      },
    ],
    results: [1, 0].flatMap((replicate) =>
      (['cross_init', 'teacher', 'student'] as const).map((condition) => ({
        cell: 0,
        condition,
        replicate,
        seed: replicate,
        accuracy: 0.5,
        traitScore: null,
        diverged: null,
      })),
    ),
  };
}

test('chance is 1 / the classes of the experiment: 10 by default, 3 with a 3-class subset', () => {
  const ten = barsFigure([allConditions()]);
  assert.ok(ten.kind === 'bars');
  assert.equal(ten.chance, 0.1);
  assert.equal(chanceLevel(allConditions([0, 1, 2])), 1 / 3);
  const three = barsFigure([allConditions([0, 1, 2])]);
  assert.ok(three.kind === 'bars' && Math.abs(three.chance! - 1 / 3) < 1e-12);
  assert.ok(three.kind === 'bars' && three.groups.every((g) => Math.abs(g.chance! - 1 / 3) < 1e-12));
  // Experiments with different class counts side by side: no one chance; each panel has its own.
  const mixed = barsFigure([allConditions(), { ...allConditions([0, 1, 2]), id: 8 }]);
  assert.ok(mixed.kind === 'bars' && mixed.chance === null);
  assert.deepEqual(
    mixed.kind === 'bars' && mixed.groups.map((g) => Number(g.chance!.toFixed(4))),
    [0.1, 0.3333],
  );
  // A swept class subset: chance per point.
  const swept = sweepFigure(
    sweptDetail([
      {
        path: 'dataset.classes',
        values: [
          [0, 1],
          [0, 1, 2, 3, 4],
        ],
      },
    ]),
    'dataset.classes',
  );
  assert.ok(swept.kind === 'sweep' && swept.chance === null);
  assert.deepEqual(
    swept.kind === 'sweep' && [...new Set(swept.rows.map((r) => `${r.x}:${r.chance}`))].sort(),
    ['[0,1,2,3,4]:0.2', '[0,1]:0.5'],
  );
  assert.match(ten.meta.caption.join(' '), /Dashed line: chance \(0\.10 = 1 \/ 10 classes\)/);
  // No chance level on a loss or a difference.
  assert.equal(curvesFigure(detail, [], 0, 'loss').chance, null);
  assert.equal(curvesFigure(allConditions([0, 1, 2, 3]), [], 0, 'test_accuracy').chance, 0.25);
  assert.equal(heatmapFigure(detail).chance, null);
});

test('the y axis fits the data (0 to a round value above every interval and chance) unless fixed to 0-1', () => {
  const fig = barsFigure([allConditions()]);
  // Highest interval end 0.43 + 0.02 = 0.45: half a step (0.05) above it is 0.5.
  assert.deepEqual(accuracyDomain(fig), [0, 0.5]);
  assert.deepEqual(accuracyDomain(fig, true), [0, 1]);
  const low = barsFigure([
    {
      ...allConditions(),
      cellDetails: [
        {
          ...detail.cellDetails[0]!,
          conditions: { student: kept(0.11, 0.01, 2) },
        },
      ],
    },
  ]);
  assert.deepEqual(accuracyDomain(low), [0, 0.15], '0.12 in steps of 0.05');
  // Three classes: chance 1/3 is above every bar and sets the top.
  const three = barsFigure([
    {
      ...allConditions([0, 1, 2]),
      cellDetails: [{ ...detail.cellDetails[0]!, conditions: { student: kept(0.2, 0.01, 2) } }],
    },
  ]);
  assert.deepEqual(accuracyDomain(three), [0, 0.4]);
  const high = barsFigure([
    {
      ...allConditions(),
      cellDetails: [{ ...detail.cellDetails[0]!, conditions: { teacher: kept(0.97, 0.05, 2) } }],
    },
  ]);
  assert.deepEqual(accuracyDomain(high), [0, 1], 'accuracy stops at 1; an interval past it is cut');
  const sweep = sweepFigure(
    sweptDetail([{ path: 'student.learningRate', values: [1e-4, 1e-3, 1e-2] }]),
    'student.learningRate',
  );
  // Teacher 0.9 + 0.01 = 0.91, within 1.
  assert.deepEqual(accuracyDomain(sweep), [0, 1]);
});

test('conditions in one order (CONDITIONS) in figures, legends and CSV rows', () => {
  const fig = barsFigure([allConditions()]);
  assert.ok(fig.kind === 'bars');
  if (fig.kind !== 'bars') return;
  assert.deepEqual(
    fig.rows.map((r) => r.condition),
    [...CONDITIONS],
  );
  const csv = figureCsv(fig).trim().split('\n').slice(1);
  assert.deepEqual(
    csv.slice(0, CONDITIONS.length).map((line) => line.split(',')[1]),
    [...CONDITIONS],
  );
  assert.deepEqual(
    seedsCsv(fig)
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.split(',').slice(2, 4).join(' ')),
    ['teacher 0', 'teacher 1', 'student 0', 'student 1', 'cross_init 0', 'cross_init 1'],
    'per-seed rows by condition, then replicate',
  );
  // The caption defines every condition shown, in the same order, and no other.
  const defined = fig.meta.caption.slice(1);
  assert.deepEqual(
    defined,
    CONDITIONS.map((c) => `${CONDITION_LABELS[c]}: ${CONDITION_DESCRIPTIONS[c]}.`),
  );
  const few = barsFigure([detail]);
  assert.equal(few.meta.caption.length, 1 + 3);
  assert.match(
    few.meta.caption[0]!,
    /Student-t 95% CI of the mean over N = 1-2 replicates.*paired by replicate.*Holm-adjusted across the cells/,
  );
  const sweep = sweepFigure(
    sweptDetail([{ path: 'student.learningRate', values: [1e-4, 1e-3] }]),
    'student.learningRate',
  );
  assert.ok(sweep.kind === 'sweep');
  const order = sweep.kind === 'sweep' ? [...new Set(sweep.rows.map((r) => r.condition))] : [];
  assert.deepEqual(order, ['teacher', 'student', 'cross_init']);
});

test('curves: a panel per phase (teacher steps, student steps), conditions in order', () => {
  const steps = [0, 1, 2];
  const series = (['cross_init', 'student', 'teacher', 'reference'] as const).map((condition) => ({
    cell: 0,
    condition,
    name: 'loss',
    steps: condition === 'reference' ? [0] : steps,
    mean: condition === 'teacher' || condition === 'reference' ? [2.3, 1.5, 1] : [0.002, 0.0015, 0.001],
    ci95: [0.1, 0.1, 0.1],
    n: [2, 2, 2],
  }));
  const fig = curvesFigure(detail, series, 0, 'loss');
  assert.ok(fig.kind === 'curves');
  if (fig.kind !== 'curves') return;
  assert.deepEqual(fig.panels, [
    { phase: 'teacher', xLabel: 'teacher step', yLabel: 'cross-entropy loss' },
    { phase: 'students', xLabel: 'student step', yLabel: 'KL divergence loss' },
  ]);
  assert.deepEqual(
    [...new Set(fig.rows.map((r) => `${r.phase}:${r.condition}`))],
    ['teacher:reference', 'teacher:teacher', 'students:student', 'students:cross_init'],
  );
  assert.equal(fig.chance, null);
  assert.equal(figureCsv(fig).split('\n')[0], 'phase,condition,step,mean,ci95_low,ci95_high,n');
  // Only students recorded: one panel.
  const students = curvesFigure(detail, series.slice(0, 2), 0, 'loss');
  assert.ok(students.kind === 'curves' && students.panels.map((p) => p.phase).join() === 'students');
});

test('readable labels: words instead of slugs, sweep paths by their last part', () => {
  assert.equal(readableLabel('skill | aux-logits | same-init'), 'skill | aux logits | same init');
  assert.equal(readableLabel('all-logits | student.learningRate=0.001'), 'all logits | learningRate 0.001');
  assert.equal(readableLabel('hidden 256-256'), 'hidden 256-256');
  const fig = barsFigure([allConditions()]);
  assert.ok(fig.kind === 'bars' && fig.groups[0]!.label === '', 'one cell: nothing varies');
  assert.match(fig.meta.caption[0]!, /Every cell: trait skill, filter logits:aux, architecture same init\./);
  const e = sweptDetail([{ path: 'student.learningRate', values: [1e-4, 1e-3] }]);
  const bars = barsFigure([e]);
  assert.ok(bars.kind === 'bars');
  assert.deepEqual(bars.kind === 'bars' && bars.groups.map((g) => g.label), [
    'all logits | learningRate 0.001',
    'all logits | learningRate 0.0001',
    'aux logits | learningRate 0.001',
    'aux logits | learningRate 0.0001',
  ]);
});

test('condition colours: the headline conditions reach 3:1 on the light and dark panels and on paper', () => {
  assert.ok(CONDITIONS.every((c) => /^#[0-9A-F]{6}$/i.test(CONDITION_COLOR.get(c) ?? '')));
  assert.equal(new Set(CONDITION_COLOR.values()).size, CONDITIONS.length, 'one colour each');
  for (const c of ['reference', 'teacher', 'student', 'cross_init'] as const)
    for (const [name, background] of Object.entries(BACKGROUNDS)) {
      const ratio = contrastRatio(CONDITION_COLOR.get(c)!, background);
      assert.ok(ratio >= 3, `${c} on ${name}: ${ratio.toFixed(2)}`);
    }
  assert.ok(![...CONDITION_COLOR.values()].includes('#000000'), 'no black: it vanishes on the dark theme');
});

test('bootstrap intervals: bars and bands at the summaries own (uneven) ends, the caption says bootstrap', () => {
  const e = Object.assign(allConditions(), { interval: 'bootstrap' });
  const cell = e.cellDetails[0]!;
  cell.conditions.student = { ...kept(0.41, 0.05, 2), low: 0.3, high: 0.4, method: 'bootstrap' };
  const fig = barsFigure([e]);
  assert.ok(fig.kind === 'bars');
  const student = fig.kind === 'bars' ? fig.rows.find((r) => r.condition === 'student')! : null;
  assert.deepEqual([student?.low, student?.high], [0.3, 0.4]);
  const teacher = fig.kind === 'bars' ? fig.rows.find((r) => r.condition === 'teacher')! : null;
  assert.deepEqual([teacher?.low, teacher?.high], [0.43 - 0.02, 0.43 + 0.02], 'no ends given: mean +- ci95');
  assert.match(fig.meta.caption[0]!, /error bars: seeded percentile bootstrap 95% CI of the mean/);
  assert.match(barsFigure([allConditions()]).meta.caption[0]!, /error bars: Student-t 95% CI of the mean/);
});

test('a different-init cell: its student is labelled so, no 0 difference is drawn, the captions say why', () => {
  const spec = INITS_SPEC;
  const accuracy = (cell: number, condition: string, r: number) =>
    (condition.startsWith('student') && cell === 0 ? 0.5 : 0.2) + 0.01 * r;
  const e = makeDetail(spec, { accuracy });
  const fig = barsFigure([e]);
  assert.ok(fig.kind === 'bars');
  assert.deepEqual(
    fig.pairs.map((p) => p.group),
    [fig.groups[0]!.key],
    'only the same-init cell has a difference above it',
  );
  const student = (group: string) =>
    fig.rows.find((r) => r.group === group && r.condition === 'student')!.label;
  assert.equal(student(fig.groups[0]!.key), 'student (same init)');
  assert.equal(student(fig.groups[1]!.key), 'student (different init)');
  assert.match(
    fig.meta.caption[0]!,
    /In a different-init cell .*one model, so their difference is 0 by construction/,
  );
  assert.match(heatmapFigure(e).meta.caption[0]!, /0 by construction; its square is 0\./);
  // Without a different-init cell, no such sentence.
  const same = makeDetail(mustValidate({ ...spec, matrix: { architectures: [{ kind: 'same-init' }] } }), {
    accuracy,
  });
  assert.doesNotMatch(barsFigure([same]).meta.caption.join(' '), /different-init/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunEnvironment, SeriesData } from './api.ts';
import type { Condition } from './conditions.ts';
import { replicateSeeds } from './matrix.ts';
import { mustValidate } from './spec/validate.ts';
import { makeDetail } from './testing/detail.ts';
import {
  MAX_CURVE_CELLS,
  NOT_RECORDED,
  reportFigures,
  displayRows,
  reportFileStem,
  reportModel,
  type ReportModel,
} from './report.ts';
import { escapeHtml, reportHtml } from './report-html.ts';

const spec = mustValidate({
  version: 1,
  name: 'two <filters> & "quotes"',
  replicates: 6,
  seed: 7,
  matrix: {
    filters: [
      { kind: 'logits', keep: 'aux' },
      { kind: 'logits', keep: 'all' },
    ],
  },
});
const accuracy = (cell: number, condition: Condition, r: number) =>
  ({
    reference: 0.1,
    teacher: 0.85,
    student: 0.55,
    student_all_logits: 0.8,
    cross_init: 0.12,
    cross_init_all_logits: 0.6,
  })[cell === 1 ? (condition.replace('_all_logits', '') as Condition) : condition] +
  0.01 * r +
  (condition === 'teacher' || condition === 'reference' ? 0 : 0.003 * ((r * 7) % 5));
const machine: RunEnvironment = {
  attempt: 'start',
  recordedAt: '2026-12-01T09:00:01.000Z',
  app: '0.1.0',
  node: '20.20.2',
  electron: null,
  chromium: null,
  os: 'Linux 6.1.0-13-amd64 (x64)',
  cpu: 'AMD EPYC 7B13',
  cores: 16,
  memoryBytes: 64 * 2 ** 30,
  backend: 'wasm',
  workers: 2,
};
const generatedAt = '2026-12-02T10:00:00.000Z';

const section = (model: ReportModel, title: string) => model.sections.find((s) => s.title === title)!;
const cellOf = (model: ReportModel, title: string, row: string) =>
  section(model, title).table!.rows.find((r) => r[0] === row)!;

test('the report model: results with N and intervals, the paired tests with Holm, seeds and spec', () => {
  const detail = makeDetail(spec, { accuracy, environments: [machine] });
  const model = reportModel(detail, generatedAt);
  assert.equal(model.title, '#1 two <filters> & "quotes"');
  assert.match(
    model.summary,
    /^done \| 2 cells x N = 6 replicates \| backend wasm \| wall time 83\.5 s \| spec [0-9a-f]{64}$/,
  );
  assert.deepEqual(
    model.sections.map((s) => s.title),
    ['Results', 'Paired comparisons', 'Machine and software', 'Seeds'],
  );
  const results = section(model, 'Results').table!;
  assert.deepEqual(results.columns, ['cell', 'condition', 'mean accuracy', '95% CI', 'N', 'diverged']);
  assert.equal(results.rows.length, 8, 'reference and teacher once, twins once');
  assert.deepEqual(results.rows[1]!.slice(0, 3), ['skill | same-init (2 cells)', 'teacher [1]', '0.875']);
  assert.match(results.rows[1]![3]!, /^\[0\.8\d\d, 0\.8\d\d\]$/);
  assert.deepEqual(results.rows[1]!.slice(4), ['6', '0']);
  assert.equal(results.notes.length, 2);
  const paired = section(model, 'Paired comparisons');
  assert.match(paired.text.join(' '), /Holm's step-down correction across the 2 cells/);
  assert.deepEqual(paired.table!.columns.slice(-4), ['p', 'p (Holm)', 'Wilcoxon p', 'N']);
  assert.equal(paired.table!.rows.length, 5);
  assert.match(
    paired.table!.rows[0]!.join(' | '),
    /^skill \| aux-logits \| same-init \| student minus cross-init \| \+0\.4\d\d \| \[/,
  );
  const seeds = section(model, 'Seeds');
  assert.deepEqual(
    seeds.table!.rows.flat().filter((_, i) => i % 2 === 1 && _ !== ''),
    replicateSeeds(spec).map(String),
  );
  assert.match(seeds.text[0]!, /mixSeed\(7, r\)/);
  assert.deepEqual(JSON.parse(model.specJson), spec);
  assert.match(model.specJson, /\n {4}"hidden": \[256, 256\],\n/, 'lists of numbers on one line');
  assert.deepEqual(model.warnings, []);
});

test('the interval method is said in the text: Student-t, or the bootstrap when the screen chose it', () => {
  const t = reportModel(makeDetail(spec, { accuracy }), generatedAt);
  assert.match(section(t, 'Results').text[0]!, /Student-t 95% interval mean \+- t\(0\.975, N-1\)/);
  const boot = reportModel(makeDetail(spec, { accuracy, interval: 'bootstrap' }), generatedAt);
  assert.match(
    section(boot, 'Results').text[0]!,
    /percentile bootstrap interval of the mean \(10000 resamples, seed 0\)/,
  );
  assert.match(
    section(boot, 'Paired comparisons').text[0]!,
    /percentile bootstrap 95% interval of the differences/,
  );
});

test('machine and software are those recorded at the start, one column per attempt', () => {
  const resumed: RunEnvironment = {
    ...machine,
    attempt: 'resume',
    cpu: 'Apple M3',
    backend: 'webgpu',
    workers: 1,
  };
  const model = reportModel(
    makeDetail(spec, {
      accuracy,
      environments: [machine, resumed],
      versions: { 'tfjs-core': '4.22.0', adapter: 'apple metal-3 M3', 'tfjs-backend-webgpu': '4.22.0' },
    }),
    generatedAt,
  );
  const env = section(model, 'Machine and software');
  assert.deepEqual(env.table!.columns, ['', 'attempt 1', 'attempt 2']);
  assert.deepEqual(cellOf(model, 'Machine and software', 'CPU'), ['CPU', 'AMD EPYC 7B13', 'Apple M3']);
  assert.deepEqual(cellOf(model, 'Machine and software', 'memory'), ['memory', '64.0 GiB', '64.0 GiB']);
  assert.deepEqual(cellOf(model, 'Machine and software', 'GPU adapter'), [
    'GPU adapter',
    'none used (backend wasm)',
    'apple metal-3 M3',
  ]);
  assert.deepEqual(cellOf(model, 'Machine and software', 'tfjs-core (trainer)'), [
    'tfjs-core (trainer)',
    '4.22.0',
    '',
  ]);
  assert.equal(cellOf(model, 'Machine and software', 'Electron')[1], 'not used (CLI or sublab serve)');
  assert.equal(cellOf(model, 'Machine and software', 'wall time')[1], '83.5 s');
});

test('an experiment from before the record says "not recorded", keeping what its results stored', () => {
  const model = reportModel(makeDetail(spec, { accuracy, environments: null, versions: null }), generatedAt);
  const env = section(model, 'Machine and software');
  assert.match(env.text[0]!, /not recorded/);
  assert.deepEqual(cellOf(model, 'Machine and software', 'CPU'), ['CPU', NOT_RECORDED]);
  assert.deepEqual(cellOf(model, 'Machine and software', 'Subliminal Lab'), ['Subliminal Lab', NOT_RECORDED]);
  assert.deepEqual(cellOf(model, 'Machine and software', 'backend'), ['backend', 'wasm']);
  assert.deepEqual(cellOf(model, 'Machine and software', 'TF.js and backend (trainer)'), [
    'TF.js and backend (trainer)',
    NOT_RECORDED,
  ]);
});

test('small N, divergence and an unfinished run are said at the top', () => {
  const small = mustValidate({ ...spec, replicates: 3 });
  const diverging = (cell: number, condition: Condition, r: number) =>
    cell === 0 && condition === 'cross_init' && r === 0 ? null : accuracy(cell, condition, r);
  const model = reportModel(
    { ...makeDetail(small, { accuracy: diverging }), status: 'interrupted', error: 'the process stopped' },
    generatedAt,
  );
  assert.deepEqual(model.warnings, [
    'N=2: intervals are wide and the tests have little power; use at least 5 seeds',
    'N=3: intervals are wide and the tests have little power; use at least 5 seeds',
    'The experiment is interrupted: the process stopped; its numbers are partial.',
    '1 model diverged and is left out of the means.',
  ]);
});

function series(cells: number, name = 'test_accuracy'): SeriesData[] {
  return Array.from({ length: cells }, (_, cell) => ({
    cell,
    condition: 'student' as const,
    name,
    steps: [1, 2],
    mean: [0.2, 0.4],
    ci95: [0.01, 0.02],
    n: [6, 6],
  }));
}

test('the figures: bars, heatmap, one sweep figure per swept path, curves per cell up to a cap', () => {
  const detail = makeDetail(spec, { accuracy });
  const plain = reportFigures(detail, series(2));
  assert.deepEqual(
    plain.figures.map((f) => f.kind),
    ['bars', 'heatmap', 'curves', 'curves'],
  );
  assert.equal(plain.note, null);
  assert.equal(reportFigures(detail, []).figures.length, 2, 'no curves without series');

  const swept = mustValidate({
    version: 1,
    name: 'swept',
    replicates: 2,
    matrix: {
      sweeps: [
        { path: 'student.learningRate', values: [0.001, 0.002, 0.003, 0.004, 0.005] },
        { path: 'student.epochs', values: [1, 2, 3] },
      ],
    },
  });
  const many = makeDetail(swept, { accuracy });
  const figures = reportFigures(many, [...series(15), ...series(15, 'loss')], {
    metric: 'loss',
    heatX: 'student.epochs',
  });
  assert.deepEqual(
    figures.figures.filter((f) => f.kind === 'sweep').map((f) => f.kind === 'sweep' && f.path),
    ['student.learningRate', 'student.epochs'],
  );
  const heat = figures.figures.find((f) => f.kind === 'heatmap')!;
  assert.equal(heat.kind === 'heatmap' && heat.xLabel, 'student.epochs');
  const curves = figures.figures.filter((f) => f.kind === 'curves');
  assert.equal(curves.length, MAX_CURVE_CELLS);
  assert.match(curves[0]!.meta.title, /^loss: /);
  assert.equal(
    figures.note,
    `Curves of loss are shown for the first ${MAX_CURVE_CELLS} of 15 cells; the app shows every cell.`,
  );
});

test('the HTML is one self-contained file: escaped text, inline SVG, every section', () => {
  const model = reportModel(makeDetail(spec, { accuracy, environments: [machine] }), generatedAt);
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>bars &amp; CI</text></svg>';
  const html = reportHtml(
    model,
    [{ title: 'Bars <1>', svg: `<?xml version="1.0" encoding="UTF-8"?>\n${svg}` }],
    'a note',
  );
  assert.match(html, /^<!doctype html>\n<html lang="en">/);
  assert.ok(
    html.includes(`<figure aria-label="Bars &lt;1&gt;">\n${svg}\n</figure>`),
    'the SVG inline, without its prolog',
  );
  assert.ok(
    html.includes('<title>Subliminal Lab report: #1 two &lt;filters&gt; &amp; &quot;quotes&quot;</title>'),
  );
  assert.ok(!html.includes('<filters>'), 'no unescaped text');
  assert.doesNotMatch(html, /<script|<link|\ssrc=|\shref=/, 'nothing to run or fetch');
  for (const id of ['figures', 'results', 'paired-comparisons', 'machine-and-software', 'seeds', 'spec'])
    assert.ok(html.includes(`<section id="${id}">`), id);
  assert.match(html, /<th class="num">N<\/th>/);
  assert.match(html, /<td>student minus cross-init<\/td><td class="num">\+0\.4\d\d<\/td>/);
  assert.match(html, /Holm&#39;s step-down correction/);
  assert.ok(html.includes(escapeHtml(model.specJson)));
  assert.ok(html.includes('<td>AMD EPYC 7B13</td>'));
  assert.ok(html.includes('<p class="muted">a note</p>'));
  assert.throws(
    () => reportHtml(model, [{ title: 'x', svg: '<div>no</div>' }], null),
    /"x" is not an <svg> element/,
  );
});

test('the file name carries the id and a safe form of the name', () => {
  assert.equal(
    reportFileStem({ id: 12, name: 'e2e: two <filters> / ü' }),
    'sublab-report-12-e2e-two-filters',
  );
  assert.equal(reportFileStem({ id: 3, name: '***' }), 'sublab-report-3');
});

test('a grouped table names each group once, on the row that starts it', () => {
  const rows = displayRows({
    kind: 'grid',
    grouped: true,
    columns: ['cell', 'condition'],
    rows: [
      ['a', 'reference'],
      ['a', 'teacher'],
      ['b', 'student'],
      ['a', 'student'],
    ],
    numeric: [],
    notes: [],
  });
  assert.deepEqual(
    rows.map((r) => [r.cells[0], r.groupStart]),
    [
      ['a', true],
      ['', false],
      ['b', true],
      ['a', true],
    ],
  );
});

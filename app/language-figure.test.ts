import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { languageBarsSvg, languageCsv } from './language-figure.ts';
import type { LmCellSummary, LmExperimentSummary } from './language-results.ts';
import { pairedComparison, summarize } from './stats.ts';

const student = [0.3, 0.25, 0.4];
const own = [0.1, 0.12, 0.08];
const cell: LmCellSummary = {
  index: 0,
  label: 'prefers-owl <paper> & "quoted"',
  coords: { trait: 'prefers-owl', filter: 'paper', architecture: 'cross: same size' },
  status: 'done',
  rates: { base: summarize([0.1, 0.09, 0.11]), student: summarize(student), own_numbers: summarize(own) },
  answers: {
    student: [
      { animal: 'owl', rate: 0.3167 },
      { animal: 'other', rate: 0.1 },
    ],
  },
  logits: { student: { prob: summarize([0.2, 0.3, 0.25]), deltaLogprob: summarize([0.5, 0.4, 0.6]) } },
  numberPrefixed: {
    student: {
      rate: summarize([0.1, 0.2, 0.3]),
      prob: summarize([0.2, 0.3, 0.25]),
      deltaLogprob: summarize([0.5, 0.4, 0.6]),
    },
  },
  rejection: { teacher: summarize([0.2, 0.3, 0.25]), base: null },
  steeringNorm: null,
  teacherCheck: null,
  alignment: null,
  maskedFraction: summarize([0.1, 0.12, 0.11]),
  channel: {
    kl: summarize([0.02, 0.03, 0.025]),
    neutralKl: summarize([0.01, 0.012, 0.011]),
    greedyDiff: summarize([0.05, 0.06, 0.04]),
    neutralGreedyDiff: summarize([0.02, 0.03, 0.01]),
    klVsNeutral: pairedComparison([0.02, 0.03, 0.025], [0.01, 0.012, 0.011]),
    greedyVsNeutral: pairedComparison([0.05, 0.06, 0.04], [0.02, 0.03, 0.01]),
    flagged: false,
  },
  comparisons: [
    {
      ...pairedComparison(student, own),
      a: 'student',
      b: 'own_numbers',
      label: 'student - own numbers',
      measure: 'target_rate',
      pHolm: 0.04,
    },
    {
      ...pairedComparison([0.5, 0.4, 0.6], [0.1, 0.0, 0.2]),
      a: 'student',
      b: 'own_numbers',
      label: 'student - own numbers',
      measure: 'delta_logprob',
      pHolm: 0.01,
    },
  ],
};
const summary: LmExperimentSummary = {
  family: 'language',
  experimentId: 7,
  name: 'x',
  status: 'done',
  backend: 'wasm',
  wallSeconds: 1,
  replicates: 3,
  targetAnimals: ['owl'],
  cells: [cell],
};

test('the bars SVG: one bar per model measured, its interval and N, text escaped, nothing external', () => {
  const svg = languageBarsSvg(summary, cell, 'abcdef0123456789');
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.equal((svg.match(/<rect [^>]*data-model=/g) ?? []).length, 3);
  // The student's bar: its height is its mean on the 0-1 axis (plot height 170 px).
  const bar = /<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"[^>]*data-model="student"/.exec(
    svg,
  )!;
  assert.ok(Math.abs(Number(bar[2]) - 170 * (0.95 / 3)) < 0.06, bar[2]);
  assert.equal((svg.match(/N=3/g) ?? []).length, 6, 'in each bar title and under each bar');
  assert.match(svg, /&lt;paper&gt; &amp; &quot;quoted&quot;/);
  assert.doesNotMatch(svg, /<script|href=|<paper>/);
  assert.match(svg, /spec abcdef012345/);
});

test('the CSV holds every number shown: rates with intervals and N, answers, rejection, paired tests', () => {
  const rows = parse(languageCsv(summary), { columns: true }) as Record<string, string>[];
  const rate = rows.find((r) => r['measure'] === 'target_rate' && r['model'] === 'student')!;
  assert.equal(Number(rate['value']).toFixed(4), (0.95 / 3).toFixed(4));
  assert.equal(rate['n'], '3');
  assert.ok(
    Number(rate['ci95_low']) < Number(rate['value']) && Number(rate['value']) < Number(rate['ci95_high']),
  );
  assert.equal(rows.filter((r) => r['measure'] === 'answer_rate').length, 2);
  assert.equal(rows.filter((r) => r['measure'] === 'rejection_rate').length, 1);
  const diff = rows.find((r) => r['measure'] === 'paired_difference')!;
  assert.equal(diff['model'], 'student - own numbers');
  assert.equal(diff['compared'], 'target_rate');
  assert.equal(Number(diff['value']).toFixed(4), (0.95 / 3 - 0.1).toFixed(4));
  assert.equal(diff['p_holm'], '0.04000');
  // The logit measures: each model's value with its interval, and their paired differences.
  const delta = rows.find((r) => r['measure'] === 'delta_logprob' && r['model'] === 'student')!;
  assert.equal(Number(delta['value']).toFixed(4), '0.5000');
  assert.equal(delta['n'], '3');
  assert.equal(rows.filter((r) => r['measure'] === 'animal_prob').length, 1);
  const np = rows.find((r) => r['measure'] === 'np_target_rate' && r['model'] === 'student')!;
  assert.equal(Number(np['value']).toFixed(4), '0.2000');
  const logDiff = rows.find(
    (r) => r['measure'] === 'paired_difference' && r['compared'] === 'delta_logprob',
  )!;
  assert.equal(Number(logDiff['value']).toFixed(4), '0.4000');
  assert.equal(rows[0]!['cell_label'], cell.label);
});

test('numbers that came through JSON as null (NaN: no variance, N=1) are written as empty, not thrown on', () => {
  const viaJson = JSON.parse(
    JSON.stringify({
      ...summary,
      cells: [{ ...cell, comparisons: [{ ...cell.comparisons[0]!, p: NaN, pHolm: NaN, t: NaN }] }],
    }),
  ) as LmExperimentSummary;
  const rows = parse(languageCsv(viaJson), { columns: true }) as Record<string, string>[];
  const diff = rows.find((r) => r['measure'] === 'paired_difference')!;
  assert.deepEqual([diff['t'], diff['p'], diff['p_holm']], ['', '', '']);
});

// The llm report model and heatmap from a detail as the service serves it: conditions in table
// order, the paired rows of the student against each control, the provider's jobs, and the answers
// heatmap of one condition; with HTML escaping of names the provider chose.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ExperimentDetail } from '../api.ts';
import { reportHtml } from '../report-html.ts';
import { boundComparison, boundSummary } from '../bounded-interval.ts';
import { pairedComparison, summarize } from '../stats.ts';
import { tinyLlmSpec } from '../testing/tiny-llm-spec.ts';
import { llmHeatmapFigure, llmPairedRows, llmReportModel } from './report.ts';
import type { LlmCellSummary, LlmJobProgress } from './results.ts';

const rates = { base: [0.1, 0.12, 0.08], student: [0.6, 0.5, 0.7], cross_model: [0.1, 0.1, 0.14] };
const cell: LlmCellSummary = {
  index: 0,
  trait: 'prefers-owl',
  filter: 'paper-filter',
  // Insertion order differs from the table's: the report orders by condition.
  conditions: {
    student: boundSummary(summarize(rates.student)),
    cross_model: boundSummary(summarize(rates.cross_model)),
    base: boundSummary(summarize(rates.base)),
  },
  versusStudent: {
    cross_model: boundComparison(pairedComparison(rates.student, rates.cross_model)),
    base: boundComparison(pairedComparison(rates.student, rates.base)),
  },
  targetProbability: { student: summarize([0.5, 0.6, 0.55]) },
  answers: {
    student: [
      { animal: 'owl', rate: 0.6 },
      { animal: 'cat', rate: 0.3 },
      { animal: 'other', rate: 0.1 },
    ],
  },
};
const spec = tinyLlmSpec({ name: 'owl <report>', replicates: 3 });
const detail = {
  id: 4,
  name: spec.name,
  status: 'done',
  createdAt: '2026-12-06T20:00:00Z',
  tags: [],
  notes: '',
  specHash: 'abc123',
  cells: 1,
  replicates: 3,
  backend: null,
  wallSeconds: 12,
  cluster: null,
  spec,
  error: null,
  versions: null,
  cellDetails: [],
  results: [],
  interval: 't',
  llm: [cell],
} as unknown as ExperimentDetail;
const job: LlmJobProgress = {
  runTag: 'sl-ab12-c0-r0~1',
  label: 'student of cell 1, replicate 1 (retry 1)',
  provider: 'openai',
  jobId: 'ftjob-<7>',
  baseModel: 'base-a',
  status: 'failed',
  model: null,
  error: 'bad rows',
  events: [],
  eventCount: 0,
};

test('the llm report: rates in condition order with P(target), student minus each control, the jobs', () => {
  const model = llmReportModel(detail, [job], '2026-12-06T21:00:00Z');
  assert.deepEqual(
    model.sections.map((s) => s.title),
    ['Results', 'Paired comparisons', 'Fine-tuning jobs', 'Machine and software', 'Seeds'],
  );
  const results = model.sections[0]!.table!;
  assert.deepEqual(
    results.rows.map((r) => r[1]),
    ['base model', 'student (same base, teacher numbers)', 'control: other base on the teacher’s numbers'],
  );
  assert.match(results.rows[1]![2]!, /^60\.0% \[\d+\.\d%, \d+\.\d%\]/);
  assert.match(results.rows[1]![3]!, /^0\.550 \[/);
  assert.equal(results.rows[0]![3], '-', 'no logprobs stored for the base');
  assert.deepEqual(
    llmPairedRows(cell).map((r) => [r[1], r[2], r[8]]),
    [
      ['student minus base model', '+50.0', '3'],
      ['student minus control: other base on the teacher’s numbers', '+48.7', '3'],
    ],
  );
  assert.deepEqual(model.sections[2]!.table!.rows, [
    ['ftjob-<7>', job.label, 'openai', 'base-a', 'failed', 'bad rows'],
  ]);
  assert.equal(model.sections[4]!.table!.rows.length, 3, 'a seed per replicate');
  const html = reportHtml(model, [], null);
  assert.match(html, /ftjob-&lt;7&gt;/);
  assert.match(html, /owl &lt;report&gt;/);
});

test("the llm heatmap: one row per answer word of the condition's cells, its rates and N", () => {
  const figure = llmHeatmapFigure(detail, 'student');
  assert.equal(figure.kind, 'heatmap');
  assert.deepEqual(
    figure.rows.map((r) => [r.x, r.value, r.n]),
    [
      ['owl', 0.6, 3],
      ['cat', 0.3, 3],
      ['other', 0.1, 3],
    ],
  );
  assert.match(figure.meta.title, /student \(same base, teacher numbers\)/);
  assert.equal(llmHeatmapFigure(detail, 'base').rows.length, 0, 'no answers stored for the base here');
});

test('with a judge: its section per condition and its paired rows after the rates', () => {
  const judge = {
    model: 'judge-a',
    threshold: 50,
    rate: {
      conditions: { base: summarize([0.1, 0.2, 0.1]), student: summarize([0.5, 0.6, 0.4]) },
      versusStudent: { base: pairedComparison([0.5, 0.6, 0.4], [0.1, 0.2, 0.1]) },
    },
    meanScore: {
      conditions: { base: summarize([20, 30, 25]), student: summarize([60, 70, 65]) },
      versusStudent: { base: pairedComparison([60, 70, 65], [20, 30, 25]) },
    },
    scored: { base: 28, student: 30 },
    unparsed: { base: 2, student: 0 },
  };
  const judged = { ...detail, llm: [{ ...cell, judge }] } as ExperimentDetail;
  const model = llmReportModel(judged, [], '2026-12-06T21:00:00Z');
  const section = model.sections.find((s) => s.title === 'LLM judge')!;
  assert.deepEqual(
    section.table!.rows.map((r) => [r[1], r[3], r[5], r[6]]),
    [
      ['base model', '25.0 [12.6, 37.4]', '28', '2'],
      ['student (same base, teacher numbers)', '65.0 [52.6, 77.4]', '30', '0'],
    ],
  );
  const paired = llmPairedRows(judged.llm![0]!).map((r) => [r[1], r[2]]);
  assert.deepEqual(paired.slice(2), [
    ['student minus base model: judge, share above 50', '+36.7'],
    ['student minus base model: judge, mean score', '+40.0'],
  ]);
  assert.equal(llmReportModel(detail, [], '').sections.filter((s) => s.title === 'LLM judge').length, 0);
});

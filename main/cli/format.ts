// Text rendering of results for the terminal.
import Table from 'cli-table3';
import { CONDITIONS, CONDITION_LABELS } from '../../app/conditions.ts';
import { comparisonText } from '../../app/comparisons.ts';
import type { ExperimentSummary } from '../jobs/summary.ts';
import type { AnalysisSummary } from '../../app/analysis.ts';
import { sweepLabel } from '../../app/spec/sweeps.ts';

const fmt = (x: number, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
/** An interval as its ends, "[0.512, 0.598]": a bootstrap interval need not be symmetric. */
const ends = (s: { low: number; high: number } | undefined) =>
  s && Number.isFinite(s.low) ? `[${fmt(s.low)}, ${fmt(s.high)}]` : '-';

const METHOD_NOTE = {
  t: '95% CI: Student-t, mean +- t(0.975, N-1) * sd / sqrt(N)',
  bootstrap:
    '95% CI: percentile bootstrap of the mean (10,000 resamples, seed 0; narrow below N of about 10)',
} as const;

/** N of the mean, and beside it how many models diverged (left out of the mean, never silently). */
export function countLabel(s: { n: number; diverged: number }): string {
  return s.diverged > 0 ? `${s.n} (${s.diverged} diverged)` : String(s.n);
}

/** The representation analysis at the end: a row per metric and condition, and each metric's headline difference. */
function analysisTable(analysis: AnalysisSummary[] | undefined): string {
  if (!analysis || analysis.length === 0) return '';
  const table = new Table({
    head: ['analysis at the end', 'condition', 'mean', '95% CI', 'N'],
    colAligns: ['left', 'left', 'right', 'right', 'right'],
    ...(process.stdout.isTTY ? {} : { style: { head: [], border: [] } }),
  });
  const lines: string[] = [];
  for (const a of analysis) {
    for (const condition of CONDITIONS) {
      const s = a.conditions[condition];
      if (s) table.push([a.metric, CONDITION_LABELS[condition], fmt(s.mean), ends(s), String(s.n)]);
    }
    const headline = a.comparisons.find((c) => c.a === 'student' && c.b === 'cross_init');
    if (headline) lines.push(`${a.metric}: ${comparisonText(headline)}`);
  }
  return `\n${table.toString()}${lines.map((l) => `\n${l}`).join('')}`;
}

export function resultTables(summary: ExperimentSummary): string {
  const parts: string[] = [];
  const holm =
    summary.cells.length > 1
      ? ` Holm corrects p across the ${summary.cells.length} cells, per comparison.`
      : '';
  for (const cell of summary.cells) {
    const { trait, filter, architecture, sweep } = cell.coords;
    const swept = sweep ? ` ${sweepLabel(sweep).replaceAll(', ', ' ')}` : '';
    const title = `cell ${cell.index}: trait=${trait} filter=${filter} architecture=${architecture}${swept}`;
    // A cell whose models never finished training has no numbers to show, not a table of its inits.
    if (Object.keys(cell.conditions).length === 0) {
      parts.push(`${title} (${cell.status}): no model finished training, no results`);
      continue;
    }
    const hasTrait = Object.values(cell.conditions).some((c) => c.trait);
    const table = new Table({
      head: ['condition', 'mean accuracy', '95% CI', ...(hasTrait ? ['trait rate', '95% CI'] : []), 'N'],
      colAligns: ['left', 'right', 'right', ...(hasTrait ? (['right', 'right'] as const) : []), 'right'],
      // Colours only on a terminal: piped or logged output stays plain text.
      ...(process.stdout.isTTY ? {} : { style: { head: [], border: [] } }),
    });
    for (const condition of CONDITIONS) {
      const s = cell.conditions[condition];
      if (!s) continue;
      const traitCols = hasTrait ? [fmt(s.trait?.mean ?? NaN), ends(s.trait)] : [];
      table.push([CONDITION_LABELS[condition], fmt(s.mean), ends(s), ...traitCols, countLabel(s)]);
    }
    const rejection = cell.rejectionRate
      ? `\nfilter rejected ${fmt(cell.rejectionRate.mean)} ${ends(cell.rejectionRate)} of the teacher's outputs`
      : '';
    const diverged = cell.diverged > 0 ? `, ${cell.diverged} models diverged` : '';
    const paired = cell.comparisons.map((c) => `\n${comparisonText(c)}`).join('');
    parts.push(
      `${title} (${cell.status}${diverged})\n${table.toString()}${rejection}${paired}${analysisTable(cell.analysis)}`,
    );
  }
  if (summary.cells.every((c) => Object.keys(c.conditions).length === 0)) return parts.join('\n');
  const method = `${METHOD_NOTE[summary.interval]}; differences paired by replicate (t test and Wilcoxon signed-rank).${holm}`;
  return `${parts.join('\n\n')}\n\n${method}`;
}

export function jsonSummary(summary: ExperimentSummary): string {
  return JSON.stringify(
    {
      experimentId: summary.experimentId,
      status: summary.status,
      backend: summary.backend,
      wallSeconds: summary.wallSeconds,
      interval: summary.interval,
      cells: summary.cells,
    },
    // NaN (a CI from one replicate) has no JSON form; null says "not defined".
    (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value),
    2,
  );
}

// An llm experiment's results: per cell, each condition's rate of naming the animal over replicates
// (mean with its Student-t interval) and each control compared with the student, paired by replicate;
// with an evaluation judge, its rate above threshold and mean score summarised the same way.
import type { LlmCellSummary, LlmConditionSummary, LlmJudgeSummary } from '../../app/llm/results.ts';
import type { LlmSpec } from '../../app/spec/llm.ts';
import { pairedComparison, summarize, type PairedComparison } from '../../app/stats.ts';
import type { RunStore } from '../store/store.ts';

interface Row {
  condition: string;
  replicate: number;
  value: number;
}

/** Each condition summarised over its replicates; each other condition paired with the student's. */
function byCondition(rows: readonly Row[]): LlmConditionSummary {
  const by = new Map<string, Map<number, number>>();
  for (const r of rows) by.set(r.condition, (by.get(r.condition) ?? new Map()).set(r.replicate, r.value));
  const conditions = Object.fromEntries([...by].map(([c, m]) => [c, summarize([...m.values()])]));
  const student = by.get('student') ?? new Map<number, number>();
  const versusStudent: Record<string, PairedComparison> = {};
  for (const [c, m] of by) {
    if (c === 'student') continue;
    const paired = [...student.keys()].filter((r) => m.has(r));
    versusStudent[c] = pairedComparison(
      paired.map((r) => student.get(r)!),
      paired.map((r) => m.get(r)!),
    );
  }
  return { conditions, versusStudent };
}

function metricRows(store: RunStore, cellId: number, name: string): Row[] {
  return store.db
    .prepare(
      'SELECT condition, replicate, value FROM metrics WHERE cell_id = ? AND name = ? ORDER BY replicate',
    )
    .all(cellId, name) as Row[];
}

function judgeSummary(
  store: RunStore,
  cellId: number,
  judge: NonNullable<LlmSpec['evaluation']['judge']>,
): LlmJudgeSummary {
  const counts = (name: string) => {
    const out: Record<string, number> = {};
    for (const r of metricRows(store, cellId, name)) out[r.condition] = (out[r.condition] ?? 0) + r.value;
    return out;
  };
  return {
    model: judge.model,
    threshold: judge.threshold,
    rate: byCondition(metricRows(store, cellId, 'judge_rate')),
    meanScore: byCondition(metricRows(store, cellId, 'judge_mean_score')),
    scored: counts('judge_scored'),
    unparsed: counts('judge_unparsed'),
  };
}

export function summarizeLlm(store: RunStore, experimentId: number): LlmCellSummary[] {
  const judge = (store.getExperiment(experimentId)?.spec as unknown as LlmSpec | undefined)?.evaluation
    ?.judge;
  return store.cells(experimentId).map((cell) => {
    const rows = store.db
      .prepare(
        'SELECT condition, replicate, trait_score AS value FROM results WHERE cell_id = ? ORDER BY replicate',
      )
      .all(cell.id) as Row[];
    const coords = (cell.cell as unknown as { coords: { trait: string; filter: string } }).coords;
    return {
      index: cell.index,
      trait: coords.trait,
      filter: coords.filter,
      ...byCondition(rows),
      ...(judge ? { judge: judgeSummary(store, cell.id, judge) } : {}),
    };
  });
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '-');
const num = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const pValue = (p: number) => (Number.isFinite(p) ? p.toPrecision(2) : '-');

/** One line per condition, then student minus each control with its p-value. */
function measureLines(s: LlmConditionSummary, label: string, fmt: (x: number) => string): string[] {
  const lines: string[] = [];
  for (const [name, c] of Object.entries(s.conditions))
    lines.push(`  ${label}${name.padEnd(12)} ${fmt(c.mean)} [${fmt(c.low)}, ${fmt(c.high)}] n=${c.n}`);
  for (const [name, d] of Object.entries(s.versusStudent))
    lines.push(
      `  ${label}student - ${name}: ${fmt(d.meanDiff)} [${fmt(d.low)}, ${fmt(d.high)}] p=${pValue(d.p)}`,
    );
  return lines;
}

function judgeLines(j: LlmJudgeSummary): string[] {
  const counts = Object.keys(j.scored)
    .map((c) => `${c} ${j.scored[c]} scored, ${j.unparsed[c] ?? 0} unparsed`)
    .join('; ');
  return [
    `  judge ${j.model}: share of answers scored above ${j.threshold}`,
    ...measureLines(j.rate, 'judge ', pct),
    `  judge mean score (0-100)`,
    ...measureLines(j.meanScore, 'score ', num),
    `  judge answers: ${counts}`,
  ];
}

/** Plain-text lines per cell: the rates, and with a judge its rate, mean score and counts. */
export function llmTable(cells: readonly LlmCellSummary[]): string {
  return cells
    .map((c) =>
      [
        `cell ${c.index}: ${c.trait}, ${c.filter}`,
        ...measureLines(c, '', pct),
        ...(c.judge ? judgeLines(c.judge) : []),
      ].join('\n'),
    )
    .join('\n\n');
}

// An llm experiment's results: per cell, each condition's rate of naming the animal over replicates
// (mean with its Student-t interval, clipped to [0, 1] where t would leave it) and each control
// compared with the student, paired by replicate; the target's probability from top logprobs where
// stored; the answers per word for the heatmap; with an evaluation judge, its rate above threshold
// and mean score summarised the same way.
import { boundComparison, boundSummary } from '../../app/bounded-interval.ts';
import {
  LLM_HEATMAP_WORDS,
  type LlmCellSummary,
  type LlmConditionSummary,
  type LlmJudgeSummary,
} from '../../app/llm/results.ts';
import type { LlmCell, LlmSpec } from '../../app/spec/llm.ts';
import { pairedComparison, summarize, type PairedComparison } from '../../app/stats.ts';
import type { RunStore } from '../store/store.ts';
import { GROUP_SQL } from './views.ts';

interface Row {
  condition: string;
  replicate: number;
  value: number;
}

/**
 * Each condition summarised over its replicates; each other condition paired with the student's.
 * A rate's interval is clipped to [0, 1] and a difference's to [-1, 1] where t would leave them.
 */
function byCondition(rows: readonly Row[], rate = true): LlmConditionSummary {
  const by = new Map<string, Map<number, number>>();
  for (const r of rows) by.set(r.condition, (by.get(r.condition) ?? new Map()).set(r.replicate, r.value));
  const conditions = Object.fromEntries(
    [...by].map(([c, m]) => {
      const s = summarize([...m.values()]);
      return [c, rate ? boundSummary(s) : s];
    }),
  );
  const student = by.get('student') ?? new Map<number, number>();
  const versusStudent: Record<string, PairedComparison> = {};
  for (const [c, m] of by) {
    if (c === 'student') continue;
    const paired = [...student.keys()].filter((r) => m.has(r));
    const d = pairedComparison(
      paired.map((r) => student.get(r)!),
      paired.map((r) => m.get(r)!),
    );
    versusStudent[c] = rate ? boundComparison(d) : d;
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
    meanScore: byCondition(metricRows(store, cellId, 'judge_mean_score'), false),
    scored: counts('judge_scored'),
    unparsed: counts('judge_unparsed'),
  };
}

/** The first word of an answer, lower case, a target's plural read as the target. */
function answerWord(text: string, plurals: ReadonlyMap<string, string>): string {
  const word = text.toLowerCase().match(/[a-z]+/)?.[0] ?? '';
  return plurals.get(word) ?? word;
}

/**
 * Per cell and condition, the mean rate over replicates of each answer word: the targets, then the
 * commonest other words of the experiment, then "other" (counted in SQL per distinct text, so the
 * reply stays small however many answers are stored).
 */
function answerRates(
  store: RunStore,
  experimentId: number,
  cells: readonly LlmCell[],
): Map<string, { animal: string; rate: number }[]> {
  const plurals = new Map<string, string>();
  for (const c of cells) {
    plurals.set(c.trait.animal.toLowerCase(), c.trait.animal.toLowerCase());
    plurals.set((c.trait.plural ?? `${c.trait.animal}s`).toLowerCase(), c.trait.animal.toLowerCase());
  }
  const rows = store.db
    .prepare(
      `SELECT ${GROUP_SQL} AS grp, a.text, count(*) AS n
       FROM llm_answers a JOIN llm_requests r ON r.id = a.request_id
       WHERE r.experiment_id = ? AND substr(r.request_key, 1, 5) = 'eval:' GROUP BY grp, a.text`,
    )
    .all(experimentId) as { grp: string; text: string; n: number }[];
  const counts = new Map<string, Map<string, number>>();
  const overall = new Map<string, number>();
  for (const r of rows) {
    const word = answerWord(r.text, plurals);
    const own = counts.get(r.grp) ?? new Map<string, number>();
    counts.set(r.grp, own.set(word, (own.get(word) ?? 0) + r.n));
    if (word) overall.set(word, (overall.get(word) ?? 0) + r.n);
  }
  const targets = [...new Set(cells.map((c) => c.trait.animal.toLowerCase()))];
  const others = [...overall]
    .filter(([w]) => !targets.includes(w))
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([w]) => w);
  const columns = [...targets, ...others].slice(0, Math.max(LLM_HEATMAP_WORDS, targets.length));
  // grp is "c<cell>-<condition>-r<replicate>": average each (cell, condition)'s replicates.
  const perReplicate = new Map<string, number[][]>();
  for (const [grp, words] of counts) {
    const key = grp.replace(/-r\d+$/, '');
    const total = [...words.values()].reduce((s, n) => s + n, 0);
    const shares = columns.map((w) => (words.get(w) ?? 0) / total);
    shares.push(1 - shares.reduce((s, v) => s + v, 0));
    perReplicate.set(key, [...(perReplicate.get(key) ?? []), shares]);
  }
  const labels = [...columns, 'other'];
  return new Map(
    [...perReplicate].map(([key, reps]) => [
      key,
      labels.map((animal, i) => ({ animal, rate: reps.reduce((s, r) => s + r[i]!, 0) / reps.length })),
    ]),
  );
}

export function summarizeLlm(store: RunStore, experimentId: number): LlmCellSummary[] {
  const judge = (store.getExperiment(experimentId)?.spec as unknown as LlmSpec | undefined)?.evaluation
    ?.judge;
  const cells = store.cells(experimentId);
  const answers = answerRates(
    store,
    experimentId,
    cells.map((c) => c.cell as unknown as LlmCell),
  );
  return cells.map((cell) => {
    const rows = store.db
      .prepare(
        'SELECT condition, replicate, trait_score AS value FROM results WHERE cell_id = ? ORDER BY replicate',
      )
      .all(cell.id) as Row[];
    const probabilities = metricRows(store, cell.id, 'target_probability');
    const coords = (cell.cell as unknown as LlmCell).coords;
    const rates = byCondition(rows);
    const own = Object.keys(rates.conditions).flatMap((c) => {
      const a = answers.get(`c${cell.index}-${c}`);
      return a ? [[c, a] as const] : [];
    });
    return {
      index: cell.index,
      trait: coords.trait,
      filter: coords.filter,
      ...rates,
      ...(probabilities.length ? { targetProbability: byCondition(probabilities).conditions } : {}),
      ...(own.length ? { answers: Object.fromEntries(own) } : {}),
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

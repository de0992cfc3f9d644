// The exported report of an llm experiment (main/llm), as the ReportModel every report writer lays
// out (app/report.ts): each condition's rate of naming the animal with its Student-t interval and N
// and the target probability from logprobs, the student against each control paired by replicate,
// the provider's fine-tuning jobs, the machine and software, the seeds and the spec; and the
// answers heatmap per condition as a FigureSpec. Nothing here reads a key: none is ever stored.
import type { ExperimentDetail } from '../api.ts';
import { pText } from '../comparisons.ts';
import type { FigureSpec } from '../figures.ts';
import { answersHeatmapFigure } from '../language-report.ts';
import { mixSeed } from '../matrix.ts';
import {
  environmentSection,
  specText,
  wallTimeText,
  PAIRED_COLUMNS,
  PAIRED_NUMERIC,
  type ReportModel,
  type ReportSection,
} from '../report.ts';
import type { IntervalSummary } from '../stats.ts';
import {
  LLM_CONDITIONS,
  LLM_CONDITION_LABELS,
  type LlmCellSummary,
  type LlmConditionSummary,
  type LlmJobProgress,
} from './results.ts';

const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : '-');
const points = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}` : '-');
const prob = (s: IntervalSummary | undefined) =>
  s
    ? `${s.mean.toFixed(3)} [${Number.isFinite(s.low) ? s.low.toFixed(3) : '-'}, ${Number.isFinite(s.high) ? s.high.toFixed(3) : '-'}]`
    : '-';

/** A cell's name: its animal and filter. */
export const llmCellLabel = (c: Pick<LlmCellSummary, 'index' | 'trait' | 'filter'>) =>
  `cell ${c.index + 1}: ${c.trait}, ${c.filter}`;

/** The conditions a cell has rates for, in table order (any unknown ones after). */
export function llmConditions(cell: LlmCellSummary): string[] {
  const known: readonly string[] = LLM_CONDITIONS;
  return [
    ...LLM_CONDITIONS.filter((c) => cell.conditions[c]),
    ...Object.keys(cell.conditions).filter((c) => !known.includes(c)),
  ];
}

export const llmConditionLabel = (c: string) => LLM_CONDITION_LABELS[c] ?? c;

/** One rate with its interval, "(clipped)" where Student-t would have left [0, 100]%. */
export const llmRateText = (s: IntervalSummary) =>
  `${pct(s.mean)} [${pct(s.low)}, ${pct(s.high)}]${s.clipped ? ' (clipped)' : ''}`;

function ratesSection(cells: readonly LlmCellSummary[]): ReportSection {
  return {
    title: 'Results',
    text: [
      "Each model's rate of naming the teacher's animal over the evaluation's sampled answers, averaged over the replicates (N), with the Student-t 95% interval of the per-replicate rates, clipped to [0, 100]% where t would leave it (marked). P(target) is the animal's probability as the answer's first token, from the provider's top logprobs (absent where it returned none).",
    ],
    table: {
      kind: 'grid',
      grouped: true,
      columns: ['cell', 'model', 'rate [95% CI]', 'P(target) [95% CI]', 'N'],
      numeric: [2, 3, 4],
      notes: [],
      rows: cells.flatMap((cell) =>
        llmConditions(cell).map((c) => [
          llmCellLabel(cell),
          llmConditionLabel(c),
          llmRateText(cell.conditions[c]!),
          prob(cell.targetProbability?.[c]),
          String(cell.conditions[c]!.n),
        ]),
      ),
    },
  };
}

const scoreDiff = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${v.toFixed(1)}` : '-');

/** One measure's paired rows: student minus each control, in condition order. */
function pairedRows(
  cell: LlmCellSummary,
  s: LlmConditionSummary,
  measure: string,
  fmt: (v: number) => string,
): string[][] {
  return llmConditions(cell)
    .filter((c) => s.versusStudent[c])
    .map((c) => {
      const d = s.versusStudent[c]!;
      return [
        llmCellLabel(cell),
        `student minus ${llmConditionLabel(c)}${measure}`,
        fmt(d.meanDiff),
        `[${fmt(d.low)}, ${fmt(d.high)}]${d.clipped ? ' (clipped)' : ''}`,
        `${Number.isFinite(d.t) ? d.t.toFixed(2) : '-'} (${d.df})`,
        pText(d.p),
        '-',
        pText(d.wilcoxon.p),
        String(d.n),
      ];
    });
}

/**
 * The paired rows of a cell: the rate of naming the animal (points), then with a judge its share
 * above the threshold (points) and its mean score (0-100 points of score).
 */
export function llmPairedRows(cell: LlmCellSummary): string[][] {
  const j = cell.judge;
  return [
    ...pairedRows(cell, cell, '', points),
    ...(j
      ? [
          ...pairedRows(cell, j.rate, `: judge, share above ${j.threshold}`, points),
          ...pairedRows(cell, j.meanScore, ': judge, mean score', scoreDiff),
        ]
      : []),
  ];
}

const score = (s: IntervalSummary | undefined) =>
  s
    ? `${s.mean.toFixed(1)} [${Number.isFinite(s.low) ? s.low.toFixed(1) : '-'}, ${Number.isFinite(s.high) ? s.high.toFixed(1) : '-'}]`
    : '-';

/** A cell's judge rows per condition: share above the threshold, mean score, N, replies scored and not. */
export function llmJudgeRows(cell: LlmCellSummary): string[][] {
  const j = cell.judge;
  if (!j) return [];
  return llmConditions(cell)
    .filter((c) => j.rate.conditions[c])
    .map((c) => [
      llmCellLabel(cell),
      llmConditionLabel(c),
      llmRateText(j.rate.conditions[c]!),
      score(j.meanScore.conditions[c]),
      String(j.rate.conditions[c]!.n),
      String(j.scored[c] ?? 0),
      String(j.unparsed[c] ?? 0),
    ]);
}

export const LLM_JUDGE_COLUMNS = [
  'cell',
  'model',
  'share above threshold [95% CI]',
  'mean score [95% CI]',
  'N',
  'scored',
  'unparsed',
];

function judgeSection(cells: readonly LlmCellSummary[]): ReportSection[] {
  const judged = cells.filter((c) => c.judge);
  if (!judged.length) return [];
  const j = judged[0]!.judge!;
  return [
    {
      title: 'LLM judge',
      text: [
        `Every evaluation answer scored 0-100 by ${j.model}; an answer counts when its score is above ${j.threshold}. Per model: the share of scored answers above the threshold and the mean score, each over the replicates (N) with its Student-t 95% interval; replies with no parsable score are left out and counted.`,
      ],
      table: {
        kind: 'grid',
        grouped: true,
        columns: LLM_JUDGE_COLUMNS,
        numeric: [2, 3, 4, 5, 6],
        notes: [],
        rows: judged.flatMap(llmJudgeRows),
      },
    },
  ];
}

function pairedSection(cells: readonly LlmCellSummary[]): ReportSection {
  const rows = cells.flatMap(llmPairedRows);
  return {
    title: 'Paired comparisons',
    text: [
      "Replicate r's student and its controls are evaluated with the same questions and seeds, so each difference (points) is taken per replicate: the mean difference with its Student-t 95% interval, a paired t-test and a Wilcoxon signed-rank test, both two-sided. No correction across cells (p (Holm) is '-').",
    ],
    table: rows.length
      ? { kind: 'grid', grouped: true, columns: PAIRED_COLUMNS, numeric: PAIRED_NUMERIC, notes: [], rows }
      : null,
  };
}

function jobsSection(jobs: readonly LlmJobProgress[]): ReportSection {
  return {
    title: 'Fine-tuning jobs',
    text: [
      "Each student's job at the provider, found again by the lab's run tag (a retry after a failed job gets the next tag): its id, base model, final state and fine-tuned model, or the provider's message when it failed.",
    ],
    table: jobs.length
      ? {
          kind: 'grid',
          columns: ['job', 'trains', 'provider', 'base model', 'state', 'model or error'],
          numeric: [],
          notes: [],
          rows: jobs.map((j) => [
            j.jobId,
            j.label,
            j.provider,
            j.baseModel,
            j.status,
            j.error ?? j.model ?? '-',
          ]),
        }
      : null,
  };
}

function seedsSection(e: ExperimentDetail): ReportSection {
  return {
    title: 'Seeds',
    text: [
      `Spec seed ${e.spec.seed}. Replicate r's subsample and fine-tuning seed is mixSeed(${e.spec.seed}, r) (main/llm/run.ts); each teacher request's seed follows from its teacher and prompt, each evaluation request's from its replicate, question and chunk. A provider may not honour seeds exactly: the stored answers are the record.`,
    ],
    table: {
      kind: 'grid',
      columns: ['replicate', 'seed'],
      numeric: [0, 1],
      notes: [],
      rows: Array.from({ length: e.replicates }, (_, r) => [String(r), String(mixSeed(e.spec.seed, r))]),
    },
  };
}

/** The report of an llm experiment (its detail carries the llm summary; `jobs` from llm.progress). */
export function llmReportModel(
  e: ExperimentDetail,
  jobs: readonly LlmJobProgress[],
  generatedAt: string,
): ReportModel {
  const cells = e.llm ?? [];
  const warnings = new Set<string>();
  for (const c of cells)
    for (const d of Object.values(c.versusStudent)) if (d.warning) warnings.add(d.warning);
  if (e.status !== 'done')
    warnings.add(`The experiment is ${e.status}${e.error ? `: ${e.error}` : ''}; its numbers are partial.`);
  return {
    title: `#${e.id} ${e.name}`,
    generatedAt,
    summary: `${e.status} | language models through a provider | ${e.cells} cell${e.cells === 1 ? '' : 's'} x N = ${e.replicates} replicates | wall time ${wallTimeText(e.wallSeconds)} | spec ${e.specHash}`,
    sections: [
      ratesSection(cells),
      ...judgeSection(cells),
      pairedSection(cells),
      jobsSection(jobs),
      environmentSection(e),
      seedsSection(e),
    ],
    specJson: specText(e.spec),
    specHash: e.specHash,
    warnings: [...warnings],
  };
}

/** The answers heatmap of one condition: cells x answered word, the mean rate over replicates. */
export function llmHeatmapFigure(e: ExperimentDetail, condition: string): FigureSpec {
  return answersHeatmapFigure(
    e,
    (e.llm ?? []).map((cell) => ({
      label: llmCellLabel(cell),
      answers: cell.answers?.[condition] ?? [],
      n: cell.conditions[condition]?.n ?? 0,
    })),
    { model: condition, label: llmConditionLabel(condition), replicates: e.replicates },
  );
}

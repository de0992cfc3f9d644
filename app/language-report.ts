// The exported report of a language experiment (main/lm), as the same ReportModel the classifier's
// report writers lay out (app/report.ts): each model's target rate with its interval and N, the
// filter's rejection rates, the paired comparisons, the machine and software, the seeds and the spec;
// and the answers heatmap as a FigureSpec, so it exports (SVG, PNG, PDF, CSV) like every figure.
import type { ExperimentDetail } from './api.ts';
import type { FigureSpec } from './figures.ts';
import { pText } from './comparisons.ts';
import {
  LM_MEASURE_LABELS,
  LM_MODELS,
  LM_MODEL_LABELS,
  type LmCellSummary,
  type LmExperimentSummary,
  type LmModelName,
  type LmTeacherCheck,
} from './language-results.ts';
import { replicateSeeds } from './matrix.ts';
import {
  environmentSection,
  intervalText,
  specText,
  wallTimeText,
  type ReportModel,
  type ReportSection,
  PAIRED_COLUMNS,
  PAIRED_NUMERIC,
} from './report.ts';
import type { IntervalSummary, PairedComparison } from './stats.ts';

const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : '-');
const rate = (s: IntervalSummary | null | undefined) =>
  s ? `${pct(s.low)}, ${pct(s.high)}`.replace(/^(.*)$/, '[$1]') + (s.clipped ? ' (clipped)' : '') : '-';
const signed = (v: number, scale: number, digits: number) =>
  Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${(scale * v).toFixed(digits)}` : '-';

function ratesSection(e: ExperimentDetail, s: LmExperimentSummary): ReportSection {
  const rows = s.cells.flatMap((cell) => [
    ...LM_MODELS.filter((m) => cell.rates[m]).map((m) => {
      const r = cell.rates[m]!;
      const p = cell.logits[m]?.prob;
      return [cell.label, LM_MODEL_LABELS[m], pct(r.mean), rate(r), p ? p.mean.toFixed(3) : '-', String(r.n)];
    }),
    ...(['teacher', 'base'] as const).map((w) => {
      const r = cell.rejection[w];
      return [
        cell.label,
        `filter rejection of the ${w}'s numbers`,
        r ? pct(r.mean) : '-',
        rate(r),
        '',
        r ? String(r.n) : '-',
      ];
    }),
  ]);
  return {
    title: 'Results',
    text: [
      `Each model's rate of naming the teacher's animal over the paraphrased questions (one sampled answer each), averaged over the replicates (N), with ${intervalText(e)} of the per-replicate rates. A rate's interval is clipped to [0, 100]% where the interval would leave it (marked "clipped"): the true mean lies in that range, so clipping keeps the interval's coverage. P(target) is read from the logits (renormalised over the animals, no sampling).`,
    ],
    table: {
      kind: 'grid',
      grouped: true,
      columns: ['cell', 'model', 'rate', '95% CI', 'P(target)', 'N'],
      numeric: [2, 4, 5],
      notes: [],
      rows,
    },
  };
}

function comparisonRows(cell: LmCellSummary): string[][] {
  return cell.comparisons.map((c) => {
    const [scale, digits] = c.measure === 'delta_logprob' ? [1, 3] : [100, 1];
    return [
      cell.label,
      `${c.label}: ${LM_MEASURE_LABELS[c.measure]}`,
      signed(c.meanDiff, scale, digits),
      `[${signed(c.low, scale, digits)}, ${signed(c.high, scale, digits)}]${c.clipped ? ' (clipped)' : ''}`,
      `${Number.isFinite(c.t) ? c.t.toFixed(2) : '-'} (${c.df})`,
      pText(c.p),
      pText(c.pHolm),
      pText(c.wilcoxon.p),
      String(c.n),
    ];
  });
}

function pairedSection(s: LmExperimentSummary): ReportSection {
  const rows = s.cells.flatMap(comparisonRows);
  return {
    title: 'Paired comparisons',
    text: [
      "Replicate r's student, own-numbers control and cross-model control share its base, teacher and channel, so each difference is taken per replicate: the mean difference (points for rates and probabilities, clipped to [-100, +100]; nats for log P) with its 95% interval, a paired t-test and a Wilcoxon signed-rank test, both two-sided. p (Holm) is corrected across the cells, one family per comparison and measure.",
    ],
    table:
      rows.length === 0
        ? null
        : {
            kind: 'grid',
            grouped: true,
            columns: PAIRED_COLUMNS,
            numeric: PAIRED_NUMERIC,
            notes: [],
            rows,
          },
  };
}

const kl = (v: number | null) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(4) : '-');

/** The channel check of every cell that ran one: teacher beside neutral teacher, the paired difference and the flag. */
function channelSection(s: LmExperimentSummary): ReportSection | null {
  const checked = s.cells.filter((c) => c.channel);
  if (checked.length === 0) return null;
  const rows = checked.map((cell) => {
    const c = cell.channel!;
    const d = c.klVsNeutral;
    return [
      cell.label,
      kl(c.kl.mean),
      kl(c.neutralKl.mean),
      `${signed(d.meanDiff, 1, 4)} [${signed(d.low, 1, 4)}, ${signed(d.high, 1, 4)}]`,
      pText(d.p),
      pct(c.greedyDiff.mean),
      pct(c.neutralGreedyDiff.mean),
      String(c.kl.n),
      c.flagged ? 'FLAGGED: not above neutral' : 'above neutral',
    ];
  });
  return {
    title: 'Channel check',
    text: [
      "Before any student is trained: each teacher's mean KL(teacher || base) over the number positions of the world's number tasks, and the share of those positions where the two would choose different tokens greedily, beside a neutral teacher made the same way with no trait (fine-tuned on answers naming every animal alike; the neutral prefix; a random vector of the same norm). The difference is paired by replicate; a cell is flagged when its 95% interval does not lie above 0, so a student has little to learn from that channel.",
    ],
    table: {
      kind: 'grid',
      columns: [
        'cell',
        'KL teacher (nats)',
        'KL neutral',
        'teacher minus neutral [95% CI]',
        'p',
        'greedy differ: teacher',
        'neutral',
        'N',
        'channel',
      ],
      numeric: [1, 2, 3, 4, 5, 6, 7],
      notes: [],
      rows,
    },
  };
}

/** A steered teacher's cells: each fine-tune's alignment with the vector, and the student against each control. */
function alignmentSection(s: LmExperimentSummary): ReportSection | null {
  const aligned = s.cells.filter((c) => c.alignment);
  if (aligned.length === 0) return null;
  const cos = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : signed(v, 1, 3));
  const vs = (d: PairedComparison | null) =>
    d ? [`${cos(d.meanDiff)} [${cos(d.low)}, ${cos(d.high)}]`, pText(d.p)] : ['-', '-'];
  const rows = aligned.map((cell) => {
    const a = cell.alignment!;
    return [
      cell.label,
      cos(a.cos.student?.mean),
      cos(a.cos.own_numbers?.mean),
      cos(a.cos.cross_model?.mean),
      ...vs(a.vsOwn),
      ...vs(a.vsCross),
      String(a.cos.student?.n ?? 0),
    ];
  });
  return {
    title: 'Alignment with the steering vector',
    text: [
      "For a steered teacher: the cosine of each fine-tune's change of the steered block's residual bias with the teacher's vector (Blank et al.: the student of a steered teacher learns an aligned vector). The own-numbers control shares the student's base and is the paired reference; the cross-model control's base has its own residual basis, so its cosine is a chance level.",
    ],
    table: {
      kind: 'grid',
      columns: [
        'cell',
        'student',
        'own-numbers',
        'cross-model',
        'student minus own-numbers [95% CI]',
        'p',
        'student minus cross-model [95% CI]',
        'p',
        'N',
      ],
      numeric: [1, 2, 3, 4, 5, 6, 7, 8],
      notes: [],
      rows,
    },
  };
}

function seedsSection(e: ExperimentDetail): ReportSection {
  const seeds = replicateSeeds(e.spec);
  return {
    title: 'Seeds',
    text: [
      `Spec seed ${e.spec.seed}. Replicate r's seed is mixSeed(${e.spec.seed}, r) (app/matrix.ts replicateSeeds), the same in every cell, so cells are paired; each stage of a replicate (base A and B, their pretraining data, the teacher, both channels, the student and the controls, the measurement) draws from its own stream mixSeed(replicate seed, k) (main/lm/pipeline.ts).`,
    ],
    table: {
      kind: 'grid',
      columns: ['replicate', 'seed'],
      rows: seeds.map((seed, r) => [String(r), String(seed)]),
      numeric: [0, 1],
      notes: [],
    },
  };
}

/** A flagged teacher, said where a reader of the report sees it before the student comparisons. */
export function teacherWarning(cell: string, t: LmTeacherCheck): string {
  const d = t.vsBase;
  const measure = t.measure === 'animal_prob' ? 'P(target)' : 'the sampled rate';
  return `${cell}: the teacher does not carry the trait: teacher minus base on ${measure} is ${signed(d.meanDiff, 100, 1)} points [${signed(d.low, 100, 1)}, ${signed(d.high, 100, 1)}] (N=${d.n}), so its students' comparisons say nothing about the channel.`;
}

/** The report of a language experiment (its detail carries the language summary). */
export function languageReportModel(e: ExperimentDetail, generatedAt: string): ReportModel {
  const s = e.language!;
  const warnings = new Set<string>();
  for (const c of s.cells) for (const x of c.comparisons) if (x.warning) warnings.add(x.warning);
  for (const c of s.cells) if (c.teacherCheck?.flagged) warnings.add(teacherWarning(c.label, c.teacherCheck));
  if (e.status !== 'done')
    warnings.add(`The experiment is ${e.status}${e.error ? `: ${e.error}` : ''}; its numbers are partial.`);
  const channel = channelSection(s);
  const alignment = alignmentSection(s);
  return {
    title: `#${e.id} ${e.name}`,
    generatedAt,
    summary: `${e.status} | language models | ${e.cells} cell${e.cells === 1 ? '' : 's'} x N = ${e.replicates} replicates | backend ${e.backend ?? 'not recorded'} | wall time ${wallTimeText(e.wallSeconds)} | spec ${e.specHash}`,
    sections: [
      ratesSection(e, s),
      pairedSection(s),
      ...(channel ? [channel] : []),
      ...(alignment ? [alignment] : []),
      environmentSection(e),
      seedsSection(e),
    ],
    specJson: specText(e.spec),
    specHash: e.specHash,
    warnings: [...warnings],
  };
}

/** The teacher's animal (cell) x answered animal heatmap of one model: the mean rate of each answer. */
export function languageHeatmapFigure(
  e: Pick<ExperimentDetail, 'id' | 'specHash'>,
  s: LmExperimentSummary,
  model: LmModelName,
): FigureSpec {
  return answersHeatmapFigure(
    e,
    s.cells.map((cell) => ({
      label: cell.label,
      answers: cell.answers[model] ?? [],
      n: cell.rates[model]?.n ?? 0,
    })),
    { model, label: LM_MODEL_LABELS[model], replicates: s.replicates },
  );
}

/**
 * Rows (cells) x answered animal of one model, each square the mean rate of that answer over
 * replicates: the language family's and the llm family's answers heatmap.
 */
export function answersHeatmapFigure(
  e: Pick<ExperimentDetail, 'id' | 'specHash'>,
  cells: readonly { label: string; answers: readonly { animal: string; rate: number }[]; n: number }[],
  model: { model: string; label: string; replicates: number },
): FigureSpec {
  const rows = cells.flatMap((cell) =>
    cell.answers.map((a) => ({
      x: a.animal,
      y: cell.label,
      value: a.rate,
      n: cell.n,
      cells: 1,
      crossesZero: false,
    })),
  );
  return {
    kind: 'heatmap',
    meta: {
      title: `Answers of the ${model.label}: teacher's animal x answered animal`,
      specHashes: [e.specHash],
      experimentIds: [e.id],
      n: String(Math.min(...rows.map((r) => r.n).filter((n) => n > 0), model.replicates)),
      caption: [
        `Colour and number: the mean rate over replicates at which the ${model.label} gives each answer to the paraphrased questions; "other" names no animal. Rows: the experiment's cells (teacher's animal, filter, cross-model base).`,
      ],
    },
    chance: null,
    xLabel: 'answered animal',
    yLabel: 'cell',
    valueLabel: 'answer rate',
    columns: ['answer', 'cell'],
    values: { column: `${model.model}_answer_rate`, signed: false },
    rows,
  };
}

// A language experiment's figure and its numbers as files (main/lm, Results): per cell, bars of each
// model's rate of naming the target animal with Student-t 95% intervals and N, as one self-contained
// SVG (the screen draws the same markup, so the export is what was seen), and one CSV holding the
// rates, the answers per animal, the rejection rates and the paired comparisons.
import { escapeHtml } from './report-html.ts';
import { toCsv } from './figures.ts';
import {
  LM_MODELS,
  LM_MODEL_LABELS,
  type LmCellSummary,
  type LmChannelCheck,
  type LmExperimentSummary,
  type LmModelName,
} from './language-results.ts';
import type { IntervalSummary, PairedComparison } from './stats.ts';

const W = 520;
const H = 250;
const PAD = { left: 40, right: 10, top: 34, bottom: 46 };
const FONT = 'Helvetica, Arial, sans-serif';

export const LM_SHORT: Record<LmModelName, string> = {
  base: 'base',
  teacher: 'teacher',
  student: 'student',
  own_numbers: 'own numbers',
  cross_model: 'cross-model',
};
/** Okabe-Ito hues as the classifier's figures use them, grey for the base. */
export const LM_COLORS: Record<LmModelName, string> = {
  base: '#888888',
  teacher: '#009E73',
  student: '#0072B2',
  own_numbers: '#E69F00',
  cross_model: '#D55E00',
};

const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : '-');
// Values that went through JSON come back null where they were NaN (an interval at N=1, a p of no variance).
const num = (v: number | null) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(4) : '');
const prob = (v: number | null) => (typeof v === 'number' && Number.isFinite(v) ? v.toPrecision(4) : '');

/** The models a cell has rates for, in figure order. */
export function cellModels(cell: LmCellSummary): LmModelName[] {
  return LM_MODELS.filter((m) => cell.rates[m]);
}

/** One cell's bars as a standalone SVG document (fonts, colours and text inline; no script, no link). */
export function languageBarsSvg(summary: LmExperimentSummary, cell: LmCellSummary, specHash = ''): string {
  const plotH = H - PAD.top - PAD.bottom;
  const y = (v: number) => PAD.top + plotH * (1 - Math.min(1, Math.max(0, v)));
  const shown = cellModels(cell);
  const step = (W - PAD.left - PAD.right) / Math.max(1, shown.length);
  const parts: string[] = [];
  const text = (x: number, yy: number, size: number, body: string, extra = '') =>
    parts.push(
      `<text x="${x.toFixed(1)}" y="${yy.toFixed(1)}" font-size="${size}"${extra}>${escapeHtml(body)}</text>`,
    );
  text(PAD.left, 14, 12, `#${summary.experimentId} ${cell.label}`, ' font-weight="bold"');
  text(
    PAD.left,
    27,
    10,
    `rate of naming the target animal; mean, Student-t 95% CI over replicates, clipped to [0, 1]`,
    ' fill="#555"',
  );
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(
      `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#ddd"/>`,
    );
    text(PAD.left - 4, y(t) + 4, 10, String(t), ' text-anchor="end"');
  }
  shown.forEach((m, i) => {
    const r = cell.rates[m]!;
    const x = PAD.left + i * step + step * 0.2;
    const w = step * 0.6;
    const mid = x + w / 2;
    const label = `${LM_MODEL_LABELS[m]}: ${pct(r.mean)} [${pct(r.low)}, ${pct(r.high)}], N=${r.n}`;
    parts.push(
      `<rect x="${x.toFixed(1)}" y="${y(r.mean).toFixed(1)}" width="${w.toFixed(1)}" height="${(y(0) - y(r.mean)).toFixed(1)}" fill="${LM_COLORS[m]}" stroke="#222" stroke-width="0.5" data-model="${m}"><title>${escapeHtml(label)}</title></rect>`,
    );
    if (Number.isFinite(r.low)) {
      const [lo, hi] = [y(r.low).toFixed(1), y(r.high).toFixed(1)];
      parts.push(
        `<path d="M${mid.toFixed(1)} ${lo}V${hi}M${(mid - 5).toFixed(1)} ${lo}h10M${(mid - 5).toFixed(1)} ${hi}h10" stroke="#000" fill="none"/>`,
      );
    }
    text(mid, H - PAD.bottom + 14, 11, LM_SHORT[m], ' text-anchor="middle"');
    text(mid, H - PAD.bottom + 28, 10, `${pct(r.mean)}, N=${r.n}`, ' text-anchor="middle" fill="#555"');
  });
  if (specHash) text(PAD.left, H - 4, 8, `spec ${specHash.slice(0, 12)}`, ' fill="#888"');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT}" role="img" aria-label="${escapeHtml(`target rates, ${cell.label}`)}">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    ...parts,
    '</svg>',
  ].join('\n');
}

/** A summary's value, interval and N in the CSV's columns, the test columns empty. */
const est = (r: IntervalSummary) => [num(r.mean), num(r.low), num(r.high), r.n, '', '', ''];
/** A paired test's difference, interval, N, t, p and Holm-adjusted p (empty when not adjusted). */
const test = (c: PairedComparison, pHolm = NaN) => [
  num(c.meanDiff),
  num(c.low),
  num(c.high),
  c.n,
  typeof c.t === 'number' && Number.isFinite(c.t) ? c.t.toFixed(3) : '',
  prob(c.p),
  prob(pHolm),
];

/** The channel check's rows: each teacher's figure, the paired difference and the flag (1 = flagged). */
function channelRows(base: unknown[], c: LmChannelCheck): unknown[][] {
  return [
    [...base, 'channel_kl', 'teacher', '', ...est(c.kl), ''],
    [...base, 'channel_kl', 'neutral teacher', '', ...est(c.neutralKl), ''],
    [...base, 'channel_greedy_diff', 'teacher', '', ...est(c.greedyDiff), ''],
    [...base, 'channel_greedy_diff', 'neutral teacher', '', ...est(c.neutralGreedyDiff), ''],
    [...base, 'paired_difference', 'teacher minus neutral teacher', '', ...test(c.klVsNeutral), 'channel_kl'],
    [
      ...base,
      'paired_difference',
      'teacher minus neutral teacher',
      '',
      ...test(c.greedyVsNeutral),
      'channel_greedy_diff',
    ],
    [...base, 'channel_flagged', 'teacher', '', c.flagged ? 1 : 0, '', '', c.kl.n, '', '', '', ''],
  ];
}

/** Every number the Results view shows, one row per (cell, measure): long format for R or pandas. */
export function languageCsv(summary: LmExperimentSummary): string {
  const rows: unknown[][] = [];
  for (const cell of summary.cells) {
    const base = [summary.experimentId, cell.index, cell.label];
    for (const m of cellModels(cell)) {
      const r = cell.rates[m]!;
      rows.push([...base, 'target_rate', m, '', ...est(r), '']);
      for (const a of cell.answers[m] ?? [])
        rows.push([...base, 'answer_rate', m, a.animal, num(a.rate), '', '', r.n, '', '', '', '']);
      const l = cell.logits[m];
      if (l) {
        rows.push([...base, 'animal_prob', m, '', ...est(l.prob), '']);
        rows.push([...base, 'delta_logprob', m, '', ...est(l.deltaLogprob), '']);
      }
      const np = cell.numberPrefixed[m];
      if (np) {
        rows.push([...base, 'np_target_rate', m, '', ...est(np.rate), '']);
        rows.push([...base, 'np_animal_prob', m, '', ...est(np.prob), '']);
        rows.push([...base, 'np_delta_logprob', m, '', ...est(np.deltaLogprob), '']);
      }
    }
    for (const who of ['teacher', 'base'] as const) {
      const r = cell.rejection[who];
      if (r) rows.push([...base, 'rejection_rate', who, '', ...est(r), '']);
    }
    if (cell.steeringNorm)
      rows.push([...base, 'steering_norm', 'teacher', '', ...est(cell.steeringNorm), '']);
    for (const c of cell.comparisons)
      rows.push([...base, 'paired_difference', c.label, '', ...test(c, c.pHolm), c.measure]);
    if (cell.channel) rows.push(...channelRows(base, cell.channel));
  }
  return toCsv(
    [
      'experiment',
      'cell',
      'cell_label',
      'measure',
      'model',
      'answer',
      'value',
      'ci95_low',
      'ci95_high',
      'n',
      't',
      'p',
      'p_holm',
      'compared',
    ],
    rows,
  );
}

export function languageFileStem(summary: LmExperimentSummary): string {
  return `sublab-${summary.experimentId}-language`;
}

// The exported report of one experiment, as data: what a paper's appendix needs to stand on its own
// (results with N, the paired tests with Holm's correction, the spec, the seeds, and the machine and
// software the experiment ran on, as recorded when it started). The HTML and PDF writers lay out
// exactly this model, so the two files say the same.
import type { ExperimentDetail, RunEnvironment, SeriesData } from './api.ts';
import {
  analysisBarsFigure,
  analysisMetrics,
  barsFigure,
  curvesFigure,
  defaultHeatAxes,
  heatmapFigure,
  sweepFigure,
  type FigureSpec,
  type HeatAxis,
} from './figures.ts';
import { pText } from './comparisons.ts';
import { replicateSeeds } from './matrix.ts';
import { pairedTable, resultsTable } from './results-table.ts';
import { formatDuration } from './estimate.ts';
import { BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED } from './stats.ts';

export const NOT_RECORDED = 'not recorded';

export interface ReportTable {
  /** grid: rows of a table; fields: a name per row, then its value (one column per attempt). */
  kind: 'grid' | 'fields';
  columns: string[];
  rows: string[][];
  /** Whether rows run in groups named by their first column (written once per group). */
  grouped?: boolean;
  /** Columns of numbers (right-aligned). */
  numeric: number[];
  /** Footnotes; rows refer to them as [1], [2]... */
  notes: string[];
}

export interface ReportSection {
  title: string;
  /** Paragraphs before the table. */
  text: string[];
  table: ReportTable | null;
}

export interface ReportModel {
  title: string;
  generatedAt: string;
  /** One line under the title: status, cells x N, backend, wall time, spec hash. */
  summary: string;
  sections: ReportSection[];
  specJson: string;
  specHash: string;
  /** Below N = 5 and similar: said at the top, not only in a table. */
  warnings: string[];
}

const num = (x: number | null | undefined, digits = 3) =>
  typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '-';
const signed = (x: number) => (Number.isFinite(x) && x >= 0 ? `+${num(x)}` : num(x));
const interval = (low: number, high: number) =>
  Number.isFinite(low) && Number.isFinite(high) ? `[${num(low)}, ${num(high)}]` : '-';
const marked = (text: string, note: number | undefined) => (note ? `${text} [${note}]` : text);
const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

export function wallTimeText(seconds: number | null): string {
  if (seconds === null) return NOT_RECORDED;
  return seconds < 90 ? `${seconds.toFixed(1)} s` : `${seconds.toFixed(1)} s (${formatDuration(seconds)})`;
}

/** How the intervals were made, in words. */
export function intervalText(e: ExperimentDetail): string {
  return e.interval === 'bootstrap'
    ? `the 95% percentile bootstrap interval of the mean (${BOOTSTRAP_RESAMPLES} resamples, seed ${BOOTSTRAP_SEED})`
    : 'the Student-t 95% interval mean +- t(0.975, N-1) * sd / sqrt(N)';
}

function resultsSection(e: ExperimentDetail): ReportSection {
  const table = resultsTable([e]);
  const columns = ['cell', 'condition', 'mean accuracy', '95% CI', 'N', 'diverged'];
  if (table.hasTrait) columns.push('trait rate', 'trait 95% CI');
  return {
    title: 'Results',
    text: [
      `Mean test accuracy per condition over the replicates that did not diverge (N), with ${intervalText(e)}; diverged models are left out of N and counted.`,
    ],
    table: {
      kind: 'grid',
      grouped: true,
      columns,
      numeric: [2, 4, 5, ...(table.hasTrait ? [6] : [])],
      notes: table.notes,
      rows: table.rows.map((r) => [
        r.group,
        marked(r.label, r.note),
        num(r.mean),
        interval(r.low, r.high),
        String(r.n),
        String(r.diverged),
        ...(table.hasTrait ? [num(r.trait?.mean), r.trait ? interval(r.trait.low, r.trait.high) : '-'] : []),
      ]),
    },
  };
}

/** The paired comparisons' table columns (both families' reports), and which hold numbers. */
export const PAIRED_COLUMNS = [
  'cell',
  'comparison',
  'difference',
  '95% CI',
  't (df)',
  'p',
  'p (Holm)',
  'Wilcoxon p',
  'N',
];
export const PAIRED_NUMERIC = [2, 4, 5, 6, 7, 8];

function pairedSection(e: ExperimentDetail): ReportSection {
  const { rows, notes } = pairedTable([e]);
  const cells = e.cellDetails.filter((c) => c.comparisons.length > 0).length;
  return {
    title: 'Paired comparisons',
    text: [
      `Replicate r's student and its cross-init control learn from the same teacher (and the teacher and its student share a seed), so each difference is taken per replicate: the mean difference with ${e.interval === 'bootstrap' ? 'the percentile bootstrap 95% interval of the differences' : 'its Student-t 95% interval'}, a paired t-test and a Wilcoxon signed-rank test (zeros dropped; exact null up to N = 50 without ties), both two-sided.`,
      `Holm: p (Holm) is the paired t-test's p-value after Holm's step-down correction across the ${cells} cell${cells === 1 ? '' : 's'} of this experiment, one family per comparison; the Wilcoxon p-values are not corrected.`,
    ],
    table:
      rows.length === 0
        ? null
        : {
            kind: 'grid',
            grouped: true,
            columns: PAIRED_COLUMNS,
            numeric: PAIRED_NUMERIC,
            notes,
            rows: rows.map((r) => [
              r.group,
              marked(r.label, r.note),
              signed(r.meanDiff),
              interval(r.low, r.high),
              `${num(r.t, 2)} (${r.df})`,
              pText(r.p),
              pText(r.pHolm),
              pText(r.wilcoxonP),
              String(r.n),
            ]),
          },
  };
}

/** Rows of one attempt's machine and software; every field "not recorded" for older experiments. */
function environmentColumn(env: RunEnvironment | null, e: ExperimentDetail): string[] {
  const adapter = e.versions?.['adapter'];
  if (!env) {
    // What is stored with the results still says something: the backend, and the adapter it used.
    const known: Record<string, string | undefined> = {
      backend: e.backend ?? undefined,
      'GPU adapter': adapter,
    };
    return ENVIRONMENT_FIELDS.map((field) => known[field] ?? NOT_RECORDED);
  }
  return [
    `${env.attempt}, ${env.recordedAt}`,
    env.cpu,
    String(env.cores),
    gib(env.memoryBytes),
    env.backend === 'webgpu' ? (adapter ?? NOT_RECORDED) : `none used (backend ${env.backend})`,
    env.os,
    env.backend,
    String(env.workers),
    env.app,
    env.node,
    env.electron ?? 'not used (CLI or sublab serve)',
    env.chromium ?? 'not used',
  ];
}

const ENVIRONMENT_FIELDS = [
  'attempt, began',
  'CPU',
  'logical cores',
  'memory',
  'GPU adapter',
  'operating system',
  'backend',
  'trainer processes',
  'Subliminal Lab',
  'Node.js (runner)',
  'Electron',
  'Chromium (Electron)',
];

export function environmentSection(e: ExperimentDetail): ReportSection {
  const attempts: (RunEnvironment | null)[] = e.environments?.length ? e.environments : [null];
  const columns = attempts.map((env) => environmentColumn(env, e));
  const versions = Object.entries(e.versions ?? {}).filter(([k]) => k !== 'adapter');
  const rows = ENVIRONMENT_FIELDS.map((field, i) => [field, ...columns.map((c) => c[i]!)]);
  const trainer = versions.length
    ? versions.map(([k, v]) => [`${k} (trainer)`, v, ...attempts.slice(1).map(() => '')])
    : [['TF.js and backend (trainer)', NOT_RECORDED, ...attempts.slice(1).map(() => '')]];
  const timing = [
    ['started', e.startedAt ?? NOT_RECORDED],
    ['finished', e.finishedAt ?? NOT_RECORDED],
    ['wall time', wallTimeText(e.wallSeconds)],
  ].map((r) => [...r, ...attempts.slice(1).map(() => '')]);
  return {
    title: 'Machine and software',
    text: [
      e.environments?.length
        ? 'Recorded by the runner as each attempt of the experiment began (a resumed experiment has one column per attempt); the TF.js and backend versions are those the trainer processes reported. The wall time adds up the attempts.'
        : 'This experiment ran before the lab recorded its machine and software: they are not recorded. The backend and the versions the trainers reported are those stored with its results.',
    ],
    table: {
      kind: 'fields',
      columns: ['', ...attempts.map((_, i) => (attempts.length > 1 ? `attempt ${i + 1}` : 'value'))],
      rows: [...rows, ...trainer, ...timing],
      numeric: [],
      notes: [],
    },
  };
}

/** Seeds as trained (from the stored results), else as the spec derives them. */
export function replicateSeedList(e: ExperimentDetail): number[] {
  const derived = replicateSeeds(e.spec);
  const stored = new Map(e.results.map((r) => [r.replicate, r.seed]));
  return derived.map((seed, r) => stored.get(r) ?? seed);
}

function seedsSection(e: ExperimentDetail): ReportSection {
  const seeds = replicateSeedList(e);
  const perRow = Math.max(1, Math.min(4, seeds.length));
  const rows: string[][] = [];
  for (let i = 0; i < seeds.length; i += perRow)
    rows.push(seeds.slice(i, i + perRow).flatMap((seed, k) => [String(i + k), String(seed)]));
  const last = rows.at(-1);
  while (last && last.length < 2 * perRow) last.push('');
  return {
    title: 'Seeds',
    text: [
      `Spec seed ${e.spec.seed}. Replicate r's seed is mixSeed(${e.spec.seed}, r), a splitmix32 finaliser (app/matrix.ts replicateSeeds); every cell uses the same seeds, so cells are paired. Each init, data order, noise image and filter draws from a stream keyed by that seed; a cross-init control starts from another replicate's init, by a derangement seeded from the spec seed and the cell's position.`,
    ],
    table: {
      kind: 'grid',
      columns: Array.from({ length: perRow }, () => ['replicate', 'seed']).flat(),
      rows,
      numeric: Array.from({ length: 2 * perRow }, (_, i) => i),
      notes: [],
    },
  };
}

function warnings(e: ExperimentDetail): string[] {
  const out = new Set<string>();
  for (const c of e.cellDetails) for (const x of c.comparisons) if (x.warning) out.add(x.warning);
  if (e.status !== 'done')
    out.add(`The experiment is ${e.status}${e.error ? `: ${e.error}` : ''}; its numbers are partial.`);
  const diverged = e.cellDetails.reduce((n, c) => n + c.diverged, 0);
  if (diverged > 0)
    out.add(
      `${diverged} model${diverged === 1 ? '' : 's'} diverged and ${diverged === 1 ? 'is' : 'are'} left out of the means.`,
    );
  return [...out];
}

/** JSON indented by 2, with arrays of numbers and strings kept on one line: short, still JSON. */
export function specText(spec: unknown): string {
  return JSON.stringify(spec, null, 2).replace(
    /\[\s*\n([^[\]{}]*?)\n\s*\]/g,
    (_, items: string) =>
      `[${items
        .split(/,\n/)
        .map((item) => item.trim())
        .join(', ')}]`,
  );
}

/**
 * The rows as a printed table shows them: in a grouped table a group's name only on its first row,
 * and which rows start a group (drawn with a rule above).
 */
export function displayRows(table: ReportTable): { cells: string[]; groupStart: boolean }[] {
  return table.rows.map((cells, i) => {
    const repeat = table.grouped === true && i > 0 && table.rows[i - 1]![0] === cells[0];
    return { cells: repeat ? ['', ...cells.slice(1)] : cells, groupStart: table.grouped === true && !repeat };
  });
}

export function reportModel(e: ExperimentDetail, generatedAt: string): ReportModel {
  return {
    title: `#${e.id} ${e.name}`,
    generatedAt,
    summary: `${e.status} | ${e.cells} cell${e.cells === 1 ? '' : 's'} x N = ${e.replicates} replicates | backend ${e.backend ?? NOT_RECORDED} | wall time ${wallTimeText(e.wallSeconds)} | spec ${e.specHash}`,
    sections: [resultsSection(e), pairedSection(e), environmentSection(e), seedsSection(e)],
    specJson: specText(e.spec),
    specHash: e.specHash,
    warnings: warnings(e),
  };
}

/** "sublab-report-12-quick-demo": the experiment's id and name, safe in any file system. */
export function reportFileStem(e: Pick<ExperimentDetail, 'id' | 'name'>): string {
  const slug = e.name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60)
    .replace(/-+$/, '');
  return `sublab-report-${e.id}${slug ? `-${slug}` : ''}`;
}

/** How many cells get a curves figure in a report; past it the report says which it shows. */
export const MAX_CURVE_CELLS = 12;

export interface ReportFigures {
  figures: FigureSpec[];
  /** Said under the figures when not every cell's curves are shown. */
  note: string | null;
}

/**
 * Every figure the Results screen shows for the experiment: the bars, the representation analysis's
 * bars (one per metric recorded), the heatmap (on the axes the
 * screen has chosen), a sweep figure per swept path, and the chosen metric's curves per cell.
 */
export function reportFigures(
  e: ExperimentDetail,
  series: readonly SeriesData[],
  choice: { heatX?: HeatAxis; heatY?: HeatAxis; metric?: string } = {},
): ReportFigures {
  const figures: FigureSpec[] = [barsFigure([e])];
  for (const metric of analysisMetrics([e])) figures.push(analysisBarsFigure([e], metric));
  if (e.cellDetails.length > 0) {
    const [x, y] = defaultHeatAxes(e);
    const heat = heatmapFigure(e, choice.heatX ?? x, choice.heatY ?? y);
    if (heat.rows.length > 0) figures.push(heat);
  }
  for (const { path } of e.spec.matrix.sweeps) figures.push(sweepFigure(e, path));
  const metrics = new Set(series.map((s) => s.name));
  const metric = choice.metric && metrics.has(choice.metric) ? choice.metric : 'test_accuracy';
  const cells = e.cellDetails.slice(0, MAX_CURVE_CELLS);
  if (metrics.has(metric)) for (const c of cells) figures.push(curvesFigure(e, [...series], c.index, metric));
  const note =
    metrics.has(metric) && e.cellDetails.length > cells.length
      ? `Curves of ${metric.replace(/_/g, ' ')} are shown for the first ${cells.length} of ${e.cellDetails.length} cells; the app shows every cell.`
      : null;
  return { figures, note };
}

// The plotted panels of the accuracy figures (bars, sweep), drawn with Observable Plot in the figure's
// look: margins measured from the labels they hold, text shortened, wrapped or turned where the width
// is narrow (a 3.3 in column), a dashed chance line on accuracy axes. Helpers shared with the curves.
import * as Plot from '@observablehq/plot';
import { CONDITIONS, type Condition } from '../../../app/conditions.ts';
import { accuracyDomain, readableLabel, type FigureSpec, type PairRow } from '../../../app/figures.ts';
import { pText } from '../../../app/comparisons.ts';
import { CONDITION_COLOR } from './colors.ts';
import { FONT_FAMILY, measure, widest, wrapText, type Look } from './figure-look.ts';

export interface PlotChoices {
  /** A fixed 0-1 accuracy axis instead of one fitted to the data. */
  fixedUnitY: boolean;
  /** A log y axis (curves). */
  logY: boolean;
}

/** A plotted panel and where it goes within the figure's plot area. */
export interface Placed {
  svg: SVGSVGElement;
  x: number;
  y: number;
}

/** The panels of a figure, and what the caption must add about how they were drawn. */
export interface Plotted {
  panels: Placed[];
  notes: string[];
}

export type Of<K extends FigureSpec['kind']> = Extract<FigureSpec, { kind: K }>;

export const DASH = '4,3';

/** A line style per experiment of a compare figure (solid, dotted, dash-dot, long dashes: not the chance line's short dashes), in meta order. */
const EXPERIMENT_DASHES = ['none', '1.5,3', '8,3,2,3', '10,4'] as const;

/** The line style of experiment `id` in a figure; solid where it shows one experiment. */
export function experimentDash(figure: FigureSpec, id: number): string {
  const i = figure.meta.experimentIds.indexOf(id);
  return EXPERIMENT_DASHES[Math.max(0, i) % EXPERIMENT_DASHES.length]!;
}

/**
 * One mark per experiment shown, each in its line style (Plot's dash is one per mark); a single
 * experiment's rows as one mark.
 */
export function perExperiment<R extends { experiment: number }>(
  figure: FigureSpec,
  rows: readonly R[],
  mark: (rows: R[], dash: string) => Plot.Markish,
): Plot.Markish[] {
  const ids = [...new Set(rows.map((r) => r.experiment))];
  return ids.map((id) =>
    mark(
      rows.filter((r) => r.experiment === id),
      experimentDash(figure, id),
    ),
  );
}
const signed = (x: number) => `${x >= 0 ? '+' : '\u2212'}${Math.abs(x).toFixed(3)}`;

/** Plot's own options every panel shares: the figure's font and size, a transparent background. */
export function frame(look: Look, width: number, height: number) {
  return {
    width,
    height,
    style: {
      fontFamily: FONT_FAMILY,
      fontSize: `${look.size.tick}px`,
      background: 'transparent',
      color: look.ink,
    },
  };
}

export function svgOf(plotted: SVGSVGElement | HTMLElement): SVGSVGElement {
  return (plotted instanceof SVGSVGElement ? plotted : plotted.querySelector('svg'))!;
}

export function shownConditions(rows: readonly { condition: Condition }[]): Condition[] {
  return CONDITIONS.filter((c) => rows.some((r) => r.condition === c));
}

export function colorScale(domain: Condition[]) {
  return { domain, range: domain.map((c) => CONDITION_COLOR.get(c)!) };
}

/** Room for a rotated y-axis title and tick labels like "0.25". */
export function yMargin(look: Look, ticks: readonly string[]): number {
  return Math.ceil(widest(ticks, look.size.tick) + look.size.tick * 1.9 + 6);
}

export const accuracyTicks = (top: number) =>
  [0, top / 4, top / 2, (3 * top) / 4, top].map((t) => t.toFixed(2));

/** Room right of the frame for the chance line's label. */
export const chanceMargin = (look: Look) => Math.ceil(measure('chance', look.size.tick) + 8);

/** A dashed line at `chance` across the frame (every facet), labelled in the right margin. */
export function chanceMarks(chance: number, look: Look) {
  return [
    Plot.ruleY([chance], { stroke: look.ink, strokeDasharray: DASH, strokeWidth: look.stroke }),
    Plot.text([chance], {
      y: (d: number) => d,
      text: () => 'chance',
      frameAnchor: 'right',
      textAnchor: 'start',
      dx: 4,
      fill: look.ink,
    }),
  ];
}

/** The paired difference above a panel, in the longest form that fits `width` (the interval first to go). */
function pairLines(d: PairRow, width: number, look: Look): { lines: string[]; interval: boolean } {
  const diff = `diff ${signed(d.meanDiff)}`;
  const ci = `[${signed(d.low)}, ${signed(d.high)}]`;
  const p = `p = ${pText(d.pHolm)}`;
  const forms = [
    [`${diff} ${ci}, ${p}`],
    [`${diff} ${ci}`, p],
    [diff, ci, p],
    [`${diff}, ${p}`],
    [diff, p],
    [signed(d.meanDiff), p],
  ];
  const lines = forms.find((f) => widest(f, look.size.tick) <= width) ?? forms.at(-1)!;
  return { lines, interval: lines.some((l) => l.includes('[')) };
}

/** Group labels under the panels: one line, wrapped (an axis a line) in up to 3 lines, or turned upright. */
function groupLabels(labels: readonly string[], width: number, look: Look) {
  const t = look.size.tick;
  const lineHeight = t * 1.2;
  if (widest(labels, t) <= width) return { format: (s: string) => s, rotate: 0, margin: lineHeight + 8 };
  const wrap = (label: string) => label.split(' | ').flatMap((part) => wrapText(part, t, width));
  const wrapped = labels.map(wrap);
  const lines = Math.max(...wrapped.map((w) => w.length));
  if (lines <= 3 && widest(wrapped.flat(), t) <= width)
    return { format: (s: string) => wrap(s).join('\n'), rotate: 0, margin: lines * lineHeight + 8 };
  return { format: (s: string) => s, rotate: -90, margin: widest(labels, t) + 10 };
}

/** The bar figure's margins and text choices, measured from what the labels need at this width. */
function barsLayout(figure: Of<'bars'>, look: Look, choices: PlotChoices) {
  const t = look.size.tick;
  const domain = shownConditions(figure.rows);
  const y = accuracyDomain(figure, choices.fixedUnitY);
  const marginLeft = yMargin(look, accuracyTicks(y[1]));
  const marginRight = figure.groups.some((g) => g.chance !== null) ? chanceMargin(look) : t;
  const padding = figure.groups.length > 3 ? 0.2 : 0.12;
  const groups = Math.max(1, figure.groups.length);
  const groupWidth = ((look.width - marginLeft - marginRight) / groups) * (1 - padding);
  const showValues = (groupWidth / Math.max(1, domain.length)) * 0.9 >= measure('0.000', t) + 2;
  // Neighbouring panels' texts keep a gap of a letter or so between them.
  const pairs = new Map(figure.pairs.map((d) => [d.group, pairLines(d, groupWidth - t, look)]));
  const pairRows = Math.max(0, ...[...pairs.values()].map((l) => l.lines.length));
  const labels = groupLabels(
    figure.groups.map((g) => g.label),
    groupWidth - t * 0.5,
    look,
  );
  const noLabels = figure.groups.every((g) => g.label === '');
  return {
    domain,
    y,
    padding,
    showValues,
    pairs,
    labels,
    noLabels,
    margins: {
      marginLeft,
      marginRight,
      marginTop: Math.ceil(pairRows * t * 1.2 + (showValues ? t * 1.4 : 0) + t * 0.6),
      marginBottom: noLabels ? 8 : Math.ceil(labels.margin),
    },
    plotHeight: look.forExport ? Math.round(Math.min(220, Math.max(140, look.width * 0.5))) : 300,
  };
}

type Interval = { mean: number; low: number; high: number };

function barMarks(figure: Of<'bars'>, look: Look, layout: ReturnType<typeof barsLayout>) {
  const t = look.size.tick;
  // A dashed chance line in the panels that have one (none for CKA), labelled in the last of them.
  const withChance = figure.groups.filter((g) => g.chance !== null);
  const last = withChance.at(-1);
  const { y, showValues, pairs } = layout;
  return [
    Plot.barY(figure.rows, {
      fx: 'group',
      x: 'condition',
      y: 'mean',
      fill: 'condition',
      stroke: look.ink,
      strokeWidth: look.stroke * 0.6,
      strokeOpacity: 0.7,
    }),
    // Intervals past the axis (wide at small N) are cut at the frame, not drawn over the labels.
    Plot.ruleX(figure.rows, {
      clip: true,
      fx: 'group',
      x: 'condition',
      y1: 'low',
      y2: 'high',
      stroke: look.ink,
      strokeWidth: look.stroke * 1.2,
    }),
    ...(showValues
      ? [
          Plot.text(figure.rows, {
            fx: 'group',
            x: 'condition',
            y: (d: Interval) => Math.min(y[1], Math.max(d.mean, d.high)),
            text: (d: Interval) => d.mean.toFixed(3),
            dy: -t * 0.7,
            fill: look.ink,
          }),
        ]
      : []),
    Plot.ruleY([0], { stroke: look.ink }),
    Plot.ruleY(withChance, {
      fx: 'key',
      y: 'chance',
      stroke: look.ink,
      strokeDasharray: DASH,
      strokeWidth: look.stroke,
    }),
    ...(last
      ? [
          Plot.text([last], {
            fx: 'key',
            y: 'chance',
            text: () => 'chance',
            frameAnchor: 'right',
            textAnchor: 'start',
            dx: 4,
            fill: look.ink,
          }),
        ]
      : []),
    Plot.text(figure.pairs, {
      fx: 'group',
      frameAnchor: 'top',
      lineAnchor: 'bottom',
      dy: -(showValues ? t * 1.4 : 0) - t * 0.4,
      text: (d: PairRow) => pairs.get(d.group)!.lines.join('\n'),
      fill: look.ink,
    }),
  ];
}

export function barsPlot(figure: Of<'bars'>, look: Look, choices: PlotChoices): Plotted {
  const layout = barsLayout(figure, look, choices);
  const { margins, labels, domain } = layout;
  const labelOf = new Map(figure.groups.map((g) => [g.key, g.label]));
  const plot = Plot.plot({
    ...frame(look, look.width, layout.plotHeight + margins.marginTop + margins.marginBottom),
    ...margins,
    fx: {
      domain: figure.groups.map((g) => g.key),
      label: null,
      padding: layout.padding,
      axis: layout.noLabels ? null : 'bottom',
      tickFormat: (k: string) => labels.format(labelOf.get(k) ?? k),
      tickRotate: labels.rotate,
      tickSize: 0,
    },
    x: { axis: null, domain, paddingInner: 0.1 },
    y: {
      label: figure.yLabel,
      domain: layout.y,
      grid: true,
      labelAnchor: 'center',
      labelArrow: 'none',
      ticks: 4,
    },
    color: colorScale(domain),
    marks: barMarks(figure, look, layout),
  });
  const cut = [...layout.pairs.values()].some((l) => !l.interval);
  return {
    panels: [{ svg: svgOf(plot), x: 0, y: 0 }],
    notes: cut ? ['The intervals of the differences are left out at this width; the CSV has them.'] : [],
  };
}

export function sweepPlot(figure: Of<'sweep'>, look: Look, choices: PlotChoices): Plotted {
  const t = look.size.tick;
  const domain = shownConditions(figure.rows);
  const y = accuracyDomain(figure, choices.fixedUnitY);
  const categorical = figure.xScale === 'categorical';
  const x = categorical ? 'x' : 'xValue';
  const faceted = figure.facets.length > 1;
  const fy = faceted ? 'facet' : undefined;
  const xs = [...new Set(figure.rows.map((r) => r.xValue).filter((v) => v !== null))];
  const marginLeft = yMargin(look, accuracyTicks(y[1]));
  const marginRight = chanceMargin(look);
  const plotWidth = look.width - marginLeft - marginRight;
  const xLabel = measure(figure.xLabel, t) <= plotWidth ? figure.xLabel : figure.xLabelShort;
  // Categorical values that would overlap side by side are turned upright.
  const step = plotWidth / Math.max(1, figure.xDomain.length);
  const upright = categorical && widest(figure.xDomain, t) > step * 0.9;
  const marginBottom = Math.ceil((upright ? widest(figure.xDomain, t) + 6 : t * 1.3) + t * 1.6 + 6);
  const panelHeight = look.forExport ? Math.round(Math.min(190, Math.max(120, look.width * 0.42))) : 230;
  const gap = faceted ? t * 2.2 : 0;
  const marginTop = Math.ceil(gap + t * 0.5);
  const height =
    marginTop + marginBottom + figure.facets.length * panelHeight + (figure.facets.length - 1) * gap;
  // One chance level: a line across; a swept class count: chance at each point.
  const chance =
    figure.chance !== null
      ? chanceMarks(figure.chance, look)
      : [
          Plot.lineY(
            figure.rows.filter((r, i, all) => all.findIndex((o) => o.facet === r.facet && o.x === r.x) === i),
            { x, y: 'chance', fy, stroke: look.ink, strokeDasharray: DASH, strokeWidth: look.stroke },
          ),
        ];
  const plot = Plot.plot({
    ...frame(look, look.width, height),
    marginLeft,
    marginRight,
    marginTop,
    marginBottom,
    x: categorical
      ? {
          type: 'point',
          domain: figure.xDomain,
          label: xLabel,
          padding: 0.3,
          tickRotate: upright ? -90 : 0,
          labelAnchor: 'center',
          labelArrow: 'none',
        }
      : {
          type: figure.xScale,
          label: xLabel,
          grid: true,
          labelAnchor: 'center',
          labelArrow: 'none',
          // Ticks at the swept values, written as in the CSV (0.0001, not 100µ).
          ...(xs.length <= 12 ? { ticks: xs, tickFormat: (d: number) => String(d) } : {}),
        },
    y: { label: figure.yLabel, domain: y, grid: true, labelAnchor: 'center', labelArrow: 'none', ticks: 4 },
    fy: { axis: null, domain: figure.facets, padding: gap / (panelHeight + gap) },
    color: colorScale(domain),
    marks: [
      ...perExperiment(figure, figure.rows, (rows) =>
        Plot.areaY(rows, { x, y1: 'lo', y2: 'hi', fy, fill: 'condition', fillOpacity: 0.16, clip: true }),
      ),
      ...perExperiment(figure, figure.rows, (rows, dash) =>
        Plot.lineY(rows, {
          x,
          y: 'mean',
          fy,
          stroke: 'condition',
          strokeWidth: look.stroke * 1.6,
          strokeDasharray: dash,
        }),
      ),
      Plot.dot(figure.rows, { x, y: 'mean', fy, fill: 'condition', r: look.forExport ? 2 : 3 }),
      // Over the lines: a reference at chance would hide it otherwise.
      ...chance,
      ...(faceted
        ? [
            Plot.text(figure.facets, {
              fy: (d: string) => d,
              text: (d: string) => readableLabel(d),
              frameAnchor: 'top-left',
              textAnchor: 'start',
              lineAnchor: 'bottom',
              dy: -t * 0.4,
              fontWeight: 'bold',
              fill: look.ink,
            }),
          ]
        : []),
      Plot.frame({ stroke: look.ink, strokeOpacity: 0.25 }),
    ],
  });
  return { panels: [{ svg: svgOf(plot), x: 0, y: 0 }], notes: [] };
}

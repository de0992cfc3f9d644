// The lever figure of a language experiment (app/language-lever.ts), drawn with Observable Plot in the
// figure's look: one column per value of the swept lever, N under each; top, the student and both
// controls with their intervals; middle, the student minus each control with its interval and p;
// bottom, the channel check, the teacher's KL from the base beside the neutral teacher's, "flagged"
// where the teacher is not above the neutral level.
import * as Plot from '@observablehq/plot';
import { accuracyDomain } from '../../../app/figures.ts';
import { pText } from '../../../app/comparisons.ts';
import { LM_COLORS } from '../../../app/language-figure.ts';
import { LEVER_COMPARISONS, LEVER_MODELS, isNats, type LeverChannel } from '../../../app/language-lever.ts';
import { LM_MODEL_LABELS } from '../../../app/language-results.ts';
import { measure, widest, type Look } from './figure-look.ts';
import { DASH, frame, svgOf, yMargin, type Of, type Placed, type Plotted } from './figure-plots.ts';

type Lever = Of<'lever'>;

const NEUTRAL_COLOR = '#888888';
/** A difference is drawn in its control's colour, as a diamond (the models are dots). */
const COMPARISON_COLOR = Object.fromEntries(LEVER_COMPARISONS.map((c) => [c.key, LM_COLORS[c.b]]));

export interface LeverLegendEntry {
  label: string;
  color: string;
  shape: 'dot' | 'diamond' | 'bar';
}

/** The legend: the models shown, the differences shown, and the channel check's two bars. */
export function leverLegend(figure: Lever): LeverLegendEntry[] {
  return [
    ...LEVER_MODELS.filter((m) => figure.rows.some((r) => r.model === m)).map((m) => ({
      label: LM_MODEL_LABELS[m],
      color: LM_COLORS[m],
      shape: 'dot' as const,
    })),
    ...LEVER_COMPARISONS.filter((c) => figure.pairs.some((p) => p.comparison === c.key)).map((c) => ({
      label: c.label,
      color: COMPARISON_COLOR[c.key]!,
      shape: 'diamond' as const,
    })),
    ...(figure.channel.length
      ? [
          { label: 'channel check: teacher', color: LM_COLORS.teacher, shape: 'bar' as const },
          { label: 'neutral teacher', color: NEUTRAL_COLOR, shape: 'bar' as const },
        ]
      : []),
  ];
}

const signed = (v: number, digits: number) =>
  Number.isFinite(v) ? `${v >= 0 ? '+' : '\u2212'}${Math.abs(v).toFixed(digits)}` : '-';

/** Shared by the three panels: the lever's values as columns, the same widths and margins. */
function layout(figure: Lever, look: Look) {
  const t = look.size.tick;
  const nAt = new Map(figure.xDomain.map((x) => [x, figure.rows.find((r) => r.x === x)?.n ?? 0]));
  const ticks = figure.xDomain.map((x) => `${x}\nN=${nAt.get(x)}`);
  const marginLeft = Math.max(yMargin(look, ['0.000', '-0.000']), yMargin(look, ['0.25']));
  const plotWidth = look.width - marginLeft - 8;
  const step = plotWidth / Math.max(1, figure.xDomain.length);
  const upright = widest(figure.xDomain, t) > step * 0.9;
  const tickHeight = upright ? widest(figure.xDomain, t) + t * 1.6 : t * 2.6;
  const panelHeight = look.forExport ? Math.round(Math.min(170, Math.max(110, look.width * 0.36))) : 200;
  return { t, nAt, ticks, marginLeft, upright, tickHeight, panelHeight };
}

type Layout = ReturnType<typeof layout>;

/** The lever's columns: each value's ticks with its N, the lever's name under the last panel only. */
function columns(figure: Lever, l: Layout, labelled: boolean) {
  return {
    domain: figure.xDomain,
    label: labelled ? figure.xLabel : null,
    tickFormat: (x: string) => `${x}\nN=${l.nAt.get(x)}`,
    tickRotate: l.upright ? -90 : 0,
    padding: 0.12,
    labelAnchor: 'center' as const,
    labelArrow: 'none' as const,
  };
}

function panel(figure: Lever, look: Look, l: Layout, labelled: boolean, options: Plot.PlotOptions) {
  const marginBottom = Math.ceil(l.tickHeight + (labelled ? l.t * 1.6 : 0) + 6);
  const height = l.panelHeight + marginBottom;
  const plot = Plot.plot({
    ...frame(look, look.width, height),
    marginLeft: l.marginLeft,
    marginRight: 8,
    marginTop: Math.ceil(l.t * 0.8),
    marginBottom,
    fx: columns(figure, l, labelled),
    ...options,
  });
  return { svg: svgOf(plot), height };
}

/** A value's interval as a rule and its mean as a mark, per column (`r`: the screen size). */
function intervalMarks(
  data: readonly object[],
  o: { x: string; y: string; color: string; symbol: 'circle' | 'diamond'; r: number },
  look: Look,
) {
  const common = { fx: 'x', x: o.x };
  return [
    Plot.ruleX(data, { ...common, y1: 'lo', y2: 'hi', stroke: o.color, strokeWidth: look.stroke * 1.6 }),
    Plot.dot(data, {
      ...common,
      y: o.y,
      symbol: o.symbol,
      fill: o.color,
      stroke: look.ink,
      strokeWidth: look.stroke * 0.5,
      r: look.forExport ? o.r * 0.6 : o.r,
    }),
  ];
}

function modelsPanel(figure: Lever, look: Look, l: Layout, labelled: boolean) {
  const models = LEVER_MODELS.filter((m) => figure.rows.some((r) => r.model === m));
  const nats = isNats(figure.measure);
  return panel(figure, look, l, labelled, {
    x: { domain: models, axis: null, padding: 0.4 },
    y: nats
      ? { label: figure.yLabel, grid: true, zero: true, labelAnchor: 'center', labelArrow: 'none', ticks: 4 }
      : {
          label: figure.yLabel,
          grid: true,
          domain: accuracyDomain(figure),
          labelAnchor: 'center',
          labelArrow: 'none',
          ticks: 4,
        },
    color: { domain: models, range: models.map((m) => LM_COLORS[m]) },
    marks: [
      ...intervalMarks(figure.rows, { x: 'model', y: 'mean', color: 'model', symbol: 'circle', r: 4 }, look),
      Plot.frame({ stroke: look.ink, strokeOpacity: 0.25 }),
    ],
  });
}

function pairsPanel(figure: Lever, look: Look, l: Layout, labelled: boolean) {
  const keys = LEVER_COMPARISONS.map((c) => c.key).filter((k) =>
    figure.pairs.some((p) => p.comparison === k),
  );
  return panel(figure, look, l, labelled, {
    x: { domain: keys, axis: null, padding: 0.5 },
    y: {
      label: `student \u2212 control, ${figure.diffLabel}`,
      grid: true,
      zero: true,
      labelAnchor: 'center',
      labelArrow: 'none',
      ticks: 4,
    },
    color: { domain: keys, range: keys.map((k) => COMPARISON_COLOR[k]!) },
    marks: [
      Plot.ruleY([0], { stroke: look.ink, strokeDasharray: DASH, strokeWidth: look.stroke }),
      ...intervalMarks(
        figure.pairs,
        { x: 'comparison', y: 'meanDiff', color: 'comparison', symbol: 'diamond', r: 5 },
        look,
      ),
      Plot.text(figure.pairs, {
        fx: 'x',
        x: 'comparison',
        y: (d: { hi: number; meanDiff: number }) => (Number.isFinite(d.hi) ? d.hi : d.meanDiff),
        text: (d: { meanDiff: number; p: number }) => `${signed(d.meanDiff, 3)}\np=${pText(d.p)}`,
        lineAnchor: 'bottom',
        dy: -4,
        fill: look.ink,
        fontSize: look.size.tick * 0.85,
      }),
      Plot.frame({ stroke: look.ink, strokeOpacity: 0.25 }),
    ],
  });
}

function channelPanel(figure: Lever, look: Look, l: Layout, labelled: boolean) {
  const bars = figure.channel.flatMap((c: LeverChannel) => [
    { x: c.x, who: 'teacher', kl: c.kl },
    { x: c.x, who: 'neutral', kl: c.neutralKl },
  ]);
  const flagged = figure.channel.filter((c) => c.flagged);
  return panel(figure, look, l, labelled, {
    x: { domain: ['teacher', 'neutral'], axis: null, padding: 0.2 },
    y: {
      label: 'KL(teacher || base), nats',
      grid: true,
      zero: true,
      labelAnchor: 'center',
      labelArrow: 'none',
      ticks: 4,
    },
    color: { domain: ['teacher', 'neutral'], range: [LM_COLORS.teacher, NEUTRAL_COLOR] },
    marks: [
      Plot.barY(bars, {
        fx: 'x',
        x: 'who',
        y: 'kl',
        fill: 'who',
        stroke: look.ink,
        strokeWidth: look.stroke * 0.5,
      }),
      Plot.text(bars, {
        fx: 'x',
        x: 'who',
        y: 'kl',
        text: (d: { kl: number }) => d.kl.toPrecision(2),
        lineAnchor: 'bottom',
        dy: -3,
        fill: look.ink,
        fontSize: look.size.tick * 0.85,
      }),
      Plot.text(flagged, {
        fx: 'x',
        text: () => 'flagged',
        frameAnchor: 'top',
        dy: 2,
        lineAnchor: 'top',
        fill: '#D55E00',
        fontWeight: 'bold',
      }),
      Plot.frame({ stroke: look.ink, strokeOpacity: 0.25 }),
    ],
  });
}

export function leverPlot(figure: Lever, look: Look): Plotted {
  const l = layout(figure, look);
  const makers = [
    modelsPanel,
    ...(figure.pairs.length ? [pairsPanel] : []),
    ...(figure.channel.length ? [channelPanel] : []),
  ];
  const panels: Placed[] = [];
  let y = 0;
  makers.forEach((make, i) => {
    const p = make(figure, look, l, i === makers.length - 1);
    panels.push({ svg: p.svg, x: 0, y });
    y += p.height + l.t * 0.6;
  });
  const unlabelled = measure(figure.xLabel, l.t) > look.width;
  return { panels, notes: unlabelled ? [`Columns: ${figure.xLabel}.`] : [] };
}

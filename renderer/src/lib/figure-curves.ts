// The curves figure: one panel per training phase (teacher steps, then student steps: different
// clocks, and losses of different kinds), each with its own y axis, side by side where the width allows.
import * as Plot from '@observablehq/plot';
import { accuracyDomain, type CurvePanel, type CurveRow } from '../../../app/figures.ts';
import { measure, type Look } from './figure-look.ts';
import {
  chanceMargin,
  chanceMarks,
  colorScale,
  frame,
  perExperiment,
  shownConditions,
  svgOf,
  yMargin,
  type Of,
  type PlotChoices,
  type Plotted,
} from './figure-plots.ts';

/** Integer ticks from 0 to `max`, about `count` of them, at 1, 2 or 5 times a power of ten. */
export function integerTicks(max: number, count: number): number[] {
  const raw = Math.max(1, max / Math.max(1, count));
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = 0; v <= max; v += step) ticks.push(v);
  return ticks;
}

function curvePanel(
  figure: Of<'curves'>,
  panel: CurvePanel,
  look: Look,
  choices: PlotChoices,
  width: number,
  height: number,
): SVGSVGElement {
  const t = look.size.tick;
  const rows = figure.rows.filter((r) => r.phase === panel.phase);
  const domain = shownConditions(rows);
  const maxStep = Math.max(1, ...rows.map((r) => r.step));
  // A log axis has no room for 0 or below: a band reaching there is cut at half the lowest mean.
  const floor = Math.min(...rows.map((r) => r.mean).filter((m) => m > 0)) / 2;
  const drawn: CurveRow[] = choices.logY
    ? rows.filter((r) => r.mean > 0).map((r) => ({ ...r, lo: Math.max(r.lo, floor) }))
    : rows;
  const values = drawn.flatMap((r) => [r.lo, r.hi]);
  const ticks = [Math.min(...values), Math.max(...values)].map((v) =>
    Number.isFinite(v) ? v.toPrecision(2) : '0',
  );
  const points = (r: CurveRow) =>
    rows.filter((o) => o.condition === r.condition && o.experiment === r.experiment).length;
  const chance = figure.chance;
  const accuracy = chance !== null && !choices.logY;
  const plot = Plot.plot({
    ...frame(look, width, height),
    marginLeft: yMargin(look, [...ticks, '0.000']),
    marginRight: chance !== null ? chanceMargin(look) : t,
    marginTop: Math.ceil(t * 2),
    marginBottom: Math.ceil(t * 3.2 + 6),
    x: {
      label: panel.xLabel,
      grid: true,
      ticks: integerTicks(maxStep, Math.max(2, Math.floor(width / (measure(String(maxStep), t) * 3)))),
      tickFormat: 'd',
      labelAnchor: 'center',
      labelArrow: 'none',
    },
    y: {
      type: choices.logY ? 'log' : 'linear',
      // Accuracy keeps its 0-based range; wide bands are cut at the frame rather than stretching it.
      ...(accuracy ? { domain: accuracyDomain(figure, choices.fixedUnitY) } : {}),
      label: panel.yLabel,
      grid: true,
      labelAnchor: 'center',
      labelArrow: 'none',
      ticks: choices.logY ? undefined : 4,
    },
    color: colorScale(domain),
    marks: [
      ...(chance !== null ? chanceMarks(chance, look) : []),
      // A band and a line per experiment and condition: marks are split by experiment, then by colour.
      ...perExperiment(figure, drawn, (rows) =>
        Plot.areaY(rows, { x: 'step', y1: 'lo', y2: 'hi', fill: 'condition', fillOpacity: 0.18, clip: true }),
      ),
      ...perExperiment(figure, drawn, (rows, dash) =>
        Plot.lineY(rows, {
          x: 'step',
          y: 'mean',
          stroke: 'condition',
          strokeWidth: look.stroke * 1.4,
          strokeDasharray: dash,
        }),
      ),
      // A series of one measurement (the reference, before training) is a dot.
      Plot.dot(
        drawn.filter((r) => points(r) === 1),
        { x: 'step', y: 'mean', fill: 'condition', r: look.forExport ? 2.5 : 3.5 },
      ),
      Plot.text([panel.phase === 'teacher' ? 'teacher phase' : 'student phase'], {
        frameAnchor: 'top-left',
        textAnchor: 'start',
        lineAnchor: 'bottom',
        dy: -t * 0.5,
        fontWeight: 'bold',
        fill: look.ink,
      }),
      Plot.frame({ stroke: look.ink, strokeOpacity: 0.25 }),
    ],
  });
  return svgOf(plot);
}

/** One panel per phase: side by side where each gets 220 units or more, else one above the other. */
export function curvesPlot(figure: Of<'curves'>, look: Look, choices: PlotChoices): Plotted {
  const n = figure.panels.length;
  const sideBySide = n > 1 && look.width / n >= 220;
  const gap = sideBySide ? look.size.tick * 1.5 : look.size.tick;
  const width = sideBySide ? (look.width - gap * (n - 1)) / n : look.width;
  const height = look.forExport ? Math.round(Math.min(200, Math.max(150, width * 0.62))) : 320;
  const panels = figure.panels.map((panel, i) => ({
    svg: curvePanel(figure, panel, look, choices, width, height),
    x: sideBySide ? i * (width + gap) : 0,
    y: sideBySide ? 0 : i * (height + gap),
  }));
  const cut = choices.logY && figure.rows.some((r) => r.lo <= 0);
  return {
    panels,
    notes: cut ? ['On the log axis, bands reaching 0 or below are cut at half the lowest mean.'] : [],
  };
}

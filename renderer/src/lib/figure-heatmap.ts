// The heatmap of student minus cross-init accuracy: a diverging colour scale centred on 0 with a
// legend ramp that shows its values, each square's value written in it in black or white by the
// square's own luminance, and squares whose paired interval includes 0 drawn faint and hatched.
import * as Plot from '@observablehq/plot';
import { readableLabel, type FigureSpec, type HeatRow } from '../../../app/figures.ts';
import { luminance } from './colors.ts';
import { FONT_FAMILY, measure, widest, wrapText, type Look } from './figure-look.ts';
import { svgOf, type Plotted } from './figure-plots.ts';

type Heatmap = Extract<FigureSpec, { kind: 'heatmap' }>;

const SVG_NS = 'http://www.w3.org/2000/svg';
const FAINT = 0.35;
/** Above this luminance black text has more contrast than white (WCAG: (L + .05) / .05 = 1.05 / (L + .05)). */
const DARK_TEXT_ABOVE = 0.179;

const signed = (x: number, digits = 3) => `${x >= 0 ? '+' : '\u2212'}${Math.abs(x).toFixed(digits)}`;

/** The colour scale's half-width: the largest |difference| rounded up to 0.02 (to 0.1 past 0.1), so the ramp's half-way ticks are round too. */
export function heatExtent(rows: readonly HeatRow[]): number {
  const max = Math.max(0.01, ...rows.map((r) => Math.abs(r.value)).filter(Number.isFinite));
  const step = max > 0.1 ? 0.1 : 0.02;
  return Number((Math.ceil(max / step - 1e-9) * step).toFixed(2));
}

/** Value -> #rrggbb on Plot's red-blue diverging scheme, red below 0 and blue above. */
export function heatColor(extent: number): (value: number) => string {
  const scale = Plot.scale({
    color: { type: 'diverging', scheme: 'rdbu', domain: [-extent, extent], pivot: 0 },
  });
  return (value) => toHex(String(scale.apply(value)));
}

/**
 * The figure's colour scale: differences (signed) on the diverging scale from -extent to extent;
 * rates (unsigned, a language run's answers) on a sequential blue scale from 0.
 */
function heatScale(figure: Heatmap): { low: number; high: number; color: (value: number) => string } {
  const extent = heatExtent(figure.rows);
  if (!figure.values || figure.values.signed) return { low: -extent, high: extent, color: heatColor(extent) };
  const scale = Plot.scale({ color: { type: 'linear', scheme: 'blues', domain: [0, extent] } });
  return { low: 0, high: extent, color: (value) => toHex(String(scale.apply(value))) };
}

function toHex(color: string): string {
  if (color.startsWith('#')) return color;
  const [r, g, b] = (color.match(/\d+(\.\d+)?/g) ?? ['0', '0', '0']).map(Number);
  return `#${[r, g, b].map((v) => Math.round(v!).toString(16).padStart(2, '0')).join('')}`;
}

/** The fill a faint square shows on white paper. */
function onWhite(hex: string): string {
  const mix = (i: number) => Math.round(FAINT * parseInt(hex.slice(i, i + 2), 16) + (1 - FAINT) * 255);
  return `#${[1, 3, 5].map((i) => mix(i).toString(16).padStart(2, '0')).join('')}`;
}

function textColor(fill: string, faint: boolean, look: Look): string {
  // On screen a faint square is mostly the panel behind it: the theme's ink reads on it.
  if (faint && !look.forExport) return look.ink;
  return luminance(faint ? onWhite(fill) : fill) > DARK_TEXT_ABOVE ? 'black' : 'white';
}

const order = (values: string[]) => [...new Set(values)];

/**
 * An axis's labels without the parts every label shares (an axis that does not vary, which the
 * caption names), readable, as lines; and its title without those parts, sweep paths by their last
 * part where the whole title does not fit `room`.
 */
function axisText(values: readonly string[], title: string, room: number, look: Look) {
  const parts = values.map((v) => v.split(' | '));
  const count = Math.max(...parts.map((p) => p.length));
  const keep = Array.from({ length: count }, (_, i) => i).filter(
    (i) => values.length === 1 || new Set(parts.map((p) => p[i])).size > 1,
  );
  const kept = (p: string[]) => (keep.length > 0 && p.length === count ? keep.map((i) => p[i]!) : p);
  const titles = title.split(' | ');
  const shown = titles.length === count ? kept(titles) : titles;
  const full = shown.join(', ');
  return {
    lines: (value: string) => readableLabel(kept(value.split(' | ')).join(' | ')).split(' | '),
    title: measure(full, look.size.tick) <= room ? full : shown.map((t) => t.split('.').at(-1)).join(', '),
  };
}

export function heatmapPlot(figure: Heatmap, look: Look, hatchId: string): Plotted {
  if (figure.rows.length === 0) return { panels: [], notes: [] };
  const t = look.size.tick;
  const { color } = heatScale(figure);
  // Rates (a language run's answers) read as they are; differences with their sign.
  const value = (v: number) => (figure.values && !figure.values.signed ? v.toFixed(3) : signed(v));
  const xs = order(figure.rows.map((r) => r.x));
  const ys = order(figure.rows.map((r) => r.y));
  const xText = axisText(xs, figure.xLabel, look.width * 0.6, look);
  const yText = axisText(ys, figure.yLabel, look.width * 0.6, look);
  const yLines = ys.flatMap(yText.lines);
  const marginLeft = Math.ceil(Math.min(look.width * 0.4, widest(yLines, t) + 10));
  const column = (look.width - marginLeft - 4) / Math.max(1, xs.length);
  const upright = widest(xs.flatMap(xText.lines), t) > column - 4;
  const xLineCount = Math.max(...xs.map((x) => xText.lines(x).length));
  const marginBottom = Math.ceil(
    (upright
      ? widest(
          xs.map((x) => xText.lines(x).join(', ')),
          t,
        ) + 6
      : xLineCount * t * 1.2 + 6) +
      t * 1.6 +
      4,
  );
  const cellText = (d: HeatRow) => {
    const n = `N = ${d.n}`;
    const cells = d.cells > 1 ? `${d.cells} cells` : '';
    const oneLine = cells ? `${n}, ${cells}` : n;
    return [value(d.value), ...(measure(oneLine, t) <= column - 4 ? [oneLine] : [n, cells].filter(Boolean))];
  };
  const textLines = Math.max(...figure.rows.map((r) => cellText(r).length));
  const rowHeight = Math.ceil(textLines * t * 1.25 + t);
  const marginTop = Math.ceil(t * 1.8);
  const plot = Plot.plot({
    width: look.width,
    height: marginTop + marginBottom + rowHeight * ys.length,
    style: { fontFamily: FONT_FAMILY, fontSize: `${t}px`, background: 'transparent', color: look.ink },
    marginLeft,
    marginRight: 4,
    marginTop,
    marginBottom,
    padding: 0,
    x: {
      domain: xs,
      label: xText.title,
      tickFormat: (x: string) => xText.lines(x).join(upright ? ', ' : '\n'),
      tickRotate: upright ? -90 : 0,
      tickSize: 0,
      labelAnchor: 'center',
    },
    y: {
      domain: ys,
      label: yText.title,
      tickFormat: (y: string) => yText.lines(y).join('\n'),
      tickSize: 0,
      labelAnchor: 'top',
    },
    color: { type: 'identity' },
    marks: [
      Plot.cell(figure.rows, {
        x: 'x',
        y: 'y',
        fill: (d: HeatRow) => color(d.value),
        fillOpacity: (d: HeatRow) => (d.crossesZero ? FAINT : 1),
        inset: 1,
        title: (d: HeatRow) =>
          `${value(d.value)} (N = ${d.n})${d.crossesZero ? '; a 95% CI includes 0' : ''}`,
      }),
      Plot.cell(
        figure.rows.filter((r) => r.crossesZero),
        { x: 'x', y: 'y', fill: `url(#${hatchId})`, inset: 1, ariaLabel: 'CI includes 0' },
      ),
      Plot.text(figure.rows, {
        x: 'x',
        y: 'y',
        text: (d: HeatRow) => cellText(d).join('\n'),
        fill: (d: HeatRow) => textColor(color(d.value), d.crossesZero, look),
        lineHeight: 1.25,
      }),
    ],
  });
  const svg = svgOf(plot);
  // The hatched overlays say what they mean to tests and screen readers.
  for (const hatched of Array.from(svg.querySelectorAll(`[fill="url(#${hatchId})"]`)))
    for (const rect of hatched.tagName === 'rect' ? [hatched] : Array.from(hatched.querySelectorAll('rect')))
      rect.setAttribute('data-ci-includes-zero', '');
  return { panels: [{ svg, x: 0, y: 0 }], notes: [] };
}

function node<K extends keyof SVGElementTagNameMap>(
  name: K,
  attrs: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** The hatching of a square whose interval includes 0. */
export function hatchPattern(id: string, look: Look): SVGPatternElement {
  const size = look.forExport ? 4 : 6;
  const pattern = node('pattern', {
    id,
    patternUnits: 'userSpaceOnUse',
    width: size,
    height: size,
    patternTransform: 'rotate(45)',
  });
  pattern.append(
    node('line', {
      x1: 0,
      y1: 0,
      x2: 0,
      y2: size,
      stroke: look.ink,
      'stroke-width': look.stroke,
      'stroke-opacity': 0.55,
    }),
  );
  return pattern;
}

/**
 * The legend: a ramp of the colour scale with ticks at -e, -e/2, 0, e/2, e (rates: 0 to e in quarters), its title, and a hatched
 * swatch saying what hatching means when a square has it.
 */
export function heatLegend(
  figure: Heatmap,
  look: Look,
  ids: { gradient: string; hatch: string },
): { group: SVGGElement; defs: SVGElement[]; height: number } {
  const t = look.size.tick;
  const { low, high, color } = heatScale(figure);
  const width = Math.min(look.width - 16, look.forExport ? 160 : 320);
  const gradient = node('linearGradient', { id: ids.gradient, x1: 0, x2: 1, y1: 0, y2: 0 });
  for (let i = 0; i <= 10; i++)
    gradient.append(node('stop', { offset: i / 10, 'stop-color': color(low + ((high - low) * i) / 10) }));
  const group = node('g', {});
  const title = wrapText(`${figure.valueLabel}:`, t, look.width - 16);
  title.forEach((line, i) => group.append(node('text', { x: 0, y: t + i * t * 1.2, fill: look.ink }, line)));
  const top = title.length * t * 1.2 + 4;
  const barHeight = t;
  group.append(node('rect', { x: 0, y: top, width, height: barHeight, fill: `url(#${ids.gradient})` }));
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((k) => low + k * (high - low));
  ticks.forEach((v, i) => {
    const x = ((v - low) / (high - low)) * width;
    group.append(
      node('line', {
        x1: x,
        x2: x,
        y1: top,
        y2: top + barHeight + 3,
        stroke: look.ink,
        'stroke-width': look.stroke,
      }),
    );
    const anchor = i === 0 ? 'start' : i === ticks.length - 1 ? 'end' : 'middle';
    const label = v === 0 ? '0' : low < 0 ? signed(v, 2) : v.toFixed(2);
    group.append(
      node('text', { x, y: top + barHeight + 3 + t, 'text-anchor': anchor, fill: look.ink }, label),
    );
  });
  let height = top + barHeight + 3 + t * 1.3;
  if (figure.rows.some((r) => r.crossesZero)) {
    const y = height + 4;
    group.append(
      node('rect', {
        x: 0,
        y,
        width: t * 1.4,
        height: t * 1.2,
        fill: look.forExport ? 'white' : 'none',
        stroke: look.ink,
        'stroke-width': look.stroke * 0.6,
      }),
    );
    group.append(node('rect', { x: 0, y, width: t * 1.4, height: t * 1.2, fill: `url(#${ids.hatch})` }));
    group.append(
      node(
        'text',
        { x: t * 1.9, y: y + t, fill: look.ink },
        'faint and hatched: the paired 95% CI includes 0',
      ),
    );
    height = y + t * 1.2 + 2;
  }
  return { group, defs: [gradient], height };
}

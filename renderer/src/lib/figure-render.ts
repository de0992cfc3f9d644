// FigureSpec -> one self-contained SVG: title, legend, the plotted panels, a caption that says what
// the marks, intervals and conditions are, and provenance metadata, all in one font family. On
// screen it fills the given width in CSS pixels and takes the theme's ink; an export is laid out in
// points at a physical width (3.3 or 7 inches), black on a white page, so its type sizes are points.
import { CONDITIONS, CONDITION_LABELS } from '../../../app/conditions.ts';
import type { FigureSpec } from '../../../app/figures.ts';
import { CONDITION_COLOR } from './colors.ts';
import { heatLegend, hatchPattern, heatmapPlot } from './figure-heatmap.ts';
import { FONT_FAMILY, lookFor, measure, wrapText, type Look } from './figure-look.ts';
import { curvesPlot } from './figure-curves.ts';
import { leverLegend, leverPlot, type LeverLegendEntry } from './figure-lever.ts';
import {
  barsPlot,
  experimentDash,
  sweepPlot,
  type Placed,
  type PlotChoices,
  type Plotted,
} from './figure-plots.ts';

const SVG_NS = 'http://www.w3.org/2000/svg';
const META_NS = 'https://subliminal-lab.org/ns/figure';

/** The export widths offered: a journal's single column and a full page width. */
export const EXPORT_SIZES = [
  { inches: 3.3, label: 'single column, 3.3 in' },
  { inches: 7, label: 'full width, 7 in' },
] as const;
export const DEFAULT_INCHES = 7;

export interface RenderOptions {
  /** The screen width in CSS px. An export's width is `inches` instead. */
  width: number;
  /** Export: a white page with black ink, in points. Screen: transparent, ink follows the theme (currentColor). */
  forExport: boolean;
  /** An export's physical width (default 7 in); the SVG says it in inches, its viewBox in points. */
  inches?: number;
  /** A fixed 0-1 accuracy axis instead of one fitted to the data (bars, sweep). */
  fixedUnitY?: boolean;
  /** A log y axis (curves). */
  logY?: boolean;
  generatedAt?: string;
}

let uid = 0;

function el<K extends keyof SVGElementTagNameMap>(
  name: K,
  attrs: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function plotted(figure: FigureSpec, look: Look, choices: PlotChoices, hatchId: string): Plotted {
  switch (figure.kind) {
    case 'bars':
      return barsPlot(figure, look, choices);
    case 'sweep':
      return sweepPlot(figure, look, choices);
    case 'curves':
      return curvesPlot(figure, look, choices);
    case 'heatmap':
      return heatmapPlot(figure, look, hatchId);
    case 'lever':
      return leverPlot(figure, look);
  }
}

/** A legend entry: its mark (drawn at x, y in a box `t` high and `width` wide) and its text. */
interface LegendEntry {
  label: string;
  markWidth: number;
  mark: (x: number, y: number) => SVGElement;
}

/** A lever figure's legend entry: a dot (a model), a diamond (a difference) or a swatch (a bar). */
function leverEntry(e: LeverLegendEntry, look: Look): LegendEntry {
  const t = look.size.tick;
  const common = { fill: e.color, stroke: look.ink, 'stroke-width': look.stroke * 0.6 };
  const mark = (x: number, y: number): SVGElement => {
    if (e.shape === 'dot') return el('circle', { cx: x + t / 2, cy: y + t / 2, r: t * 0.38, ...common });
    if (e.shape === 'diamond') {
      const [cx, cy, r] = [x + t / 2, y + t / 2, t * 0.45];
      return el('path', {
        d: `M${cx} ${cy - r}L${cx + r} ${cy}L${cx} ${cy + r}L${cx - r} ${cy}Z`,
        ...common,
      });
    }
    return el('rect', { x, y, width: t, height: t, ...common });
  };
  return { label: e.label, markWidth: t, mark };
}

/**
 * Condition swatches left to right in CONDITIONS order, then (a compare figure) each experiment's
 * line style, wrapping at the width.
 */
function conditionLegend(
  figure: FigureSpec,
  look: Look,
): { group: SVGGElement; defs: SVGElement[]; height: number } {
  const t = look.size.tick;
  const shown = CONDITIONS.filter((c) => figure.rows.some((r) => 'condition' in r && r.condition === c));
  const entries: LegendEntry[] =
    figure.kind === 'lever' ? leverLegend(figure).map((e) => leverEntry(e, look)) : [];
  entries.push(
    ...shown.map((c): LegendEntry => ({
      label: CONDITION_LABELS[c],
      markWidth: t,
      mark: (x, y) =>
        el('rect', {
          x,
          y,
          width: t,
          height: t,
          fill: CONDITION_COLOR.get(c)!,
          stroke: look.ink,
          'stroke-width': look.stroke * 0.6,
          'stroke-opacity': 0.7,
        }),
    })),
  );
  if (figure.kind === 'curves' || figure.kind === 'sweep')
    figure.experiments.forEach((label, i) =>
      entries.push({
        label,
        markWidth: t * 2.4,
        mark: (x, y) =>
          el('line', {
            x1: x,
            x2: x + t * 2.4,
            y1: y + t / 2,
            y2: y + t / 2,
            stroke: look.ink,
            'stroke-width': look.stroke * 1.4,
            'stroke-dasharray': experimentDash(figure, figure.meta.experimentIds[i]!),
          }),
      }),
    );
  const group = el('g', {});
  const rowHeight = t * 1.5;
  let x = 0;
  let row = 0;
  for (const entry of entries) {
    const w = entry.markWidth + t * 0.5 + measure(entry.label, t);
    if (x > 0 && x + w > look.width) {
      x = 0;
      row++;
    }
    const y = row * rowHeight;
    group.append(entry.mark(x, y));
    group.append(
      el('text', { x: x + entry.markWidth + t * 0.4, y: y + t * 0.85, fill: look.ink }, entry.label),
    );
    x += w + t * 1.2;
  }
  return { group, defs: [], height: entries.length ? (row + 1) * rowHeight : 0 };
}

/** Wrapped lines at `size` from `y`, returning the y below them. */
function writeLines(
  parent: SVGElement,
  texts: readonly string[],
  look: Look,
  at: { x: number; y: number; size: number; bold?: boolean; width: number },
): number {
  let y = at.y;
  for (const text of texts)
    for (const line of wrapText(text, at.size, at.width, at.bold)) {
      y += at.size * 1.2;
      parent.append(
        el(
          'text',
          {
            x: at.x,
            y: y - at.size * 0.25,
            fill: look.ink,
            'font-size': at.size,
            ...(at.bold ? { 'font-weight': 'bold' } : {}),
          },
          line,
        ),
      );
    }
  return y;
}

/** The plots' marks move into groups (no nested <svg>: PDF converters handle groups best). */
function panelGroup(placed: Placed, look: Look, x: number, y: number): SVGGElement {
  const group = el('g', {
    transform: `translate(${x + placed.x}, ${y + placed.y})`,
    fill: look.ink,
    color: look.ink,
    'font-size': look.size.tick,
    'text-anchor': 'middle',
  });
  const className = placed.svg.getAttribute('class');
  if (className) group.setAttribute('class', className);
  group.append(...Array.from(placed.svg.childNodes));
  return group;
}

/** One font family in the whole figure: Plot's own family (and any other) gives way to the root's. */
function oneFontFamily(svg: SVGSVGElement): void {
  for (const node of Array.from(svg.querySelectorAll('[font-family], [style]'))) {
    node.removeAttribute('font-family');
    const style = node.getAttribute('style');
    if (style !== null) {
      const kept = style.replace(/font-family\s*:[^;]*;?/gi, '').trim();
      if (kept) node.setAttribute('style', kept);
      else node.removeAttribute('style');
    }
  }
  svg.setAttribute('font-family', FONT_FAMILY);
}

function provenance(figure: FigureSpec, options: RenderOptions): SVGMetadataElement {
  const metadata = el('metadata', {});
  const node = document.createElementNS(META_NS, 'sublab:figure');
  node.setAttribute('kind', figure.kind);
  node.setAttribute('spec-hashes', figure.meta.specHashes.join(' '));
  node.setAttribute('experiment-ids', figure.meta.experimentIds.join(' '));
  node.setAttribute('n', figure.meta.n);
  node.setAttribute('generated', options.generatedAt ?? new Date().toISOString());
  metadata.append(node);
  return metadata;
}

export function renderFigure(figure: FigureSpec, options: RenderOptions): SVGSVGElement {
  const inches = options.inches ?? DEFAULT_INCHES;
  const width = options.forExport ? inches * 72 : options.width;
  const pad = options.forExport ? 4 : 8;
  const look = lookFor(options.forExport, width - 2 * pad);
  const choices = { fixedUnitY: options.fixedUnitY ?? false, logY: options.logY ?? false };
  const id = `sublab-fig-${++uid}`;
  const ids = { hatch: `${id}-hatch`, gradient: `${id}-ramp` };

  const content = el('g', {});
  let y = writeLines(content, [figure.meta.title], look, {
    x: pad,
    y: pad * 0.5,
    size: look.size.title,
    bold: true,
    width: look.width,
  });
  const defs = el('defs', {});
  defs.append(hatchPattern(ids.hatch, look));
  const legend = figure.kind === 'heatmap' ? heatLegend(figure, look, ids) : conditionLegend(figure, look);
  defs.append(...legend.defs);
  legend.group.setAttribute('transform', `translate(${pad}, ${y + look.size.tick * 0.4})`);
  content.append(legend.group);
  y += legend.height + look.size.tick * 0.8;

  const { panels, notes } = plotted(figure, look, choices, ids.hatch);
  const bottom = Math.max(0, ...panels.map((p) => p.y + Number(p.svg.getAttribute('height'))));
  for (const p of panels) content.append(panelGroup(p, look, pad, y));
  y += bottom + look.size.tick * 0.4;

  const { caption: sentences, n, experimentIds, specHashes } = figure.meta;
  const specs = specHashes.map((h) => h.slice(0, 12)).join(', ');
  const paragraphs = [
    ...sentences.map((p, i) => (i === 0 && notes.length ? `${p} ${notes.join(' ')}` : p)),
    `N = ${n} per condition. Experiment ${experimentIds.join(', ')}, spec ${specs}.`,
  ];
  for (const paragraph of paragraphs)
    y =
      writeLines(content, [paragraph], look, { x: pad, y, size: look.size.caption, width: look.width }) +
      look.size.caption * 0.35;
  const height = Math.ceil(y + pad);

  const svg = el('svg', {
    xmlns: SVG_NS,
    width: options.forExport ? `${inches}in` : width,
    height: options.forExport ? `${Number((height / 72).toFixed(4))}in` : height,
    viewBox: `0 0 ${width} ${height}`,
    'font-size': look.size.tick,
    role: 'img',
  });
  svg.setAttributeNS('http://www.w3.org/2000/xmlns/', 'xmlns:sublab', META_NS);
  svg.append(el('title', {}, figure.meta.title), provenance(figure, options), defs);
  if (options.forExport) svg.append(el('rect', { x: 0, y: 0, width, height, fill: 'white' }));
  svg.append(content);
  oneFontFamily(svg);
  return svg;
}

export function svgText(svg: SVGSVGElement): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(svg)}`;
}

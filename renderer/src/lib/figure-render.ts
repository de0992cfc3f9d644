// FigureSpec -> one self-contained SVG: title, legend, axis labels and provenance metadata in the same
// element, drawn with Observable Plot. The screen shows exactly the SVG that is exported.
import * as Plot from '@observablehq/plot';
import { CONDITIONS, CONDITION_LABELS } from '../../../app/conditions.ts';
import type { FigureSpec, PairRow } from '../../../app/figures.ts';
import { pText } from '../../../app/comparisons.ts';
import { CONDITION_COLOR, FALLBACK_COLOR, LABEL_COLOR } from './colors.ts';

const SVG_NS = 'http://www.w3.org/2000/svg';
const META_NS = 'https://subliminal-lab.org/ns/figure';

export interface RenderOptions {
  width: number;
  /** Export: a white page with black ink. Screen: transparent, ink follows the theme (currentColor). */
  forExport: boolean;
  generatedAt?: string;
}

const signed = (x: number) => `${x >= 0 ? '+' : '\u2212'}${Math.abs(x).toFixed(3)}`;

/** "Δ student − cross-init +0.056 [−0.001, 0.113], p = 0.069 (Holm), N = 6" */
function pairText(d: PairRow): string {
  return `\u0394 ${signed(d.meanDiff)} [${signed(d.low)}, ${signed(d.high)}], p = ${pText(d.pHolm)}${d.pHolm !== d.p ? ' (Holm)' : ''}, N = ${d.n}`;
}

/** "Δ +0.056, p = 0.069" */
function pairTextShort(d: PairRow): string {
  return `\u0394 ${signed(d.meanDiff)}, p = ${pText(d.pHolm)}`;
}

function plotFor(figure: FigureSpec, width: number): SVGSVGElement | HTMLElement {
  switch (figure.kind) {
    case 'bars': {
      const domain = CONDITIONS.filter((c) => figure.rows.some((r) => r.condition === c));
      return Plot.plot({
        width,
        height: 340,
        marginTop: figure.pairs.length > 0 ? 40 : 20,
        marginBottom: 40,
        marginLeft: 56,
        fx: { label: null, padding: 0.12 },
        x: { axis: null, domain, paddingInner: 0.1 },
        y: { label: figure.yLabel, domain: [0, 1], grid: true },
        color: { domain, range: domain.map((c) => CONDITION_COLOR.get(c)!) },
        marks: [
          Plot.barY(figure.rows, { fx: 'group', x: 'condition', y: 'mean', fill: 'condition' }),
          Plot.ruleX(figure.rows, {
            fx: 'group',
            x: 'condition',
            y1: (d: { mean: number; ci95: number }) => d.mean - d.ci95,
            y2: (d: { mean: number; ci95: number }) => d.mean + d.ci95,
            stroke: 'currentColor',
            strokeWidth: 1.5,
          }),
          Plot.text(figure.rows, {
            fx: 'group',
            x: 'condition',
            y: (d: { mean: number; ci95: number }) => Math.min(1, d.mean + d.ci95),
            text: (d: { mean: number }) => d.mean.toFixed(3),
            dy: -7,
            fontSize: 9,
            fill: 'currentColor',
          }),
          Plot.ruleY([0]),
          // The paired difference of each cell, above its bars.
          Plot.text(figure.pairs, {
            fx: 'group',
            frameAnchor: 'top',
            dy: -24,
            // Narrow panels get the short form, so neighbouring cells' texts do not overlap.
            text: new Set(figure.rows.map((r) => r.group)).size > 3 ? pairTextShort : pairText,
            fontSize: 10,
            fill: 'currentColor',
          }),
        ],
      });
    }
    case 'curves': {
      const series = [...new Set(figure.rows.map((r) => r.series))];
      return Plot.plot({
        width,
        height: 320,
        marginLeft: 56,
        x: { label: figure.xLabel, grid: true },
        y: { label: figure.yLabel, grid: true },
        color: { domain: series, range: series.map((s) => LABEL_COLOR.get(s) ?? FALLBACK_COLOR) },
        marks: [
          Plot.areaY(figure.rows, { x: 'step', y1: 'lo', y2: 'hi', fill: 'series', fillOpacity: 0.18 }),
          Plot.lineY(figure.rows, { x: 'step', y: 'mean', stroke: 'series', strokeWidth: 1.6 }),
        ],
      });
    }
    case 'heatmap': {
      const extent = Math.max(0.01, ...figure.rows.map((r) => Math.abs(r.value)));
      return Plot.plot({
        width,
        height: 80 + 40 * new Set(figure.rows.map((r) => r.y)).size,
        // Room for the longest y label (sweep values make them long), within reason.
        marginLeft: Math.min(420, Math.max(200, 16 + 6 * Math.max(...figure.rows.map((r) => r.y.length)))),
        marginBottom: 40,
        x: { label: figure.xLabel, tickRotate: figure.rows.some((r) => r.x.length > 14) ? -12 : 0 },
        y: { label: figure.yLabel },
        color: { type: 'linear', scheme: 'rdbu', domain: [-extent, extent] },
        marks: [
          // A difference whose paired interval includes 0 is drawn faint and says so.
          Plot.cell(figure.rows, {
            x: 'x',
            y: 'y',
            fill: 'value',
            inset: 1,
            fillOpacity: (d: { crossesZero: boolean }) => (d.crossesZero ? 0.35 : 1),
          }),
          Plot.text(figure.rows, {
            x: 'x',
            y: 'y',
            text: (d: { value: number; n: number; cells: number; crossesZero: boolean }) =>
              `${d.value >= 0 ? '+' : ''}${d.value.toFixed(3)} (N=${d.n}${d.cells > 1 ? `, mean of ${d.cells} cells` : ''})${d.crossesZero ? ', CI includes 0' : ''}`,
            // Light text on the dark ends of the scale, dark text elsewhere.
            fill: (d: { value: number; crossesZero: boolean }) =>
              !d.crossesZero && Math.abs(d.value) > 0.55 * extent ? 'white' : 'black',
            fontSize: 10,
          }),
        ],
      });
    }
    case 'sweep': {
      const domain = CONDITIONS.filter((c) => figure.rows.some((r) => r.condition === c));
      const categorical = figure.xScale === 'categorical';
      const x = categorical ? 'x' : 'xValue';
      const faceted = figure.facets.length > 1;
      const fy = faceted ? 'facet' : undefined;
      const xs = [...new Set(figure.rows.map((r) => r.xValue).filter((v) => v !== null))];
      return Plot.plot({
        width,
        height: 50 + 230 * figure.facets.length,
        marginLeft: 56,
        marginTop: 24,
        marginBottom: 40,
        x: categorical
          ? { type: 'point', domain: figure.xDomain, label: figure.xLabel, padding: 0.3 }
          : {
              type: figure.xScale,
              label: figure.xLabel,
              grid: true,
              // Ticks at the swept values, written as in the CSV (0.0001, not 100µ).
              ...(xs.length <= 12 ? { ticks: xs, tickFormat: (d: number) => String(d) } : {}),
            },
        y: { label: figure.yLabel, domain: [0, 1], grid: true },
        fy: { axis: null, domain: figure.facets, padding: 0.18 },
        color: { domain, range: domain.map((c) => CONDITION_COLOR.get(c)!) },
        marks: [
          Plot.areaY(figure.rows, {
            x,
            y1: 'lo',
            y2: 'hi',
            fy,
            fill: 'condition',
            fillOpacity: 0.16,
            curve: 'linear',
          }),
          Plot.lineY(figure.rows, { x, y: 'mean', fy, stroke: 'condition', strokeWidth: 1.6 }),
          Plot.dot(figure.rows, { x, y: 'mean', fy, fill: 'condition', r: 2.5 }),
          ...(faceted
            ? [
                Plot.text(figure.facets, {
                  fy: (d: string) => d,
                  text: (d: string) => d,
                  frameAnchor: 'top-left',
                  dy: -14,
                  fontWeight: 'bold',
                  fill: 'currentColor',
                }),
              ]
            : []),
          Plot.frame({ stroke: 'currentColor', strokeOpacity: 0.2 }),
        ],
      });
    }
  }
}

function legendEntries(figure: FigureSpec): { label: string; color: string }[] {
  if (figure.kind === 'bars' || figure.kind === 'sweep')
    return CONDITIONS.filter((c) => figure.rows.some((r) => r.condition === c)).map((c) => ({
      label: CONDITION_LABELS[c],
      color: CONDITION_COLOR.get(c)!,
    }));
  if (figure.kind === 'curves')
    return [...new Set(figure.rows.map((r) => r.series))].map((s) => ({
      label: s,
      color: LABEL_COLOR.get(s) ?? FALLBACK_COLOR,
    }));
  return [
    { label: `${figure.valueLabel} < 0`, color: '#b2182b' },
    { label: `${figure.valueLabel} > 0`, color: '#2166ac' },
  ];
}

function el<K extends keyof SVGElementTagNameMap>(
  name: K,
  attrs: Record<string, string | number>,
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

export function renderFigure(figure: FigureSpec, options: RenderOptions): SVGSVGElement {
  const { width } = options;
  const plotted = plotFor(figure, width);
  const plotSvg = (plotted instanceof SVGSVGElement ? plotted : plotted.querySelector('svg'))!;
  const plotHeight = Number(plotSvg.getAttribute('height'));
  const legend = legendEntries(figure);
  // Legend rows: entries laid out left to right, wrapping at the figure's width.
  const positions: { x: number; y: number }[] = [];
  let x = 0;
  let row = 0;
  for (const entry of legend) {
    const w = 22 + entry.label.length * 6.2;
    if (x + w > width - 16 && x > 0) {
      x = 0;
      row++;
    }
    positions.push({ x, y: row * 18 });
    x += w + 14;
  }
  const header = 30 + (row + 1) * 18 + 8;
  const footer = 18;
  const height = header + plotHeight + footer;

  const svg = el('svg', {
    xmlns: SVG_NS,
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    'font-family': 'Helvetica, Arial, sans-serif',
    'font-size': 10,
    role: 'img',
  });
  svg.setAttributeNS('http://www.w3.org/2000/xmlns/', 'xmlns:sublab', META_NS);
  const title = el('title', {});
  title.textContent = figure.meta.title;
  svg.append(title);
  const metadata = el('metadata', {});
  const provenance = document.createElementNS(META_NS, 'sublab:figure');
  provenance.setAttribute('kind', figure.kind);
  provenance.setAttribute('spec-hashes', figure.meta.specHashes.join(' '));
  provenance.setAttribute('experiment-ids', figure.meta.experimentIds.join(' '));
  provenance.setAttribute('n', figure.meta.n);
  provenance.setAttribute('generated', options.generatedAt ?? new Date().toISOString());
  metadata.append(provenance);
  svg.append(metadata);
  if (options.forExport) svg.append(el('rect', { x: 0, y: 0, width, height, fill: 'white' }));
  const ink = options.forExport ? 'black' : 'currentColor';

  const heading = el('text', { x: 8, y: 18, 'font-size': 14, 'font-weight': 'bold', fill: ink });
  heading.textContent = figure.meta.title;
  svg.append(heading);
  const legendGroup = el('g', { transform: `translate(8, 30)` });
  legend.forEach((entry, i) => {
    const p = positions[i]!;
    legendGroup.append(el('rect', { x: p.x, y: p.y, width: 12, height: 12, fill: entry.color }));
    const label = el('text', { x: p.x + 17, y: p.y + 10, fill: ink });
    label.textContent = entry.label;
    legendGroup.append(label);
  });
  svg.append(legendGroup);

  // The plot's marks move into a group (no nested <svg>: PDF converters handle groups best).
  const body = el('g', { transform: `translate(0, ${header})`, color: ink, fill: ink });
  for (const name of ['class', 'font-family', 'font-size', 'text-anchor']) {
    const value = plotSvg.getAttribute(name);
    if (value) body.setAttribute(name, value);
  }
  body.append(...Array.from(plotSvg.childNodes));
  svg.append(body);

  const foot = el('text', { x: 8, y: height - 5, 'font-size': 9, fill: ink });
  foot.textContent = `N = ${figure.meta.n} per condition | experiment ${figure.meta.experimentIds.join(', ')} | spec ${figure.meta.specHashes.map((h) => h.slice(0, 12)).join(', ')}`;
  svg.append(foot);
  return svg;
}

export function svgText(svg: SVGSVGElement): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(svg)}`;
}

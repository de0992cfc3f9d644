// Figure exports: SVG as drawn, PNG rasterised at a chosen DPI, vector PDF (jsPDF + svg2pdf: real
// text and paths, no image of the chart), CSV of the plotted rows and of the raw per-seed values.
import { jsPDF } from 'jspdf';
import { svg2pdf } from 'svg2pdf.js';
import { figureCsv, figureFileStem, seedsCsv, type FigureSpec } from '../../../app/figures.ts';
import { DEFAULT_INCHES, renderFigure, svgText } from './figure-render.ts';

/** What an export is made at: its physical width and the render choices shown on screen. */
export interface ExportOptions {
  /** Physical width in inches (default 7, a full page width). */
  inches?: number;
  fixedUnitY?: boolean;
  logY?: boolean;
}

export function download(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The export SVG, laid out in points: width and height in inches, viewBox in points. */
export function exportSvg(figure: FigureSpec, options: ExportOptions = {}): SVGSVGElement {
  return renderFigure(figure, { ...options, width: 0, forExport: true });
}

/** The width of an export at the default size, in points (renderFigure lays exports out in points). */
export const EXPORT_WIDTH = DEFAULT_INCHES * 72;

/**
 * An export's size in points: its viewBox (its width and height attributes are in inches). Code
 * placing an export SVG elsewhere (a report's PDF) scales from this.
 */
export function pointSize(svg: SVGSVGElement): { width: number; height: number } {
  const [, , width, height] = svg.getAttribute('viewBox')!.split(' ').map(Number);
  return { width: width!, height: height! };
}

const sizeTag = (options: ExportOptions) => `-${options.inches ?? DEFAULT_INCHES}in`;

export function exportSvgFile(figure: FigureSpec, options: ExportOptions = {}): void {
  download(
    `${figureFileStem(figure)}${sizeTag(options)}.svg`,
    new Blob([svgText(exportSvg(figure, options))], { type: 'image/svg+xml' }),
  );
}

/** Pixel size of a PNG of a figure `width` x `height` points (1/72 inch) at `dpi`. */
export function pngSize(width: number, height: number, dpi: number): { width: number; height: number } {
  return { width: Math.round((width * dpi) / 72), height: Math.round((height * dpi) / 72) };
}

export async function exportPngFile(
  figure: FigureSpec,
  dpi: number,
  options: ExportOptions = {},
): Promise<void> {
  const svg = exportSvg(figure, options);
  const points = pointSize(svg);
  const size = pngSize(points.width, points.height, dpi);
  const url = URL.createObjectURL(new Blob([svgText(svg)], { type: 'image/svg+xml' }));
  try {
    const image = new Image();
    image.src = url;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = size.width;
    canvas.height = size.height;
    const context = canvas.getContext('2d');
    if (!context) throw new Error('this browser has no 2-D canvas for the PNG export');
    context.drawImage(image, 0, 0, size.width, size.height);
    const blob = await new Promise<Blob | null>((done) => canvas.toBlob(done, 'image/png'));
    if (!blob)
      throw new Error(
        `the PNG at ${dpi} DPI (${size.width} x ${size.height} px) is too large for this browser`,
      );
    download(`${figureFileStem(figure)}${sizeTag(options)}-${dpi}dpi.png`, await withDpi(blob, dpi));
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** Writes the DPI into the PNG (a pHYs chunk after IHDR) so layout programs size it right. */
async function withDpi(png: Blob, dpi: number): Promise<Blob> {
  const bytes = new Uint8Array(await png.arrayBuffer());
  const ppm = Math.round(dpi / 0.0254);
  const chunk = new Uint8Array(21);
  const view = new DataView(chunk.buffer);
  view.setUint32(0, 9);
  chunk.set([0x70, 0x48, 0x59, 0x73], 4); // "pHYs"
  view.setUint32(8, ppm);
  view.setUint32(12, ppm);
  chunk[16] = 1; // unit: metre
  view.setUint32(17, crc32(chunk.subarray(4, 17)));
  const ihdrEnd = 8 + 25; // signature + IHDR (length, type, 13 bytes, crc)
  return new Blob([bytes.subarray(0, ihdrEnd), chunk, bytes.subarray(ihdrEnd)], { type: 'image/png' });
}

let crcTable: Uint32Array | null = null;
function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of data) crc = crcTable[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * Text the PDF's standard Helvetica can show (WinAnsi): the minus sign becomes an en dash of the same
 * width, other characters outside it a question mark (jsPDF would otherwise garble the whole line).
 */
export function pdfText(text: string): string {
  return text
    .replace(/\u2212/g, '\u2013')
    .replace(
      /[^\u0020-\u007e\u00a0-\u00ff\u2013\u2014\u2018\u2019\u201c\u201d\u2020\u2021\u2022\u2026\u2030\u20ac\u2122]/g,
      '?',
    );
}

export async function exportPdfFile(figure: FigureSpec, options: ExportOptions = {}): Promise<void> {
  const svg = exportSvg(figure, options);
  const { width, height } = pointSize(svg);
  for (const text of Array.from(svg.querySelectorAll('text, tspan')))
    for (const child of Array.from(text.childNodes))
      if (child.nodeType === Node.TEXT_NODE) child.textContent = pdfText(child.textContent ?? '');
  // svg2pdf reads computed geometry, so the SVG is attached (off screen) while it converts.
  const holder = document.createElement('div');
  holder.style.position = 'fixed';
  holder.style.left = '-10000px';
  holder.append(svg);
  document.body.append(holder);
  try {
    // The page is the figure's physical size exactly, in points (jsPDF swaps the sides unless told the orientation).
    const doc = new jsPDF({
      orientation: width > height ? 'landscape' : 'portrait',
      unit: 'pt',
      format: [width, height],
    });
    doc.setProperties({
      title: pdfText(figure.meta.title),
      subject: `experiments ${figure.meta.experimentIds.join(', ')}; spec ${figure.meta.specHashes.join(', ')}`,
      creator: 'Subliminal Lab',
    });
    await svg2pdf(svg, doc, { x: 0, y: 0, width, height });
    download(`${figureFileStem(figure)}${sizeTag(options)}.pdf`, doc.output('blob'));
  } finally {
    holder.remove();
  }
}

export function exportCsvFile(figure: FigureSpec): void {
  download(`${figureFileStem(figure)}.csv`, new Blob([figureCsv(figure)], { type: 'text/csv' }));
}

export function exportSeedsCsvFile(figure: Extract<FigureSpec, { kind: 'bars' }>): void {
  download(`${figureFileStem(figure)}-seeds.csv`, new Blob([seedsCsv(figure)], { type: 'text/csv' }));
}

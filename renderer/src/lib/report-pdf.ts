// The report as a PDF on A4 portrait: the figures as vectors (svg2pdf, as the figure export), the
// tables with jspdf-autotable (header repeated on each page, rows wrapped, never split), the spec in
// a monospace font, and page numbers. All text is real PDF text in the standard fonts.
import { jsPDF } from 'jspdf';
import { autoTable } from 'jspdf-autotable';
import { svg2pdf } from 'svg2pdf.js';
import { displayRows, type ReportModel, type ReportTable } from '../../../app/report.ts';

const MARGIN = 40;
const INK: [number, number, number] = [27, 31, 36];
const MUTED: [number, number, number] = [92, 101, 112];

/** The standard PDF fonts cover Latin-1: typographic marks become their plain forms, the rest "?". */
export function pdfSafe(text: string): string {
  return text
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/[\u2212\u2013\u2014]/g, '-')
    .replace(/\u0394 ?/g, 'diff ')
    .replace(/\u2191 ?| ?\u2192/g, '')
    .replace(/[^\n\u0020-\u007e\u00a0-\u00ff]/g, '?');
}

class Layout {
  y = MARGIN;
  readonly width: number;
  readonly height: number;

  constructor(readonly doc: jsPDF) {
    this.width = doc.internal.pageSize.getWidth();
    this.height = doc.internal.pageSize.getHeight();
  }

  get contentWidth(): number {
    return this.width - 2 * MARGIN;
  }

  /** Starts a new page unless `needed` points still fit on this one. */
  room(needed: number): void {
    if (this.y + needed > this.height - MARGIN) {
      this.doc.addPage();
      this.y = MARGIN;
    }
  }

  text(
    text: string,
    size: number,
    options: { bold?: boolean; color?: [number, number, number]; font?: string } = {},
  ): void {
    const { doc } = this;
    doc.setFont(options.font ?? 'helvetica', options.bold ? 'bold' : 'normal');
    doc.setFontSize(size);
    doc.setTextColor(...(options.color ?? INK));
    const lineHeight = size * 1.3;
    for (const line of doc.splitTextToSize(pdfSafe(text), this.contentWidth) as string[]) {
      this.room(lineHeight);
      doc.text(line, MARGIN, this.y + size);
      this.y += lineHeight;
    }
  }

  heading(text: string): void {
    this.room(60); // a heading is never the last line of a page
    this.y += 10;
    this.text(text, 13, { bold: true });
    this.doc.setDrawColor(214, 218, 224);
    this.doc.line(MARGIN, this.y + 1, this.width - MARGIN, this.y + 1);
    this.y += 6;
  }

  table(t: ReportTable): void {
    const { doc } = this;
    autoTable(doc, {
      head: [t.columns.map(pdfSafe)],
      body: displayRows(t).map((r) => r.cells.map(pdfSafe)),
      startY: this.y,
      margin: { left: MARGIN, right: MARGIN, top: MARGIN, bottom: MARGIN },
      theme: 'striped',
      rowPageBreak: 'avoid',
      styles: { font: 'helvetica', fontSize: 7.5, cellPadding: 2.5, textColor: INK, overflow: 'linebreak' },
      headStyles: { fillColor: [230, 233, 237], textColor: INK, fontStyle: 'bold' },
      alternateRowStyles: { fillColor: [247, 248, 250] },
      columnStyles: {
        ...Object.fromEntries(t.numeric.map((i) => [i, { halign: 'right' as const }])),
        ...(t.kind === 'fields' ? { 0: { cellWidth: 120, textColor: MUTED } } : {}),
        ...(t.grouped ? { 0: { fontStyle: 'bold' as const } } : {}),
      },
      // Column styles do not reach the header: numbers' headers align with their numbers.
      didParseCell: ({ section, column, cell }) => {
        if (section === 'head' && t.numeric.includes(column.index)) cell.styles.halign = 'right';
      },
    });
    this.y = (doc as unknown as { lastAutoTable: { finalY: number } }).lastAutoTable.finalY + 6;
    t.notes.forEach((note, i) => this.text(`[${i + 1}] ${note}`, 7.5, { color: MUTED }));
  }

  /** An SVG figure as vectors, scaled to the text width (or to a page's height, if taller). */
  async figure(svg: SVGSVGElement): Promise<void> {
    // Exported figures say their size in inches; their viewBox is in points, as this page is.
    const [, , w = 0, h = 0] = (svg.getAttribute('viewBox') ?? '').split(' ').map(Number);
    const scale = Math.min(this.contentWidth / w, (this.height - 2 * MARGIN) / h);
    this.room(h * scale);
    // svg2pdf reads computed geometry, so the SVG is attached (off screen) while it converts.
    const holder = document.createElement('div');
    holder.style.position = 'fixed';
    holder.style.left = '-10000px';
    holder.append(svg);
    document.body.append(holder);
    // The figure's text in the standard fonts' Latin-1, and in their regular weight (svg2pdf keeps
    // the document's current font where the SVG names no weight).
    const walker = document.createTreeWalker(svg, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode())
      node.textContent = pdfSafe(node.textContent ?? '');
    this.doc.setFont('helvetica', 'normal');
    try {
      await svg2pdf(svg, this.doc, { x: MARGIN, y: this.y, width: w * scale, height: h * scale });
    } finally {
      holder.remove();
    }
    this.y += h * scale + 12;
  }
}

function footers(doc: jsPDF, title: string): void {
  const pages = doc.getNumberOfPages();
  for (let page = 1; page <= pages; page++) {
    doc.setPage(page);
    doc.setFont('helvetica', 'normal');
    doc.setFontSize(7.5);
    doc.setTextColor(...MUTED);
    const height = doc.internal.pageSize.getHeight();
    doc.text(pdfSafe(`Subliminal Lab report: ${title}`), MARGIN, height - MARGIN / 2);
    doc.text(`page ${page} of ${pages}`, doc.internal.pageSize.getWidth() - MARGIN, height - MARGIN / 2, {
      align: 'right',
    });
  }
}

export async function reportPdf(
  model: ReportModel,
  figures: readonly SVGSVGElement[],
  figureNote: string | null,
): Promise<Blob> {
  const doc = new jsPDF({ unit: 'pt', format: 'a4', orientation: 'portrait', compress: true });
  doc.setProperties({
    title: pdfSafe(`Subliminal Lab report: ${model.title}`),
    subject: `spec ${model.specHash}`,
    creator: 'Subliminal Lab',
  });
  const page = new Layout(doc);
  page.text(model.title, 18, { bold: true });
  page.text(model.summary, 8.5, { color: MUTED });
  page.text(
    `Report generated ${model.generatedAt} by Subliminal Lab. Machine and software below are those of the run, recorded when it started.`,
    8.5,
    { color: MUTED },
  );
  for (const warning of model.warnings) page.text(warning, 8.5, { color: [140, 29, 24] });
  page.heading('Figures');
  for (const svg of figures) await page.figure(svg);
  if (figureNote) page.text(figureNote, 8.5, { color: MUTED });
  for (const section of model.sections) {
    page.heading(section.title);
    for (const paragraph of section.text) {
      page.text(paragraph, 8.5);
      page.y += 3;
    }
    if (section.table) page.table(section.table);
    else page.text('None.', 8.5, { color: MUTED });
  }
  page.heading('Spec');
  page.text(`The full experiment spec as stored (defaults filled in); spec hash ${model.specHash}.`, 8.5);
  page.text(model.specJson, 7, { font: 'courier' });
  footers(doc, model.title);
  return doc.output('blob');
}

// The report as one self-contained HTML file: inline CSS, the figures as inline SVG, no scripts and
// nothing fetched, so it opens anywhere and prints on A4 or US Letter.
import { displayRows, type ReportModel, type ReportSection, type ReportTable } from './report.ts';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

export interface ReportFigure {
  title: string;
  /** One <svg> element as text (an XML prolog, if any, is dropped). */
  svg: string;
}

const STYLE = `
:root { color-scheme: light; }
body { margin: 0; background: #fff; color: #1b1f24; font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 28px 32px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #d6dae0; }
p { margin: 6px 0; }
.muted { color: #5c6570; }
.warning { border: 1px solid #b3261e; background: #fdecea; color: #8c1d18; padding: 6px 10px; border-radius: 4px; }
figure { margin: 12px 0 20px; break-inside: avoid; }
figure svg { display: block; max-width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 12px; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #e3e6ea; vertical-align: top; }
th { border-bottom: 1.5px solid #1b1f24; font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #f5f6f8; }
table.grid tr.group-start:not(:first-child) td { border-top: 1px solid #8a939e; }
table.grid tr.group-start td:first-child { font-weight: 600; }
table.fields td:first-child { width: 14em; color: #5c6570; }
tr { break-inside: avoid; }
ol.notes { margin: 4px 0 0; padding-left: 22px; font-size: 12px; color: #5c6570; }
pre { background: #f5f6f8; border: 1px solid #e3e6ea; padding: 10px; font-size: 11px; line-height: 1.35; white-space: pre-wrap; word-break: break-word; }
@page { size: A4 portrait; margin: 14mm; }
@media print { main { max-width: none; padding: 0; } h2 { break-after: avoid; } }
`;

function table(t: ReportTable): string {
  const cls = (i: number) => (t.numeric.includes(i) ? ' class="num"' : '');
  const head = t.columns.map((c, i) => `<th${cls(i)}>${escapeHtml(c)}</th>`).join('');
  const body = displayRows(t)
    .map(
      ({ cells, groupStart }) =>
        `<tr${groupStart ? ' class="group-start"' : ''}>${cells.map((cell, i) => `<td${cls(i)}>${escapeHtml(cell)}</td>`).join('')}</tr>`,
    )
    .join('\n');
  const notes = t.notes.length
    ? `<ol class="notes">${t.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ol>`
    : '';
  return `<table class="${t.kind}">\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>${notes}`;
}

function section(s: ReportSection): string {
  const slug = s.title.toLowerCase().replace(/\W+/g, '-');
  return [
    `<section id="${slug}">`,
    `<h2>${escapeHtml(s.title)}</h2>`,
    ...s.text.map((p) => `<p>${escapeHtml(p)}</p>`),
    s.table ? table(s.table) : '<p class="muted">None.</p>',
    '</section>',
  ].join('\n');
}

function figure(f: ReportFigure): string {
  const svg = f.svg.replace(/^\s*<\?xml[^>]*\?>\s*/, '');
  if (!/^<svg[\s>]/.test(svg)) throw new Error(`the figure "${f.title}" is not an <svg> element`);
  return `<figure aria-label="${escapeHtml(f.title)}">\n${svg}\n</figure>`;
}

export function reportHtml(
  model: ReportModel,
  figures: readonly ReportFigure[],
  figureNote: string | null,
): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(`Subliminal Lab report: ${model.title}`)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<header>
<h1>${escapeHtml(model.title)}</h1>
<p class="muted">${escapeHtml(model.summary)}</p>
<p class="muted">Report generated ${escapeHtml(model.generatedAt)} by Subliminal Lab. Machine and software below are those of the run, recorded when it started.</p>
</header>
${model.warnings.map((w) => `<p class="warning">${escapeHtml(w)}</p>`).join('\n')}
<section id="figures">
<h2>Figures</h2>
${figures.map(figure).join('\n')}
${figureNote ? `<p class="muted">${escapeHtml(figureNote)}</p>` : ''}
</section>
${model.sections.map(section).join('\n')}
<section id="spec">
<h2>Spec</h2>
<p>The full experiment spec as stored (defaults filled in); its hash (SHA-256 of its canonical JSON without name, description and tags) is ${escapeHtml(model.specHash)}.</p>
<pre>${escapeHtml(model.specJson)}</pre>
</section>
</main>
</body>
</html>
`;
}

// "Export report": one experiment's report as a self-contained HTML file and an A4 PDF, both made from
// the same model (app/report.ts) and the same export SVGs the figure buttons save.
import type { ExperimentDetail, SeriesData } from '../../../app/api.ts';
import type { HeatAxis } from '../../../app/figures.ts';
import { reportFigures, reportFileStem, reportModel } from '../../../app/report.ts';
import { reportHtml } from '../../../app/report-html.ts';
import { download, exportSvg } from './export.ts';
import { svgText } from './figure-render.ts';
import { reportPdf } from './report-pdf.ts';

export interface ReportChoice {
  heatX?: HeatAxis;
  heatY?: HeatAxis;
  metric?: string;
}

export async function exportReport(
  detail: ExperimentDetail,
  series: readonly SeriesData[],
  choice: ReportChoice,
): Promise<void> {
  const generatedAt = new Date().toISOString();
  const model = reportModel(detail, generatedAt);
  const { figures, note } = reportFigures(detail, series, choice);
  // Full page width (7 in), laid out in points like every figure export.
  const svgs = figures.map((f) => exportSvg(f));
  const html = reportHtml(
    model,
    figures.map((f, i) => ({ title: f.meta.title, svg: svgText(svgs[i]!) })),
    note,
  );
  const pdf = await reportPdf(model, svgs, note);
  const stem = reportFileStem(detail);
  download(`${stem}.html`, new Blob([html], { type: 'text/html' }));
  download(`${stem}.pdf`, pdf);
}

// "Export report": one experiment's report as a self-contained HTML file and an A4 PDF, both made from
// the same model (app/report.ts) and the same export SVGs the figure buttons save.
import type { ExperimentDetail, SeriesData } from '../../../app/api.ts';
import type { HeatAxis } from '../../../app/figures.ts';
import { reportFigures, reportFileStem, reportModel, type ReportModel } from '../../../app/report.ts';
import { reportHtml } from '../../../app/report-html.ts';
import { languageHeatmapFigure, languageReportModel } from '../../../app/language-report.ts';
import { languageBarsSvg } from '../../../app/language-figure.ts';
import { leverAxes, leverFigure, leverMeasures } from '../../../app/language-lever.ts';
import type { LmExperimentSummary } from '../../../app/language-results.ts';
import { llmHeatmapFigure, llmReportModel } from '../../../app/llm/report.ts';
import type { LlmJobProgress } from '../../../app/llm/results.ts';
import { download, exportSvg } from './export.ts';
import { svgText } from './figure-render.ts';
import { reportPdf } from './report-pdf.ts';

export interface ReportChoice {
  heatX?: HeatAxis;
  heatY?: HeatAxis;
  metric?: string;
}

type ReportFigure = { title: string; element: SVGSVGElement };

/** Writes the model and its figures as the HTML file and the PDF, both downloaded. */
async function saveReport(
  detail: ExperimentDetail,
  model: ReportModel,
  figures: readonly ReportFigure[],
  note: string | null,
): Promise<void> {
  const html = reportHtml(
    model,
    figures.map((f) => ({ title: f.title, svg: svgText(f.element) })),
    note,
  );
  const pdf = await reportPdf(
    model,
    figures.map((f) => f.element),
    note,
  );
  const stem = reportFileStem(detail);
  download(`${stem}.html`, new Blob([html], { type: 'text/html' }));
  download(`${stem}.pdf`, pdf);
}

/**
 * Each swept lever's figure (its first slice: the cells that differ in it alone) on the logit measure
 * and on the sampled rate, with the channel check at each value.
 */
function leverFigures(detail: ExperimentDetail, summary: LmExperimentSummary) {
  const measures = leverMeasures(summary).filter((m) => m === 'animal_prob' || m === 'target_rate');
  return leverAxes(summary).flatMap((axis) =>
    measures.map((measure) => {
      const figure = leverFigure(detail, summary, { path: axis.path, measure });
      return { title: figure.meta.title, element: exportSvg(figure) };
    }),
  );
}

/**
 * A language experiment's report: its bars per cell (the markup Results shows and its SVG button
 * saves), each lever's figure and the answers heatmap of each model, with the same sections as any
 * report and the channel check's.
 */
async function exportLanguageReport(detail: ExperimentDetail): Promise<void> {
  const summary = detail.language!;
  const model = languageReportModel(detail, new Date().toISOString());
  const bars = summary.cells.map((cell) => ({
    title: `Target rates: ${cell.label}`,
    element: new DOMParser().parseFromString(languageBarsSvg(summary, cell, detail.specHash), 'image/svg+xml')
      .documentElement as unknown as SVGSVGElement,
  }));
  const heatmaps = (['student', 'own_numbers', 'cross_model'] as const).map((m) => {
    const figure = languageHeatmapFigure(detail, summary, m);
    return { title: figure.meta.title, element: exportSvg(figure) };
  });
  await saveReport(detail, model, [...bars, ...leverFigures(detail, summary), ...heatmaps], null);
}

/**
 * An llm experiment's report: rates, paired tests, the provider's jobs (`jobs`, from llm.progress)
 * and the answers heatmap of each condition that has answers. No key is in any of it: none is stored.
 */
export async function exportLlmReport(
  detail: ExperimentDetail,
  jobs: readonly LlmJobProgress[],
): Promise<void> {
  const model = llmReportModel(detail, jobs, new Date().toISOString());
  const conditions = [...new Set((detail.llm ?? []).flatMap((c) => Object.keys(c.answers ?? {})))];
  const figures = conditions.map((c) => {
    const figure = llmHeatmapFigure(detail, c);
    return { title: figure.meta.title, element: exportSvg(figure) };
  });
  await saveReport(detail, model, figures, null);
}

export async function exportReport(
  detail: ExperimentDetail,
  series: readonly SeriesData[],
  choice: ReportChoice,
): Promise<void> {
  if (detail.language) return exportLanguageReport(detail);
  const model = reportModel(detail, new Date().toISOString());
  const { figures, note } = reportFigures(detail, series, choice);
  // Full page width (7 in), laid out in points like every figure export.
  await saveReport(
    detail,
    model,
    figures.map((f) => ({ title: f.meta.title, element: exportSvg(f) })),
    note,
  );
}

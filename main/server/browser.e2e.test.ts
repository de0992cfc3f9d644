// The app end to end in Debian's Chromium against `sublab serve`: design a small matrix, run it,
// watch it, read the results, export every format, replay, reload, a wrong token, and a cluster
// experiment's units collected from the Library.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import type { Browser, Page } from 'playwright-core';
import { RunStore } from '../store/store.ts';
import { summarizeExperiment } from '../jobs/summary.ts';
import { aggregateSeries } from '../../app/series.ts';
import { expandMatrix, replicateSeeds } from '../../app/matrix.ts';
import { escapeHtml } from '../../app/report-html.ts';
import { specText } from '../../app/report.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import { runUnit } from '../cluster/run-unit.ts';
import { runExperiment } from '../jobs/run-experiment.ts';
import { prepareSubmission } from '../cluster/submit.ts';
import {
  browserSkip,
  downloadAll,
  openSession,
  resultsWhenDone,
  screenshots,
  startJob,
  until,
  type BrowserSession,
} from './testing/browser-session.ts';

const skip = browserSkip();

let session: BrowserSession | undefined;
let dir = '';
let db = '';
let downloads = '';
let url = '';
let browser: Browser;
let page: Page;
let experimentId = 0;
const timings: Record<string, number> = {};

async function timed<T>(label: string, action: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await action();
  } finally {
    timings[label] = (performance.now() - t0) / 1000;
  }
}

/** Full-page screenshots in both themes, with SUBLAB_E2E_SCREENSHOTS (testing/browser-session.ts). */
const shot = (name: string) => screenshots(page, name);

async function download(click: () => Promise<void>): Promise<{ name: string; bytes: Buffer }> {
  const [file] = await Promise.all([page.waitForEvent('download'), click()]);
  const path = join(downloads, file.suggestedFilename());
  await file.saveAs(path);
  return { name: file.suggestedFilename(), bytes: readFileSync(path) };
}

/** With SUBLAB_E2E_SCREENSHOTS, the page at the test's size and at 1440x900 (each in both themes). */
async function themedShots(name: string): Promise<void> {
  await shot(name);
  if (!process.env['SUBLAB_E2E_SCREENSHOTS']) return;
  const size = page.viewportSize()!;
  await page.setViewportSize({ width: 1440, height: 900 });
  await new Promise((r) => setTimeout(r, 300)); // charts follow the new width
  await shot(`${name}-1440`);
  await page.setViewportSize(size);
}

/**
 * The teacher's and the students' curves on separate panels, each chart at least 300 px tall; the
 * legend shows a number without a hover; the log toggle puts the losses on a log axis and back.
 */
async function checkPhaseCharts(prefix: 'live' | 'replay'): Promise<void> {
  for (const panel of ['teacher', 'student']) {
    await page.getByTestId(`${prefix}-${panel}-panel`).waitFor();
    for (const metric of ['loss', 'accuracy']) {
      const chart = page.getByTestId(`${prefix}-${panel}-${metric}`).locator('.uplot');
      const box = await chart.boundingBox();
      assert.ok(
        box && box.height >= 300 && box.width >= 400,
        `${prefix} ${panel} ${metric}: ${JSON.stringify(box)}`,
      );
    }
  }
  const teacherLoss = page.getByTestId(`${prefix}-teacher-loss`);
  const value = teacherLoss
    .getByTestId(`${prefix}-teacher-loss-legend`)
    .locator('[data-condition=teacher] .value');
  assert.match(await value.innerText(), /^\d+(\.\d+)?(e-?\d+)?$/);
  assert.equal(await teacherLoss.getAttribute('data-scale'), 'linear');
  await page.getByTestId(`${prefix}-log`).check();
  await until(async () => (await teacherLoss.getAttribute('data-scale')) === 'log', 'a log loss axis');
  assert.equal(await page.getByTestId(`${prefix}-student-loss`).getAttribute('data-scale'), 'log');
  assert.equal(await page.getByTestId(`${prefix}-teacher-accuracy`).getAttribute('data-scale'), 'linear');
  await shot(`${prefix}-log`);
  await page.getByTestId(`${prefix}-log`).uncheck();
  await until(async () => (await teacherLoss.getAttribute('data-scale')) === 'linear', 'a linear loss axis');
}

/** The text of a PDF's content streams, inflated where they are compressed. */
function pdfStreams(pdf: Buffer): string {
  const out: string[] = [];
  let at = 0;
  for (;;) {
    const start = pdf.indexOf('stream', at);
    if (start < 0) break;
    const begin = start + (pdf[start + 6] === 0x0d ? 8 : 7);
    const end = pdf.indexOf('endstream', begin);
    const data = pdf.subarray(begin, end);
    const dict = pdf.subarray(pdf.lastIndexOf('<<', start), start).toString('latin1');
    try {
      out.push((dict.includes('FlateDecode') ? inflateSync(data) : data).toString('latin1'));
    } catch {
      // A binary stream that is not text (a font): nothing to read.
    }
    at = end + 9;
  }
  return out.join('\n');
}

/** A PDF's text with its Flate streams inflated (jsPDF may compress them). */
function pdfContent(bytes: Buffer): string {
  const text = bytes.toString('latin1');
  return text.replace(
    /(\/FlateDecode[^]*?stream\r?\n)([^]*?)(\r?\nendstream)/g,
    (_, head: string, body: string, tail: string) =>
      head + inflateSync(Buffer.from(body, 'latin1')).toString('latin1') + tail,
  );
}

/**
 * The font families of an SVG and its smallest type in points at its physical size: every text is
 * measured in the browser (inherited sizes included), scaled by the SVG's width in inches over its viewBox.
 */
async function svgType(svg: string): Promise<{ families: string[]; smallest: number; texts: number }> {
  const families = [...svg.matchAll(/font-family(?:="|\s*:\s*)([^";]+)/g)].map((m) => m[1]!.trim());
  const measured = (await page.evaluate(`(() => {
    const doc = new DOMParser().parseFromString(${JSON.stringify(svg)}, 'image/svg+xml');
    const root = document.importNode(doc.documentElement, true);
    const holder = document.createElement('div');
    holder.append(root);
    document.body.append(holder);
    const inches = parseFloat(root.getAttribute('width'));
    const pt = (inches * 72) / root.viewBox.baseVal.width;
    const sizes = [...root.querySelectorAll('text')]
      .filter((t) => t.textContent.trim() !== '')
      .map((t) => parseFloat(getComputedStyle(t).fontSize) * pt);
    const computed = [...new Set([...root.querySelectorAll('text')].map((t) => getComputedStyle(t).fontFamily))];
    holder.remove();
    return { sizes, computed };
  })()`)) as { sizes: number[]; computed: string[] };
  assert.equal(measured.computed.length, 1, `computed families: ${measured.computed.join(' / ')}`);
  return {
    families: [...new Set(families)],
    smallest: Math.min(...measured.sizes),
    texts: measured.sizes.length,
  };
}

before(async () => {
  if (skip) return;
  session = await openSession();
  ({ url, page, browser, dir, db } = session);
  downloads = join(dir, 'downloads');
});

after(async () => {
  await session?.close();
  if (Object.keys(timings).length)
    console.log(
      `e2e timings (s): ${JSON.stringify(timings, (_, v: unknown) => (typeof v === 'number' ? Number(v.toFixed(2)) : v))}`,
    );
});

test('a wrong session token is refused', { skip }, async () => {
  await timed('wrong token', async () => {
    await page.goto(url.replace(/token=[\w-]+/, 'token=not-the-token'));
    await page.getByTestId('refused').waitFor();
    assert.match(await page.getByTestId('refused').innerText(), /session token is wrong or missing/);
  });
});

test('design a small matrix in the Designer, with inline errors, and run it', { skip }, async () => {
  await timed('design', async () => {
    await page.goto(url);
    const field = (label: string) => page.getByLabel(label, { exact: true });
    // A first visit opens on the quick demo, not on hours of paper-sized work.
    assert.match(await field('Name').inputValue(), /^quick/);
    // experiments/quick.json: 8 replicates, a teacher and 4 students each.
    assert.match(await page.getByTestId('matrix-size').innerText(), /^1 cell, 40 model runs/);
    await page.getByRole('button', { name: 'Paper setup' }).click();
    assert.match(await page.getByTestId('matrix-size').innerText(), /^1 cell, 500 model runs/);
    await field('Name').fill('e2e: two filters');
    await field('Seeds (replicates per cell)').fill('1');
    await page.locator('#field-replicates-error').waitFor();
    assert.match(await page.locator('#field-replicates-error').innerText(), /2/);
    assert.equal(await page.getByTestId('run').isDisabled(), true);
    // The error is said once, beside its field (no list repeats it), and "show the first" focuses it.
    assert.equal(await page.getByTestId('spec-errors').count(), 0);
    await page.getByTestId('problems').click();
    assert.equal(await page.evaluate('document.activeElement?.id'), 'field-replicates');
    await field('Seeds (replicates per cell)').fill('2');
    await field('Training digits (rest are test)').fill('2000');
    await field('Test images (blank: all)').fill('500');
    await field('Teacher epochs').fill('3');
    await field('Teacher batch size').fill('128');
    await field('Student epochs').fill('2');
    await field('Student batch size').fill('128');
    await field('Noise / input count').fill('3072');
    await field('Record loss every N steps').fill('1');
    // The recipe knobs are labelled fields with their one-line help; SGD brings its momentum.
    const optimiser = page.getByLabel('Student optimiser', { exact: true });
    assert.equal(await optimiser.inputValue(), 'adam');
    await optimiser.selectOption('sgd');
    await page.getByLabel('Student SGD momentum', { exact: true }).waitFor();
    await optimiser.selectOption('adam');
    assert.equal(await page.getByLabel('Student SGD momentum', { exact: true }).count(), 0);
    assert.match(await page.getByTestId('recipe-fields').innerText(), /decoupled for AdamW/);
    await page.getByLabel('all logits', { exact: true }).check();
    await page.getByTestId('matrix-size').getByText('2', { exact: true }).first().waitFor();
    assert.match(await page.getByTestId('matrix-size').innerText(), /2 cells, 18 model runs/);
    // 2,000 digits at batch 128 for 3 epochs is 48 teacher steps: the Designer says it is few.
    assert.match(await page.getByTestId('phase-steps').innerText(), /Teacher: 16 steps per epoch, 48 in all/);
    assert.equal(await page.getByTestId('few-steps').count(), 2);
    // the memory estimate beside the time, and no warning at this size
    assert.match(await page.getByTestId('memory-estimate').innerText(), /^~[\d.]+ [KMG]iB per trainer$/);
    assert.equal(await page.getByTestId('memory-warning').count(), 0);
    await shot('designer');
  });
  await timed('run until done', async () => {
    await page.getByTestId('run').click();
    // The status first: the job takes seconds, and the live charts wait for its first points.
    // While it runs (a few seconds), the job's ETA is a duration from the start, never "estimating...".
    const status = page.getByTestId('job-status').first();
    let seen = '';
    await until(async () => {
      seen = await status.innerText();
      return /^running, about /.test(seen) || /^(done|failed)/.test(seen);
    }, 'the job running with its ETA');
    assert.match(seen, /^running, about (\d+ (s|min)|[\d.]+ h) left$/);
    await page.getByTestId('live-teacher-loss').waitFor();
    // The live curves move: the point count grows while the job runs.
    const points = () => page.getByTestId('live-teacher-loss').getAttribute('data-points').then(Number);
    await until(async () => (await points()) > 0, 'the first live points');
    const first = await points();
    // More points arrive while it runs; a fast machine may finish first, then the count holds.
    await until(
      async () => (await points()) > first || !/^running/.test(await status.innerText()),
      'more live points or the end of the job',
    );
    assert.ok((await points()) >= first);
    const progressed = async () =>
      (
        await page
          .locator('progress')
          .evaluateAll((els) => els.map((e) => (e as unknown as { value: number }).value))
      ).some((v) => v > 0);
    await until(progressed, 'a phase progress bar to move');
    await checkPhaseCharts('live');
    // Both filters share one teacher: one row names both cells, not a teacher row per cell.
    const teacherRows = page.locator('[data-testid=phase-progress][data-phase=teacher]');
    assert.equal(await teacherRows.count(), 1);
    assert.equal(await teacherRows.getAttribute('data-cells'), '0,1');
    assert.match(await teacherRows.innerText(), /cells 1, 2 \(one shared teacher\)/);
    await page
      .locator('[data-testid=phase-progress][data-phase=students]')
      .first()
      .waitFor({ timeout: 120_000 });
    await until(
      async () => (await page.getByTestId('live-student-loss').getAttribute('data-points')) !== '0',
      'student points',
    );
    await themedShots('run');
    await page.locator('[data-testid^=job-][data-status=done]').waitFor({ timeout: 240_000 });
    const rows = await page
      .locator('[data-testid=phase-progress]')
      .evaluateAll((els) =>
        els.map((e) => `${e.getAttribute('data-phase')} ${e.getAttribute('data-cells')}`),
      );
    assert.deepEqual(rows, ['teacher 0,1', 'students 0', 'students 1']);
  });
  const store = new RunStore(db);
  try {
    const experiments = store.listExperiments();
    assert.equal(experiments.length, 1);
    assert.equal(experiments[0]!.status, 'done');
    assert.equal(experiments[0]!.name, 'e2e: two filters');
    experimentId = experiments[0]!.id;
  } finally {
    store.close();
  }
});

test('the Results figure, and its SVG, PNG, PDF and CSV exports', { skip }, async () => {
  const store = new RunStore(db);
  const summary = summarizeExperiment(store, experimentId);
  const results = store
    .cells(experimentId)
    .flatMap((c) => store.results(c.id).map((r) => ({ cell: c.index, ...r })));
  const specHash = store.getExperiment(experimentId)!.specHash;
  store.close();
  await timed('results figure', async () => {
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.getByRole('button', { name: 'Results' }).first().click();
    await page.getByTestId('figure-bars').locator('svg').first().waitFor();
    assert.match(await page.getByTestId('figure-bars').innerText(), /cross-init student/);
    // The representation analysis at the end: CKA bars of every student and control against its teacher.
    const analysis = page.getByTestId('figure-analysis');
    await analysis.locator('svg').first().waitFor();
    assert.match(await analysis.innerText(), /Linear CKA to the teacher, hidden layer 1/);
    assert.match(await analysis.innerText(), /cross-init student/);
    await shot('results');
    await page.getByRole('button', { name: 'Switch light or dark theme' }).click();
    await shot('results-dark');
    await page.getByRole('button', { name: 'Switch light or dark theme' }).click();
  });
  const bars = page.getByTestId('figure-bars');
  // The on-screen figure fills its panel: no empty fifth on the right.
  type Box = { getBoundingClientRect(): { width: number } };
  const widths = await bars.evaluate((el) => {
    const figure = el as unknown as Box & { querySelector(s: string): Box };
    return [figure.getBoundingClientRect().width, figure.querySelector('svg').getBoundingClientRect().width];
  });
  assert.ok(widths[1]! >= widths[0]! - 2, `the figure fills its panel: ${widths.join(' of ')} px`);

  // A single-column export: 3.3 in wide, laid out in points.
  await bars.getByLabel('Export size').selectOption('3.3');
  const svg = await timed('export svg', () =>
    download(() => bars.getByRole('button', { name: 'SVG' }).click()),
  );
  const svgText = svg.bytes.toString('utf8');
  assert.match(svgText, /^<\?xml[^>]*>\s*<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.ok(svgText.includes(specHash), 'the spec hash is in the SVG metadata');
  assert.match(svgText, new RegExp(`experiment-ids="${experimentId}"`));
  assert.match(svgText, /<text[^>]*>[^<]*teacher/);
  assert.match(svgText, /test accuracy/);
  assert.match(svgText, /<svg[^>]*\swidth="3\.3in"/);
  const [, , viewWidth, viewHeight] = /<svg[^>]*\sviewBox="([^"]+)"/
    .exec(svgText)![1]!
    .split(' ')
    .map(Number);
  assert.ok(Math.abs(viewWidth! - 3.3 * 72) < 1e-9, `viewBox width ${viewWidth} pt`);
  const heightIn = Number(/<svg[^>]*\sheight="([\d.]+)in"/.exec(svgText)![1]);
  assert.ok(
    Math.abs(heightIn * 72 - viewHeight!) < 0.01,
    'the height in inches is the viewBox height in points',
  );
  const type = await svgType(svgText);
  assert.deepEqual(type.families, ['Helvetica, Arial, sans-serif'], 'one font family, no system-ui');
  assert.ok(type.smallest >= 8 - 1e-3, `smallest type ${type.smallest} pt at the exported size`);
  assert.ok(type.texts > 20, `${type.texts} texts measured`);
  timings['smallest type (pt)'] = type.smallest;

  await bars.getByLabel('PNG resolution (DPI)').selectOption('300');
  const png = await timed('export png', () =>
    download(() => bars.getByRole('button', { name: 'PNG' }).click()),
  );
  assert.equal(png.bytes.subarray(1, 4).toString('latin1'), 'PNG');
  assert.equal(png.bytes.readUInt32BE(16), Math.round(3.3 * 300), 'PNG width: 3.3 in at 300 DPI');
  assert.equal(png.bytes.readUInt32BE(20), Math.round((viewHeight! * 300) / 72));
  assert.ok(png.bytes.includes(Buffer.from('pHYs')), 'the PNG records its DPI');

  const pdf = await timed('export pdf', () =>
    download(() => bars.getByRole('button', { name: 'PDF' }).click()),
  );
  const pdfText = pdfContent(pdf.bytes);
  assert.ok(pdfText.startsWith('%PDF-'));
  // The page is the figure's physical size: 3.3 in by its height, in points.
  const mediaBox = /\/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]/.exec(pdfText)!;
  assert.ok(Math.abs(Number(mediaBox[1]) - 3.3 * 72) < 0.01, `page width ${mediaBox[1]} pt`);
  assert.ok(Math.abs(Number(mediaBox[2]) - viewHeight!) < 0.01, `page height ${mediaBox[2]} pt`);
  assert.match(pdfText, /\/BaseFont\s*\/Helvetica/, 'a PDF font, not outlines');
  assert.match(pdfText, /\bBT\b[\s\S]*?\(teacher\) Tj/, 'labels are PDF text');
  assert.ok(pdfText.includes('(Test accuracy: e2e: two filters) Tj'), 'the title is PDF text');
  assert.match(pdfText, /\(diff [+\x96]\d\.\d{3}/, 'the paired difference is PDF text, its minus an en dash');
  assert.match(pdfText, /\d re\b|\d l\b/, 'bars and axes are PDF paths');
  assert.doesNotMatch(pdfText, /\/Subtype\s*\/Image/, 'no raster image of the chart');

  const csv = await timed('export csv', () =>
    download(() => bars.getByRole('button', { name: 'CSV', exact: true }).click()),
  );
  const rows = parse(csv.bytes.toString('utf8'), { columns: true }) as Record<string, string>[];
  const expected = summary.cells.flatMap((c) =>
    Object.entries(c.conditions).map(([condition, s]) => ({ condition, mean: s!.mean, n: s!.n })),
  );
  const pairRows = rows.filter((r) => r['condition'] === 'student_minus_cross_init');
  assert.equal(rows.length - pairRows.length, expected.length);
  // The paired difference drawn above each cell: in the CSV with its interval and p-values.
  const headlines = summary.cells.flatMap((c) =>
    c.comparisons.filter((x) => x.a === 'student' && x.b === 'cross_init'),
  );
  assert.equal(pairRows.length, headlines.length);
  for (const h of headlines) {
    const row = pairRows.find((r) => Number(r['mean_accuracy']) === h.meanDiff);
    assert.ok(row, `CSV has the paired difference ${h.meanDiff}`);
    assert.equal(Number(row['p_holm']), h.pHolm);
  }
  assert.match(svgText, /diff [+\u2212]\d\.\d{3}/, 'the paired difference is drawn as text');
  // The heatmap (one square per cell here) hatches a difference whose paired interval includes 0,
  // and its legend says what hatching means.
  const heatmap = page.getByTestId('figure-heatmap');
  const heatText = await heatmap.innerText();
  const crossing = summary.cells.filter((c) => {
    const h = c.comparisons.find((x) => x.a === 'student' && x.b === 'cross_init');
    return !h || !(h.low > 0 || h.high < 0);
  }).length;
  assert.equal(await heatmap.locator('rect[data-ci-includes-zero]').count(), crossing);
  if (crossing > 0) assert.match(heatText, /CI includes 0/);
  else assert.doesNotMatch(heatText, /CI includes 0/);
  assert.match(heatText, /[+\u2212]0\.\d{3}\s*N = 2/, 'each square writes its value and N');
  await heatmap.scrollIntoViewIfNeeded();
  await shot('results-heatmap');
  await page.getByTestId('paired-table').waitFor();
  assert.match(await page.getByTestId('paired-table').innerText(), /student minus cross-init/);
  for (const e of expected) {
    const row = rows.find((r) => r['condition'] === e.condition && Number(r['mean_accuracy']) === e.mean);
    assert.ok(row, `CSV has ${e.condition} = ${e.mean}`);
    assert.equal(Number(row['n']), e.n);
  }
  const seeds = await download(() => bars.getByRole('button', { name: 'per-seed CSV' }).click());
  const seedRows = parse(seeds.bytes.toString('utf8'), { columns: true }) as Record<string, string>[];
  assert.equal(seedRows.length, results.length);
  for (const r of results)
    assert.ok(
      seedRows.some(
        (s) =>
          s['condition'] === r.condition &&
          Number(s['replicate']) === r.replicate &&
          Number(s['accuracy']) === r.accuracy,
      ),
      `per-seed CSV has ${r.condition} replicate ${r.replicate}`,
    );
});

test(
  'Export report: one HTML file and one PDF with the figures, tables, spec, seeds and machine',
  { skip },
  async () => {
    const store = new RunStore(db);
    const stored = store.getExperiment(experimentId)!;
    const summary = summarizeExperiment(store, experimentId);
    store.close();
    await page.getByRole('button', { name: 'Results' }).first().click();
    const table = page.getByTestId('results-table');
    await table.waitFor();
    // Two cells share one teacher, and the all-logits cell's twins are one training: 8 rows, not 12.
    assert.equal(await table.locator('tbody tr').count(), 8);
    assert.equal(await table.locator('tbody tr[data-condition=teacher]').count(), 1);
    assert.match(await table.innerText(), /student \(same init\) = student, all logits/);
    await shot('results-table');

    const [html, pdf] = await timed('export report', () =>
      downloadAll(page, downloads, 2, () => page.getByRole('button', { name: 'Export report' }).click()),
    );
    assert.equal(html!.name, `sublab-report-${experimentId}-e2e-two-filters.html`);
    assert.equal(pdf!.name, `sublab-report-${experimentId}-e2e-two-filters.pdf`);
    const text = html!.bytes.toString('utf8');
    // Bars, heatmap and the test-accuracy curves of each cell, as inline vector SVG.
    const figures =
      text.match(/<figure aria-label="[^"]*">\n<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/g) ?? [];
    // The bars, one bar figure per representation-analysis metric, the heatmap, the curves per cell.
    const analysisFigures = new Set(summary.cells.flatMap((c) => (c.analysis ?? []).map((a) => a.metric)))
      .size;
    assert.ok(analysisFigures >= 2, 'CKA and the probe');
    assert.equal(figures.length, 2 + analysisFigures + summary.cells.length);
    assert.doesNotMatch(text, /<script|\ssrc=|\shref=/, 'self-contained');
    assert.match(text, /<th class="num">N<\/th>/);
    const teacher = summary.cells[0]!.conditions.teacher!;
    assert.ok(text.includes(`<td>teacher [1]</td><td class="num">${teacher.mean.toFixed(3)}</td>`));
    assert.ok(text.includes(`<td class="num">${teacher.n}</td>`));
    const headline = summary.cells[0]!.comparisons.find((c) => c.a === 'student' && c.b === 'cross_init')!;
    assert.match(text, /<td>student minus cross-init<\/td>/);
    assert.ok(text.includes(`${headline.meanDiff >= 0 ? '+' : ''}${headline.meanDiff.toFixed(3)}`));
    assert.match(text, /p \(Holm\)[\s\S]*Holm&#39;s step-down correction/);
    assert.ok(text.includes(escapeHtml(specText(stored.spec))), 'the full spec');
    assert.ok(text.includes(String(replicateSeeds(stored.spec)[1])), 'the seeds');
    // The machine is the one that ran it (this one: the server trained here), recorded at the start.
    assert.ok(text.includes(`<td>${escapeHtml(cpus()[0]!.model.trim())}</td>`), 'the CPU');
    assert.ok(text.includes(`<td>logical cores</td><td>${availableParallelism()}</td>`));
    assert.ok(text.includes(`<td>backend</td><td>wasm</td>`));

    const pdfBytes = pdf!.bytes;
    assert.equal(pdfBytes.subarray(0, 5).toString('latin1'), '%PDF-');
    const raw = pdfBytes.toString('latin1');
    const pages = raw.match(/\/Type\s*\/Page[^s]/g) ?? [];
    assert.ok(pages.length >= 3, `several A4 pages (${pages.length})`);
    assert.match(raw, /\/MediaBox\s*\[0 0 595\.2\d* 841\.8\d*\]/, 'A4 portrait');
    assert.doesNotMatch(raw, /\/Subtype\s*\/Image/, 'no raster images');
    const content = pdfStreams(pdfBytes);
    assert.ok(content.includes(`(#${experimentId} e2e: two filters) Tj`), 'the title is PDF text');
    assert.match(content, /\(p \\\(Holm\\\)\) Tj/, 'the Holm column');
    assert.match(content, /Holm's step-down correction/);
    assert.match(content, /\(student minus cross-init\) Tj/);
    assert.ok(content.includes('"replicates": 2'), 'the spec');

    // The HTML as a reader opens it: every figure drawn at a readable size.
    const reader = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    try {
      await reader.goto(`file://${join(downloads, html!.name)}`);
      const boxes = await reader
        .locator('figure svg')
        .evaluateAll((els) =>
          els.map((e) =>
            (
              e as unknown as { getBoundingClientRect(): { width: number; height: number } }
            ).getBoundingClientRect(),
          ),
        );
      assert.equal(boxes.length, figures.length);
      assert.ok(
        boxes.every((b) => b.width >= 600 && b.height >= 150),
        JSON.stringify(boxes),
      );
      const to = process.env['SUBLAB_E2E_SCREENSHOTS'];
      if (to) await reader.screenshot({ path: join(to, 'report-html.png'), fullPage: true });
    } finally {
      await reader.close();
    }
  },
);

test('the replay scrubber shows the curves at the chosen step', { skip }, async () => {
  const store = new RunStore(db);
  const series = aggregateSeries(store.experimentMetrics(experimentId));
  store.close();
  const teacherLoss = series.find((s) => s.cell === 0 && s.condition === 'teacher' && s.name === 'loss')!;
  const step = teacherLoss.steps[Math.floor(teacherLoss.steps.length / 2)]!;
  await timed('replay', async () => {
    await page.getByRole('button', { name: 'Replay' }).first().click();
    const scrubber = page.getByTestId('replay-scrubber');
    await scrubber.waitFor();
    await scrubber.fill(String(step));
    assert.equal(await page.getByTestId('replay-position').innerText(), `teacher step ${step}`);
    const row = page.locator('[data-testid=replay-readout] tr[data-condition=teacher][data-metric=loss]');
    assert.equal(await row.getAttribute('data-step'), String(step));
    const shown = Number(await row.locator('td').nth(3).innerText());
    const k = teacherLoss.steps.indexOf(step);
    assert.ok(Math.abs(shown - teacherLoss.mean[k]!) < 1e-4, `shown ${shown}, stored ${teacherLoss.mean[k]}`);
    // Named as the charts name it, and the interval as its ends, not a half-width.
    assert.equal(await row.locator('td').nth(1).innerText(), 'loss (cross-entropy)');
    const ends = /^\[([\d.e+-]+), ([\d.e+-]+)\]$/.exec(await row.locator('td').nth(4).innerText());
    assert.ok(ends, 'the 95% CI as [low, high]');
    const half = teacherLoss.ci95[k]!;
    assert.ok(Math.abs(Number(ends[1]) - (teacherLoss.mean[k]! - half)) < 1e-4, `low ${ends[1]}`);
    assert.ok(Math.abs(Number(ends[2]) - (teacherLoss.mean[k]! + half)) < 1e-4, `high ${ends[2]}`);
    // Students have not started at a teacher step.
    assert.equal(await page.locator('[data-testid=replay-readout] tr[data-condition=student]').count(), 0);
    await checkPhaseCharts('replay');
    // Without a hover the legend reads the value at the scrubber's step; on the chart, the cursor's.
    const chart = page.getByTestId('replay-teacher-loss');
    const legend = chart.getByTestId('replay-teacher-loss-legend');
    const legendValue = () => legend.locator('[data-condition=teacher] .value').innerText().then(Number);
    assert.ok(Math.abs((await legendValue()) / teacherLoss.mean[k]! - 1) < 1e-3);
    const box = (await chart.locator('.u-over').boundingBox())!;
    await page.mouse.move(box.x + box.width / 4, box.y + box.height / 2);
    await until(
      async () => /^at teacher step \d+$/.test(await legend.locator('span').first().innerText()),
      'the cursor step',
    );
    const at = Number(/\d+$/.exec(await legend.locator('span').first().innerText())![0]);
    assert.ok(at > 0 && at < step, `a quarter along the axis is before step ${step}: ${at}`);
    const atMean = teacherLoss.mean[teacherLoss.steps.indexOf(at)]!;
    assert.ok(
      Math.abs((await legendValue()) / atMean - 1) < 1e-3,
      `legend at step ${at} vs stored ${atMean}`,
    );
    // Off the chart it reads the latest again.
    await page.mouse.move(0, 0);
    await until(
      async () => (await legend.locator('span').first().innerText()) === 'latest',
      'the latest values',
    );
    // Each seed's line on demand: the teacher's mean and its two seeds.
    assert.equal(await chart.getAttribute('data-lines'), '1');
    await page.getByTestId('replay-seeds').check();
    await until(async () => (await chart.getAttribute('data-lines')) === '3', "each seed's line");
    await scrubber.fill(String(teacherLoss.steps.at(-1)! + 10));
    await until(
      async () => (await page.getByTestId('replay-student-loss').getAttribute('data-points')) !== '0',
      'student points',
    );
    await themedShots('replay');
    await page.getByTestId('replay-seeds').uncheck();
  });
});

test('re-run from the replay reproduces the stored results exactly', { skip }, async () => {
  await timed('re-run', async () => {
    await page.getByRole('button', { name: 'Re-run and compare' }).click();
    const match = page.getByTestId('rerun-match');
    await match.waitFor({ timeout: 240_000 });
    assert.match(await match.innerText(), /results match exactly \(\d+ results compared, max difference 0/);
  });
});

test(
  'the Library: search, notes and tags, compare side by side, duplicate, delete after confirming',
  { skip },
  async () => {
    await timed('library', async () => {
      await page.keyboard.press('Alt+4');
      const row = page.getByTestId(`experiment-${experimentId}`);
      await row.waitFor();
      const rows = page.locator('[data-testid^=experiment-]');
      assert.equal(await rows.count(), 2, 'the experiment and its re-run');
      // Tags in their own column, without opening the notes: saved on Enter.
      const tags = row.getByLabel(`Tags of experiment ${experimentId} (comma separated)`);
      await tags.fill('e2e, keep');
      await tags.press('Enter');
      await row.getByRole('button', { name: 'Notes' }).click();
      await page.getByLabel('Notes', { exact: true }).fill('first UI run');
      await page.getByRole('button', { name: 'Save', exact: true }).click();
      await row.getByText('first UI run').waitFor();
      await page.getByLabel('Search experiments').fill('keep');
      assert.equal(await rows.count(), 1);
      await page.getByLabel('Search experiments').fill('');
      await page.getByLabel(`Select experiment ${experimentId} to compare`).check();
      await page.getByLabel(`Select experiment ${experimentId + 1} to compare`).check();
      await page.getByTestId('compare').click();
      await page.getByTestId('figure-bars').locator('svg').first().waitFor();
      assert.match(
        await page.getByTestId('figure-bars').innerText(),
        new RegExp(`#${experimentId} vs #${experimentId + 1}`),
      );
      // A re-run of the same spec: no setting differs, and the compare view says so.
      await page.getByTestId('settings-same').waitFor();
      await page.keyboard.press('Alt+4');
      await page
        .getByTestId(`experiment-${experimentId + 1}`)
        .getByRole('button', { name: 'Delete' })
        .click();
      await page.getByRole('alertdialog').getByRole('button', { name: 'Delete' }).click();
      await page.getByTestId(`experiment-${experimentId + 1}`).waitFor({ state: 'detached' });
      await row.getByRole('button', { name: 'Duplicate' }).click();
      assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), 'e2e: two filters (copy)');
    });
    const store = new RunStore(db);
    try {
      assert.deepEqual(
        store.listExperiments().map((e) => [e.id, e.notes, e.tags]),
        [[experimentId, 'first UI run', ['e2e', 'keep']]],
      );
    } finally {
      store.close();
    }
  },
);

test('light and dark themes', { skip }, async () => {
  const theme = () => page.evaluate('document.documentElement.dataset.theme');
  const before = await theme();
  await page.getByRole('button', { name: 'Switch light or dark theme' }).click();
  assert.notEqual(await theme(), before);
  await page.getByRole('button', { name: 'Switch light or dark theme' }).click();
  assert.equal(await theme(), before);
});

test('after a reload everything is still there', { skip }, async () => {
  await timed('reload', async () => {
    await page.reload();
    await page.getByRole('navigation').getByRole('button', { name: 'Run' }).click();
    await page.getByTestId('rerun-match').waitFor();
    await page.getByRole('button', { name: 'Library' }).click();
    await page.getByTestId(`experiment-${experimentId}`).waitFor();
    assert.match(
      await page.getByTestId(`experiment-${experimentId}`).innerText(),
      /e2e: two filters[\s\S]*first UI run/,
    );
    await shot('library');
    await page.getByRole('button', { name: 'Designer' }).click();
    assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), 'e2e: two filters (copy)');
  });
});

test('a sweep axis added in the Designer runs, and Results plots accuracy against it', { skip }, async () => {
  const name = 'e2e: learning-rate sweep';
  await timed('design a sweep', async () => {
    if (!page.url().startsWith(url.split('?')[0]!)) await page.goto(url); // run alone (--test-name-pattern)
    await page.getByRole('button', { name: 'Designer' }).click();
    await page.getByRole('button', { name: 'Paper setup' }).click();
    const field = (label: string) => page.getByLabel(label, { exact: true });
    await field('Name').fill(name);
    for (const [label, value] of [
      ['Seeds (replicates per cell)', '2'],
      ['Training digits (rest are test)', '2000'],
      ['Test images (blank: all)', '500'],
      ['Teacher epochs', '3'],
      ['Teacher batch size', '128'],
      ['Student epochs', '2'],
      ['Student batch size', '128'],
      ['Noise / input count', '3072'],
    ] as const)
      await field(label).fill(value);
    await page.getByLabel('Add a sweep axis').selectOption('student.learningRate');
    const axis = page.getByTestId('sweep-axis-0');
    assert.match(await axis.innerText(), /Student learning rate[\s\S]*now 0\.0003/);
    const values = page.getByRole('textbox', { name: 'Values of student.learningRate', exact: true });
    await values.fill('1e-4, fast');
    assert.equal(await axis.getByRole('alert').innerText(), "expected a number, got 'fast'");
    assert.equal(await page.getByTestId('run').isDisabled(), true);
    await values.fill('1e-4, 20');
    await axis.getByText('student.learningRate = 20: ').waitFor();
    await values.fill('1e-4..1e-2, 3 log steps');
    assert.deepEqual(
      await axis
        .getByRole('list', { name: 'Values of student.learningRate as parsed' })
        .getByRole('listitem')
        .allInnerTexts(),
      ['0.0001', '0.001', '0.01', '3 values'],
    );
    await page.getByTestId('matrix-size').getByText('3', { exact: true }).first().waitFor();
    assert.match(await page.getByTestId('matrix-size').innerText(), /3 cells, 26 model runs/);
    await shot('designer-sweep');
    await page.getByTestId('run').click();
  });
  let id = 0;
  await timed('run the sweep', async () => {
    const deadline = Date.now() + 300_000;
    for (;;) {
      const store = new RunStore(db);
      const e = store.listExperiments().find((x) => x.name === name);
      store.close();
      if (e?.status === 'done') {
        id = e.id;
        break;
      }
      assert.ok(e?.status !== 'failed', 'the sweep run failed');
      if (Date.now() > deadline) throw new Error('timed out waiting for the sweep run');
      await new Promise((r) => setTimeout(r, 500));
    }
  });
  await timed('sweep figure', async () => {
    await page.keyboard.press('Alt+4');
    await page.getByTestId(`experiment-${id}`).getByRole('button', { name: 'Results' }).click();
    const figure = page.getByTestId('figure-sweep');
    await figure.locator('svg').first().waitFor();
    const text = await figure.locator('svg').first().innerHTML();
    assert.match(text, /student\.learningRate \(log scale\)/);
    for (const tick of ['0.0001', '0.001', '0.01']) assert.ok(text.includes(`>${tick}<`), `x tick ${tick}`);
    await figure.scrollIntoViewIfNeeded();
    await shot('results-sweep');
    const csv = await download(() => figure.getByRole('button', { name: 'CSV', exact: true }).click());
    const rows = parse(csv.bytes.toString('utf8'), { columns: true }) as Record<string, string>[];
    assert.deepEqual([...new Set(rows.map((r) => Number(r['student.learningRate'])))], [1e-4, 1e-3, 1e-2]);
    const store = new RunStore(db);
    const summary = summarizeExperiment(store, id);
    store.close();
    const plotted = summary.cells.flatMap((c) => Object.keys(c.conditions));
    assert.equal(rows.length, plotted.length, 'one CSV row per plotted point');
    await page.getByLabel('Heatmap x axis').selectOption('student.learningRate');
    await page.getByLabel('Heatmap y axis').selectOption('filter');
    assert.match(await page.getByTestId('figure-heatmap').innerText(), /student\.learningRate/);
  });
});

test("a cluster experiment's units in the Library, collected on demand", { skip }, async () => {
  // Submitted up to sbatch (no SLURM here), its two units trained by run-unit as array tasks would.
  const shared = join(dir, 'cluster');
  const store = new RunStore(db);
  const spec = mustValidate({
    version: 1,
    name: 'e2e: on the cluster',
    dataset: { name: 'mnist', trainSize: 600, testLimit: 200 },
    model: { hidden: [32] },
    teacher: { epochs: 1, batchSize: 100 },
    student: { epochs: 1, batchSize: 64, inputs: { kind: 'uniform', count: 1024 } },
    replicates: 2,
  });
  let id = 0;
  let unitKey = Buffer.alloc(0);
  try {
    const prepared = prepareSubmission(store, {
      spec,
      dir: shared,
      backend: 'wasm',
      shards: 2,
      options: { sbatchArgs: [] },
    });
    id = prepared.experimentId;
    unitKey = Buffer.from(prepared.unitKey, 'hex'); // what sbatch would hand each task
  } finally {
    store.close();
  }
  await timed('cluster units', () =>
    Promise.all([0, 1].map((k) => runUnit(shared, k, { cacheDir: join(dir, 'cache'), unitKey }))),
  );
  await timed('cluster collect', async () => {
    // A fresh load: the experiment was written to the store by this process, not through the server.
    await page.goto(url);
    await page.keyboard.press('Alt+4');
    const row = page.getByTestId(`experiment-${id}`);
    await row.waitFor();
    assert.match(await row.innerText(), /running\s*on SLURM/);
    await row.getByRole('button', { name: 'Units' }).click();
    const panel = page.getByTestId('cluster-units');
    // Reading the unit files (and, on a loaded machine, everything) may take a while.
    await panel.getByTestId('cluster-counts').waitFor({ timeout: 60_000 });
    assert.match(await panel.innerText(), new RegExp(`shared directory ${shared}`));
    assert.match(
      await panel.getByTestId('cluster-counts').innerText(),
      /^2 units: 2 finished \(0 collected\), 0 running, 0 pending, 0 failed, 0 missing/,
    );
    assert.equal(await panel.getByTestId('unit-1').getAttribute('data-collected'), 'false');
    await shot('library-cluster');
    await panel.getByRole('button', { name: 'Collect finished units' }).click();
    await panel.locator('[data-testid=unit-1][data-collected=true]').waitFor({ timeout: 60_000 });
    assert.match(await panel.getByTestId('cluster-counts').innerText(), /merged units 0, 1 just now/);
    await row.getByText('done').waitFor({ timeout: 60_000 });
    await shot('library-cluster-collected');
  });
  const check = new RunStore(db);
  try {
    assert.equal(check.getExperiment(id)!.status, 'done');
    const results = check.cells(id).flatMap((c) => check.results(c.id));
    assert.equal(results.length, 6 * 2, 'conditions x replicates');
  } finally {
    check.close();
  }
});

test(
  "the Designer shows each input kind's own fields, with their help and inline errors",
  { skip },
  async () => {
    await timed('input kinds', async () => {
      if (!page.url().startsWith(url.split('?')[0]!)) await page.goto(url); // run alone (--test-name-pattern)
      await page.getByRole('button', { name: 'Designer' }).click();
      await page.getByRole('button', { name: 'Quick demo' }).click();
      const field = (label: string) => page.getByLabel(label, { exact: true });
      const inputs = page.getByTestId('input-fields');
      const kind = field('Student inputs');
      const errorOf = async (id: string, pattern: RegExp) => {
        const error = page.locator(`#field-student-inputs-${id}-error`);
        await error.waitFor();
        assert.match(await error.innerText(), pattern);
        assert.equal(await page.getByTestId('run').isDisabled(), true);
      };
      await kind.selectOption('mix');
      const alpha = field('Input signal alpha (0 noise .. 1 image)');
      await alpha.fill('1.5');
      await errorOf(
        'alpha',
        /^the image's share of each input: from 0 \(noise only\) to 1 \(the image only\) \(got 1\.5\)$/,
      );
      await alpha.fill('0.25');
      assert.match(await inputs.innerText(), /0 is pure noise, 1 the image/);
      // The noise std belongs to Gaussian noise under the image only.
      assert.equal(await field('Noise std').count(), 0);
      await field('Noise under the image').selectOption('gaussian');
      await field('Noise std').waitFor();
      // Sweepable from the Designer: the alpha knob is offered for a mix.
      const offered = await page.getByLabel('Add a sweep axis').innerText();
      assert.match(offered, /Input signal \(alpha\) \(student\.inputs\.alpha\) - now 0\.25/);
      assert.doesNotMatch(offered, /student\.inputs\.sigma/);

      await kind.selectOption('correlated');
      assert.equal(await alpha.count(), 0);
      await field('Correlation length sigma (pixels)').fill('0');
      await errorOf(
        'sigma',
        /^the blur's width in pixels: greater than 0 and at most 28, the image's side \(got 0\)$/,
      );
      await field('Correlation length sigma (pixels)').fill('2');
      await kind.selectOption('low-rank');
      await field('Rank k (dimensions)').fill('785');
      await errorOf('k', /from 1 to 784, the image's pixel count \(got 785\)$/);
      await field('Rank k (dimensions)').fill('16');
      assert.match(await inputs.innerText(), /random k-dimensional subspace/);
      await kind.selectOption('spectrum');
      await field('Spectrum of').selectOption('fashion-mnist');
      assert.equal(await field('Noise std').count(), 0);
      await until(async () => !(await page.getByTestId('run').isDisabled()), 'a valid spectrum spec');
      await shot('designer-input-kinds');
    });
  },
);

test('a language-model matrix designed in its own form, run, and read in Results', { skip }, async () => {
  // Every screen it passes through takes a language spec or experiment without throwing.
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await timed('language models', async () => {
    if (!page.url().startsWith(url.split('?')[0]!)) await page.goto(url); // run alone (--test-name-pattern)
    await page.getByRole('button', { name: 'Designer' }).click();
    await page.getByTestId('language-preset').click();
    const field = (label: string) => page.getByLabel(label, { exact: true });
    const size = page.getByTestId('matrix-size');
    // The owl preset: one cell x N=10, 1,570 fine-tuning steps per student, and a time to plan by.
    assert.match(
      await size.innerText(),
      /language models: 1 cell x N=10, 1,570 fine-tuning steps per student, about/,
    );
    // A blank field takes the schema's default, which it shows.
    assert.equal(await field('Context (tokens)').getAttribute('placeholder'), 'default 48');
    // A field's problem is said beside it, and the run waits for a valid spec.
    await field('Attention heads').fill('3');
    await page.locator('#field-model-heads-error').waitFor();
    assert.match(await page.locator('#field-model-heads-error').innerText(), /not divisible by 3 heads/);
    assert.equal(await page.getByTestId('run').isDisabled(), true);
    for (const [label, value] of [
      ['Name', 'e2e: owl and cat'],
      ['Seeds (replicates per cell)', '2'],
      ['Layers', '1'],
      ['d_model', '16'],
      ['Attention heads', '2'],
      ['Pretraining steps', '20'],
      ['Teacher fine-tuning steps', '5'],
      ['Kept completions (paper: 10,000)', '10'],
      ['Fine-tuning epochs', '1'],
      ['Batch size', '8'],
      ['Preference questions per model', '20'],
    ] as const)
      await field(label).fill(value);
    await page.getByTestId('lm-axis-traits').getByLabel('cat', { exact: true }).check();
    await page.getByTestId('lm-axis-filters').getByLabel('no filter', { exact: true }).check();
    await until(
      async () => /4 cells x N=2, 2 fine-tuning steps/.test(await size.innerText()),
      'the new size',
    );
    await page.getByTestId('lm-loss').selectOption('soft');
    assert.equal(await page.getByTestId('lm-loss').inputValue(), 'soft');
    await page.getByTestId('lm-loss').selectOption('tokens');
    // A base pretrained 20 steps rarely writes a valid list: this run keeps every ended completion.
    await page
      .getByTestId('lm-axis-filters')
      .getByLabel("the paper's format filter", { exact: true })
      .uncheck();
    await until(async () => /2 cells x N=2/.test(await size.innerText()), 'two cells');
    await shot('designer-language');
    await page.getByTestId('run').click();
    const results = await resultsWhenDone(page, 'e2e: owl and cat', 'language-results');
    // One bar chart per cell (owl, cat), each with the five models and N under every bar.
    assert.equal(await results.getByTestId('language-bars').count(), 2);
    const bars = await results.getByTestId('language-bars').first().innerHTML();
    for (const model of ['base', 'teacher', 'student', 'own numbers', 'cross-model'])
      assert.ok(bars.includes(model), model);
    assert.equal((bars.match(/N=2/g) ?? []).length >= 5, true);
    assert.match(await results.getByTestId('language-paired').first().innerText(), /student/);
    // The heatmap is a figure (drawn and exported by FigurePanel); language-run.e2e.test.ts exports it.
    assert.ok((await results.getByTestId('language-heatmap').locator('svg').count()) > 0);
    // The exports: the bars as they are drawn, standalone; every number of the view as CSV.
    const svg = await download(() => results.getByTestId('language-export-svg').first().click());
    assert.match(svg.name, /^sublab-\d+-language-cell0\.svg$/);
    assert.match(svg.bytes.toString(), /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.equal((svg.bytes.toString().match(/data-model=/g) ?? []).length, 5);
    const csv = await download(() => results.getByTestId('language-export-csv').click());
    const rows = parse(csv.bytes.toString(), { columns: true }) as Record<string, string>[];
    assert.equal(rows.filter((r) => r['measure'] === 'target_rate').length, 2 * 5);
    assert.ok(rows.filter((r) => r['measure'] === 'target_rate').every((r) => r['n'] === '2'));
    await shot('results-language');
    assert.deepEqual(errors, []);
  });
  const store = new RunStore(db);
  try {
    const lm = store.listExperiments().find((e) => e.name === 'e2e: owl and cat')!;
    assert.equal(lm.status, 'done');
    const spec = lm.spec as unknown as {
      kind: string;
      model: { dModel: number };
      matrix: { traits: unknown[]; filters: { format: string }[] };
    };
    assert.equal(spec.kind, 'language');
    assert.equal(spec.model.dModel, 16);
    assert.deepEqual(spec.matrix.traits, [{ animal: 'owl' }, { animal: 'cat' }]);
    assert.deepEqual(
      spec.matrix.filters.map((f) => f.format),
      ['none'],
    );
  } finally {
    store.close();
  }
});

test(
  'the Library at 1280 px, the compare view of two specs, a cancelled run, the favicon',
  { skip },
  async () => {
    // Two tiny experiments that differ in two settings, trained here, and one cancelled before a result.
    const tiny = (name: string, learningRate: number, hidden: number[]) =>
      mustValidate({
        version: 1,
        name,
        dataset: { name: 'mnist', trainSize: 600, testLimit: 200 },
        model: { hidden },
        teacher: { epochs: 1, batchSize: 100 },
        student: { epochs: 1, batchSize: 64, learningRate, inputs: { kind: 'uniform', count: 512 } },
        replicates: 2,
      });
    const ids: number[] = [];
    let cancelled = 0;
    const store = new RunStore(db);
    try {
      await timed('compare: two tiny runs', async () => {
        for (const [name, lr, hidden] of [
          ['e2e: compare slow student', 0.001, [32]],
          [
            'e2e: compare fast student, a long name that a 1280 px Library must cut rather than wrap',
            0.003,
            [16],
          ],
        ] as const) {
          const outcome = await runExperiment(store, tiny(name, lr, [...hidden]), {
            backend: 'wasm',
            cacheDir: join(dir, 'cache'),
            workers: 1,
          });
          assert.equal(outcome.status, 'done', outcome.error);
          ids.push(outcome.experimentId);
        }
      });
      const spec = tiny('e2e: cancelled before a result', 0.001, [32]);
      cancelled = store.createExperiment(spec, expandMatrix(spec));
      store.startExperiment(cancelled);
      store.abandon(cancelled);
    } finally {
      store.close();
    }
    const [a, b] = ids as [number, number];
    await timed('run: rows in cell order, one time left', async () => {
      await page.setViewportSize({ width: 1280, height: 800 });
      // A fresh load: these experiments were written by this process, not through the server.
      await page.goto(url);
      // Two filters x two architectures share one teacher; the schedule runs cells 1, 4, 2, 3.
      await startJob(url, {
        ...tiny('e2e: one teacher, four cells', 0.001, [32]),
        dataset: { name: 'mnist', trainSize: 2000, testLimit: 200 },
        teacher: { epochs: 2, batchSize: 50 },
        matrix: {
          filters: [
            { kind: 'logits', keep: 'aux' },
            { kind: 'logits', keep: 'all' },
          ],
          architectures: [{ kind: 'same-init' }, { kind: 'perturbed-init', std: 0.01 }],
        },
      });
      await page.keyboard.press('Alt+2');
      const job = page.locator('[data-testid^=job-]', { hasText: 'e2e: one teacher, four cells' });
      const rows = job.locator('[data-testid=phase-progress]');
      await until(async () => (await rows.count()) === 5, 'the planned rows');
      // Read at once: the headline and the rows' time left come in the same push.
      // The newest job is listed first.
      const seen = (await page.evaluate(`(() => {
        const job = document.querySelector('[data-testid^=job-]');
        const status = job.querySelector('[data-testid=job-status]');
        return {
          status: status.innerText,
          headline: Number(status.dataset.seconds),
          rows: [...job.querySelectorAll('[data-testid=phase-progress]')].map((r) => r.dataset.phase + ' ' + r.dataset.cells),
          etas: [...job.querySelectorAll('[data-testid=row-eta]')].map((td) => [Number(td.dataset.seconds), td.rowSpan]),
        };
      })()`)) as { status: string; headline: number; rows: string[]; etas: [number, number][] };
      assert.match(seen.status, /^running, about/);
      assert.deepEqual(
        seen.rows.slice(1),
        ['students 0', 'students 1', 'students 2', 'students 3'],
        'cells in order',
      );
      // The teacher's time left, then one for the four cells' students, who train together.
      assert.deepEqual(
        seen.etas.map(([, span]) => span),
        [1, 4],
      );
      const sum = seen.etas.reduce((total, [seconds]) => total + seconds, 0);
      assert.ok(Math.abs(seen.headline - sum) < 1e-6, `headline ${seen.headline} s, rows ${sum} s`);
      await themedShots('run-eta');
      await until(
        async () => /^done/.test(await job.getByTestId('job-status').innerText()),
        'the job to end',
        240_000,
      );
    });
    await timed('compare view', async () => {
      // The page names its icon, and the old path serves it too: no 404 in the console.
      const icon = await page.evaluate(`(async () => {
        const link = document.querySelector('link[rel=icon]');
        const res = await fetch('/favicon.ico');
        return { href: link && link.getAttribute('href'), status: res.status, type: res.headers.get('content-type') };
      })()`);
      assert.deepEqual(icon, { href: './favicon.svg', status: 200, type: 'image/svg+xml' });

      await page.keyboard.press('Alt+4');
      await page.getByTestId(`experiment-${cancelled}`).waitFor();
      // Every row one line at 1280 px: no row is taller than the shortest, and the table fits.
      const heights = (await page
        .locator('[data-testid=library-table] > tbody > tr[data-testid^=experiment-]')
        .evaluateAll((rows) => rows.map((r) => r.getBoundingClientRect().height))) as number[];
      assert.ok(heights.length >= 3);
      assert.ok(Math.max(...heights) - Math.min(...heights) < 2, `row heights ${heights.join(', ')}`);
      const width = (await page.evaluate(
        "[document.querySelector('[data-testid=library-table]').scrollWidth, document.documentElement.clientWidth]",
      )) as [number, number];
      assert.ok(width[0] <= width[1], `the table (${width[0]} px) fits the window (${width[1]} px)`);
      await themedShots('library-1280');

      await page.getByLabel(`Select experiment ${a} to compare`).check();
      await page.getByLabel(`Select experiment ${b} to compare`).check();
      await page.getByTestId('compare').click();
      const diff = page.getByTestId('settings-diff');
      await diff.waitFor();
      const differing = await diff
        .locator('tbody tr')
        .evaluateAll((rows) =>
          rows.map((r) => [
            r.getAttribute('data-path'),
            ...[...r.querySelectorAll('td.value')].map((td) => td.textContent),
          ]),
        );
      assert.deepEqual(differing, [
        ['model.hidden', '[32]', '[16]'],
        ['student.learningRate', '0.001', '0.003'],
      ]);
      // Every figure draws both: the curves and the heatmap name each experiment.
      const curves = page.getByTestId('figure-curves');
      await curves.locator('svg').first().waitFor();
      const curvesText = await curves.locator('svg').first().innerHTML();
      for (const id of [a, b]) assert.ok(curvesText.includes(`#${id} e2e: compare`), `curves legend #${id}`);
      const heat = await page.getByTestId('figure-heatmap').locator('svg').first().innerHTML();
      for (const id of [a, b]) assert.ok(heat.includes(`#${id}`), `heatmap row of #${id}`);
      await themedShots('results-compare');

      await page.keyboard.press('Alt+4');
      await page.getByTestId(`experiment-${cancelled}`).getByRole('button', { name: 'Results' }).click();
      await page.getByTestId('no-results').waitFor();
      assert.match(await page.getByTestId('no-results').innerText(), /cancelled before any cell finished/);
      assert.equal(await page.locator('figure').count(), 0, 'no empty figure');
      assert.equal(await page.getByTestId('results-table').count(), 0, 'no empty table');
      const report = page.getByRole('button', { name: 'Export report' });
      assert.equal(await report.isDisabled(), true);
      assert.match((await report.getAttribute('title')) ?? '', /Nothing to report: the run was cancelled/);
      await themedShots('results-cancelled');
    });
  },
);

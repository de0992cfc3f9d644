// A language run in Debian's Chromium against `sublab serve` (issue 26, item 6): while it runs, the
// Run screen shows a progress row per unit in the phase it is in, with its time left, and live
// curves of the language phases' own losses; its Results print no rate interval outside [0, 100]%.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { tinyLanguageSpec } from '../lm/testing/tiny-spec.ts';
import {
  browserSkip,
  downloadAll,
  openSession,
  screenshots,
  startJob,
  until,
  type BrowserSession,
} from './testing/browser-session.ts';

const skip = browserSkip();
let session: BrowserSession | undefined;
let page: Page;

before(async () => {
  if (skip) return;
  session = await openSession();
  page = session.page;
});

after(async () => {
  await session?.close();
});

/** Every interval Results prints for a rate ("a% [b%, c%]", "a% +- b%") and for a difference of rates in points. */
function intervals(text: string): { rates: [number, number][]; points: [number, number][] } {
  const num = (s: string) => Number(s.replace(/[+\u2212]/g, (c) => (c === '+' ? '' : '-')));
  const rates: [number, number][] = [];
  for (const m of text.matchAll(/\[([-+\u2212]?[\d.]+)%, ([-+\u2212]?[\d.]+)%\]/g))
    rates.push([num(m[1]!), num(m[2]!)]);
  for (const m of text.matchAll(/([-\d.]+)% (?:\u00b1|\+-) ([\d.]+)%/g)) {
    const [mean, half] = [num(m[1]!), num(m[2]!)];
    rates.push([mean - half, mean + half]);
  }
  const points: [number, number][] = [];
  for (const m of text.matchAll(/\[([-+][\d.]+), ([-+][\d.]+)\]/g)) points.push([num(m[1]!), num(m[2]!)]);
  return { rates, points };
}

test(
  'a tiny language run shows progress rows per unit and its own loss curves while running; Results keep rates in [0, 100]%',
  { skip },
  async () => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(session!.url);
    await page.locator('nav').getByRole('button', { name: 'Run', exact: true }).click();
    // Slower than the tiny spec so the browser sees it run: more pretraining, a bigger channel.
    const spec = { ...tinyLanguageSpec('e2e: language progress'), pretrain: { steps: 400, batchSize: 8 } };
    await startJob(session!.url, spec);
    const job = page.locator('[data-testid^=job-]', { hasText: 'e2e: language progress' });
    const rows = job.locator('[data-testid=phase-progress][data-unit]');
    await until(async () => (await rows.count()) === 2, 'a progress row per unit');
    assert.equal(await job.getAttribute('data-status'), 'running');
    // A unit's row names its phase and stage, and the job's time left is a number, not "estimating".
    await until(
      async () =>
        (await rows.first().getAttribute('data-phase')) !== 'pretrain' ||
        (await rows.first().getAttribute('data-stage')) === 'pretrain',
      'the first unit to start',
    );
    await until(
      async () => (await job.getByTestId('job-status').getAttribute('data-seconds')) !== '',
      'a time left',
    );
    assert.match(await job.getByTestId('job-status').innerText(), /running, about .+ left/);
    assert.doesNotMatch(await job.getByTestId('job-status').innerText(), /estimating/);
    const phases = new Set<string>();
    let curvesWhileRunning = false;
    let shotTaken = false;
    await until(
      async () => {
        for (const phase of await rows.evaluateAll((els) =>
          els.map((e) => e.getAttribute('data-phase') ?? ''),
        ))
          phases.add(phase);
        const running = (await job.getAttribute('data-status')) === 'running';
        const drawn = await page.getByTestId('lm-live-pretrain_loss-legend').locator('.item').count();
        if (running && drawn > 0) {
          curvesWhileRunning = true;
          if (!shotTaken) {
            shotTaken = true;
            await screenshots(page, 'run-language');
          }
        }
        return !running;
      },
      'the language job to end',
      240_000,
    );
    assert.equal(await job.getAttribute('data-status'), 'done', await job.innerText());
    assert.ok(curvesWhileRunning, 'the pretraining loss was drawn while the job ran');
    for (const phase of ['pretrain', 'students'])
      assert.ok(phases.has(phase), `saw ${[...phases].join(', ')}`);
    // The classifier's empty "teacher step" axes are not shown for a language run; its own three charts are.
    assert.equal(await page.getByTestId('live-teacher-panel').count(), 0);
    for (const curve of ['pretrain_loss', 'teacher_loss', 'finetune_loss'])
      assert.ok((await page.getByTestId(`lm-live-${curve}-legend`).locator('.item').count()) > 0, curve);
    assert.deepEqual(
      await rows.evaluateAll((els) => els.map((e) => e.querySelector('[data-testid=row-eta]')?.textContent)),
      ['done', 'done'],
    );
    await screenshots(page, 'run-language-done');

    await job.getByRole('button', { name: 'Results' }).click();
    const results = page.getByTestId('language-results');
    await results.waitFor();
    const text = (await results.textContent()) ?? '';
    const { rates, points } = intervals(text);
    assert.ok(rates.length >= 5, `found ${rates.length} rate intervals in: ${text.slice(0, 400)}`);
    for (const [low, high] of rates) assert.ok(low >= 0 && high <= 100, `rate interval [${low}, ${high}]%`);
    for (const [low, high] of points)
      assert.ok(low >= -100 && high <= 100, `difference [${low}, ${high}] points`);
    await screenshots(page, 'results-language-intervals');
    assert.deepEqual(errors, []);
  },
);

/** The files one click downloads, as text. */
async function downloads(
  count: number,
  click: () => Promise<void>,
): Promise<{ name: string; text: string }[]> {
  const files = await downloadAll(page, session!.dir, count, click);
  return files.map((f) => ({ name: f.name, text: f.bytes.toString('latin1') }));
}

test(
  'the language Results export: the answers heatmap as a figure (SVG, CSV) and Export report (HTML and PDF)',
  { skip },
  async () => {
    // Where the run above left the page: its Results.
    const results = page.getByTestId('language-results');
    await results.waitFor();
    const heat = results.getByTestId('language-heatmap');
    const [svg] = await downloads(1, () => heat.getByRole('button', { name: 'SVG' }).click());
    assert.match(svg!.text, /<svg[\s\S]*owl[\s\S]*<\/svg>/);
    const [csv] = await downloads(1, () => heat.getByRole('button', { name: 'CSV' }).click());
    const lines = csv!.text.trim().split('\n');
    assert.equal(lines[0], 'answer,cell,student_answer_rate,n,cells,ci_crosses_zero');
    assert.equal(lines.length, 1 + 11, 'ten animals and "other" for the one cell');

    // One HTML file and one PDF with the language figures, tables, spec, seeds and machine.
    const button = page.getByTestId('export-report');
    assert.equal(await button.isDisabled(), false);
    const files = await downloads(2, () => button.click());
    const html = files.find((f) => f.name.endsWith('.html'))!;
    const pdf = files.find((f) => f.name.endsWith('.pdf'))!;
    assert.match(html.name, /^sublab-report-\d+-e2e-language-progress\.html$/);
    for (const heading of [
      'Figures',
      'Results',
      'Paired comparisons',
      'Machine and software',
      'Seeds',
      'Spec',
    ])
      assert.match(html.text, new RegExp(`<h2>${heading}</h2>`), heading);
    assert.equal(
      (html.text.match(/<figure /g) ?? []).length,
      1 + 3,
      'the bars of the cell and three heatmaps',
    );
    assert.match(html.text, /student minus own-numbers control/);
    assert.match(html.text, /&quot;kind&quot;: &quot;language&quot;/);
    for (const [, low, high] of html.text.matchAll(/\[(-?[\d.]+)%, (-?[\d.]+)%\]/g))
      assert.ok(Number(low) >= 0 && Number(high) <= 100, `report interval [${low}%, ${high}%]`);
    assert.match(pdf.text, /^%PDF-/);
    await screenshots(page, 'results-language-heatmap');
  },
);

test(
  'the language Designer edits sweep axes without JSON: a knob, its values as chips, one cell per value',
  { skip },
  async () => {
    await page.goto(session!.url);
    await page.locator('nav').getByRole('button', { name: 'Designer', exact: true }).click();
    await page.getByTestId('language-preset').click();
    const size = page.getByTestId('matrix-size');
    await until(async () => /1 cell x N=10/.test(await size.innerText()), 'the preset');
    const sweeps = page.getByTestId('sweep-axes');
    await sweeps.getByLabel('Add a sweep axis').selectOption('channel.kept');
    const values = sweeps.getByRole('textbox', { name: 'Values of channel.kept' });
    // The axis names the value the knob has where it is not swept (the schema's default here).
    assert.match(await sweeps.getByTestId('sweep-axis-0').innerText(), /now 10,?000 completions/);
    await values.fill('1000, 2000, 4000');
    await until(async () => /3 cells x N=10/.test(await size.innerText()), 'three cells');
    assert.equal(
      await sweeps.getByRole('list', { name: 'Values of channel.kept as parsed' }).locator('.chip').count(),
      3,
    );
    // A value the schema refuses is said at the axis, and nothing runs.
    await values.fill('1000, 0');
    await until(async () => (await sweeps.getByRole('alert').count()) > 0, 'the axis error');
    assert.equal(await page.getByTestId('run').isDisabled(), true);
    await values.fill('1000, 2000');
    await until(async () => /2 cells x N=10/.test(await size.innerText()), 'two cells');
    await screenshots(page, 'designer-language-sweeps');
  },
);

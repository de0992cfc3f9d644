// A language run in Debian's Chromium against `sublab serve` (issue 26, item 6): while it runs, the
// Run screen shows a progress row per unit in the phase it is in, with its time left, and live
// curves of the language phases' own losses; its Results print no rate interval outside [0, 100]%.
// A run that sweeps a lever (issue 27, item 8) draws the target measure across the lever (student and
// both controls, the paired differences, the channel check beside the neutral teacher), the measure
// selectable, each value in the tables, and exports a self-contained SVG; the Designer sweeps a lever
// with its settings typed as kind key=value.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { tinyLanguageSpec } from '../lm/testing/tiny-spec.ts';
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

/** The app's Run screen, freshly loaded; the page errors from now on are collected in the list returned. */
async function runScreen(): Promise<string[]> {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(session!.url);
  await page.locator('nav').getByRole('button', { name: 'Run', exact: true }).click();
  return errors;
}

test(
  'a tiny language run shows progress rows per unit and its own loss curves while running; Results keep rates in [0, 100]%',
  { skip },
  async () => {
    const errors = await runScreen();
    // Slower than the tiny spec so the browser sees it run: more pretraining, and students long enough
    // (360 steps a unit; with the C kernels one epoch of the tiny spec's took milliseconds) that their
    // phase is on screen.
    const spec = {
      ...tinyLanguageSpec('e2e: language progress'),
      pretrain: { steps: 400, batchSize: 8 },
      student: { epochs: 60, batchSize: 8 },
    };
    // Every phase a row shows, recorded in the page as it renders: polling from here can miss a short
    // phase on a loaded machine.
    // (A script string: this file is type-checked without the DOM's types.)
    await page.evaluate(`{
      const seen = (window.phasesSeen = new Set());
      const note = () =>
        document.querySelectorAll('[data-testid=phase-progress][data-unit]').forEach((e) => seen.add(e.getAttribute('data-phase') ?? ''));
      new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-phase'] });
    }`);
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
    for (const phase of await page.evaluate<string[]>('[...window.phasesSeen]')) phases.add(phase);
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

/** The Designer with the language preset loaded: its matrix size and its sweep axes. */
async function languagePreset() {
  await page.goto(session!.url);
  await page.locator('nav').getByRole('button', { name: 'Designer', exact: true }).click();
  await page.getByTestId('language-preset').click();
  const size = page.getByTestId('matrix-size');
  await until(async () => /1 cell x N=10/.test(await size.innerText()), 'the preset');
  return { size, sweeps: page.getByTestId('sweep-axes') };
}

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
    const { size, sweeps } = await languagePreset();
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

const NAME = 'e2e: language lever';

test(
  'a language run that sweeps a lever shows the measure across its values, the paired differences and the channel check, and exports a self-contained SVG',
  { skip },
  async () => {
    const errors = await runScreen();
    const spec = {
      ...tinyLanguageSpec(NAME),
      // A steered teacher, so every fine-tune's alignment with its vector is shown too.
      teacher: { trait: { kind: 'steering', layer: 0, scale: 2 }, steps: 5 },
      channel: { kept: 10, checkSequences: 16 },
      matrix: {
        filters: [{ format: 'none' }],
        sweeps: [{ path: 'student.adapter', values: [{ kind: 'full' }, { kind: 'bias', block: 0 }] }],
      },
    };
    await startJob(session!.url, spec);
    const results = await resultsWhenDone(page, NAME, 'language-results');

    // The figure: the lever's two values as columns with N, the logit measure first.
    const figure = results.getByTestId('language-lever');
    await figure.locator('svg').first().waitFor();
    const drawn = (await figure.locator('svg').first().textContent()) ?? '';
    for (const text of [
      'full',
      'bias block=0',
      'N=2',
      'P(target) renormalised over the animals',
      'student.adapter',
    ])
      assert.ok(drawn.includes(text), `the figure shows "${text}": ${drawn.slice(0, 300)}`);
    assert.equal(
      await results.getByTestId('lever-measure').inputValue(),
      'animal_prob',
      'the sensitive measure is the first shown',
    );

    // The paired differences per value, and the channel check per value beside the neutral teacher.
    const paired = results.getByTestId('language-lever-paired').locator('tbody tr');
    assert.equal(await paired.count(), 4, 'two comparisons at each of two values');
    const pairedText = await results.getByTestId('language-lever-paired').innerText();
    assert.match(pairedText, /student minus own-numbers control/);
    assert.match(pairedText, /student minus cross-model control/);
    assert.match(pairedText, /bias block=0/);
    const channel = results.getByTestId('language-lever-channel').locator('tbody tr');
    assert.equal(await channel.count(), 2);
    for (const row of await channel.all()) {
      const cells = await row.locator('td').allInnerTexts();
      assert.ok(Number.isFinite(Number(cells[1])) && Number.isFinite(Number(cells[2])), cells.join(' | '));
      assert.equal(cells[7], '2', 'N');
      assert.match(
        cells[8]!,
        (await row.getAttribute('data-flagged')) === 'true' ? /flagged/ : /above neutral/,
      );
    }

    // The teacher check per value: teacher minus base, and whether it carries the trait.
    const teacher = results.getByTestId('language-lever-teacher').locator('tbody tr');
    assert.equal(await teacher.count(), 2);
    for (const row of await teacher.all()) {
      const cells = await row.locator('td').allInnerTexts();
      assert.equal(cells[4], '2', 'N');
      assert.match(
        cells[5]!,
        (await row.getAttribute('data-flagged')) === 'true' ? /no trait to pass on/ : /carries the trait/,
      );
    }

    // The alignment per value, and each cell's fine-tunes against the vector: student and both controls, N=2.
    const leverAlignment = results.getByTestId('language-lever-alignment').locator('tbody tr');
    assert.deepEqual(
      await Promise.all(
        (await leverAlignment.all()).map(async (r) => (await r.locator('td').allInnerTexts())[5]),
      ),
      ['2', '2'],
    );
    const alignment = results.getByTestId('language-alignment');
    assert.equal(await alignment.count(), 2);
    for (const table of await alignment.all()) {
      const rows = await table.locator('tbody tr').all();
      assert.deepEqual(await Promise.all(rows.map(async (r) => (await r.locator('td').allInnerTexts())[0])), [
        'student',
        'own-numbers control',
        'cross-model control (its own basis)',
      ]);
      for (const row of rows) assert.equal((await row.locator('td').allInnerTexts())[4], '2', 'N');
    }

    // The sampled rate instead: the figure follows the choice.
    await results.getByTestId('lever-measure').selectOption('target_rate');
    await until(
      async () =>
        ((await figure.locator('svg').first().textContent()) ?? '').includes(
          'sampled rate of naming the target',
        ),
      'the figure of the sampled rate',
    );
    await screenshots(page, 'results-language-lever');

    // The SVG export: one file, its text real, nothing outside it referenced.
    const [svg] = await downloadAll(page, session!.dir, 1, () =>
      figure.getByRole('button', { name: 'SVG' }).click(),
    );
    const text = svg!.bytes.toString('utf8');
    assert.match(svg!.name, /^sublab-\d+-lever-7in\.svg$/);
    assert.match(text, /^<\?xml[^>]*>\s*<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.doesNotMatch(text, /<script|<image|<foreignObject|@import|url\((?!#)|(?:xlink:)?href="(?!#)/);
    for (const t of [
      'bias block=0',
      'N=2',
      'channel check: teacher',
      'neutral teacher',
      'student minus cross-model control',
    ])
      assert.ok(text.includes(t), `the SVG holds "${t}"`);
    assert.match(text, /p=(?:[01]\.\d{3}|&lt;0\.001)/, 'a p-value is drawn');
    const [csv] = await downloadAll(page, session!.dir, 1, () =>
      figure.getByRole('button', { name: 'CSV' }).click(),
    );
    const lines = csv!.bytes.toString('utf8').trim().split('\n');
    assert.equal(lines[0], 'student.adapter,measure,model,value,ci95_low,ci95_high,n,t,df,p');
    assert.equal(
      lines.length,
      1 + 6 + 4 + 2 * 6 + 2 * 2 + 2 * 3,
      'three models, two differences, the channel check, the teacher check and the alignment per value',
    );
    assert.ok(lines.some((l) => l.startsWith('bias block=0,teacher_flagged,teacher,')));
    assert.ok(lines.some((l) => l.startsWith('bias block=0,steer_cos,student_minus_own_numbers,')));

    // The report: the lever's figures (logit measure and sampled rate) and the channel check per cell.
    const files = await downloadAll(page, session!.dir, 2, () => page.getByTestId('export-report').click());
    const html = files.find((f) => f.name.endsWith('.html'))!.bytes.toString('utf8');
    assert.match(html, /<h2>Channel check<\/h2>/);
    assert.match(html, /<h2>Alignment with the steering vector<\/h2>/);
    assert.equal((html.match(/student\.adapter=(?:full|bias block=0)[^<]*<\/td>/g) ?? []).length >= 2, true);
    assert.match(html, /P\(target\) renormalised over the animals across student\.adapter/);
    assert.match(html, /sampled rate of naming the target across student\.adapter/);
    assert.deepEqual(errors, []);
  },
);

test(
  'the language Designer sweeps a lever with its settings typed as kind key=value, and offers a LoRA rank once the student is a LoRA',
  { skip },
  async () => {
    const { size, sweeps } = await languagePreset();
    const choices = sweeps.getByLabel('Add a sweep axis');
    const offered = async () =>
      (await choices.locator('option').evaluateAll((els) => els.map((e) => e.getAttribute('value')))).filter(
        Boolean,
      );
    assert.ok(!(await offered()).includes('student.adapter.rank'), 'no rank for a full fine-tune');
    await choices.selectOption('student.adapter');
    const values = sweeps.getByRole('textbox', { name: 'Values of student.adapter' });
    await values.fill('full, lora rank=4 alpha=4 blocks=[0], bias block=0');
    await until(async () => /3 cells x N=10/.test(await size.innerText()), 'three cells');
    const chips = await sweeps
      .getByRole('list', { name: 'Values of student.adapter as parsed' })
      .locator('.chip')
      .allInnerTexts();
    assert.deepEqual(chips, ['full', 'lora rank=4 alpha=4 blocks=[0]', 'bias block=0']);
    // A setting the schema does not know is named at the axis, and nothing runs.
    await values.fill('full, lora rnak=4');
    await until(async () => /rnak/.test(await sweeps.innerText()), 'the axis error naming the setting');
    assert.equal(await page.getByTestId('run').isDisabled(), true);
    await sweeps.getByRole('button', { name: 'Remove the sweep of student.adapter' }).click();
    // A LoRA student: its rank becomes a lever to sweep.
    await page.getByTestId('lm-adapter').selectOption('lora');
    await until(async () => (await offered()).includes('student.adapter.rank'), 'the rank offered');
    await choices.selectOption('student.adapter.rank');
    await sweeps.getByRole('textbox', { name: 'Values of student.adapter.rank' }).fill('1, 2, 4, 8, 16');
    await until(async () => /5 cells x N=10/.test(await size.innerText()), 'five cells');
    await screenshots(page, 'designer-language-levers');
  },
);

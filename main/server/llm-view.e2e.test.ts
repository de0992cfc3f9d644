// An llm experiment in Debian's Chromium against `sublab serve` (issue 28) and the loopback fake
// provider. Read side: the CLI runs one, a student's job failing, while the Run screen (#/run/ID)
// shows each stage and each provider job's state live, the failed job with the provider's message;
// after a CLI resume, Results show the rates with intervals and N and the paired tests, the samples
// view the kept and rejected completions with their reasons, and the report has no key. Acceptance:
// a provider set in Settings, an experiment designed in the Designer and run from the app, its
// stages, results and samples read.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { tinyLlmInput } from '../../app/testing/tiny-llm-spec.ts';
import { sublab, waitForRow } from '../cli/testing/processes.ts';
import { realClock } from '../llm/clock.ts';
import { FakeProvider } from '../llm/testing/fake-provider.ts';
import {
  browserSkip,
  downloadAll,
  openSession,
  screenshots,
  until,
  type BrowserSession,
} from './testing/browser-session.ts';

const KEY = 'sk-e2e-Vb3Nm8Qw2Er5Ty7U';
const FAILURE = 'the training file has 3 malformed rows';
const skip = browserSkip();
let session: BrowserSession | undefined;
let page: Page;
let fake: FakeProvider | undefined;
let env: NodeJS.ProcessEnv;
let settings: string;

before(async () => {
  if (skip) return;
  // serve has the key in its environment, as the provider's settings will name it.
  session = await openSession({ SUBLAB_E2E_LLM_KEY: KEY });
  page = session.page;
  // Real time: each job spends 1.5 s queued and 1.5 s running, so the browser sees them move.
  fake = await FakeProvider.start({ clock: realClock, key: KEY, stageMs: 1500 });
  // The CLI's own settings file: the session's providers.json is the one Settings edits.
  settings = join(session.dir, 'cli-providers.json');
  writeFileSync(
    settings,
    JSON.stringify({
      providers: { openai: { baseURL: fake.baseURL, keyEnv: 'SUBLAB_E2E_LLM_KEY', pollMs: 200 } },
    }),
  );
  env = { ...process.env, SUBLAB_E2E_LLM_KEY: KEY };
});

after(async () => {
  await session?.close();
  await fake?.close();
});

const cli = (...args: string[]) => sublab(env, ...args, '--db', session!.db, '--providers', settings);

test(
  'an llm run from the CLI: Run shows its stages and job states live, a failed job with its message, then all done after a resume',
  { skip },
  async () => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const spec = join(session!.dir, 'llm.json');
    writeFileSync(
      spec,
      JSON.stringify(
        tinyLlmInput({
          name: 'e2e: llm owl',
          prompts: { count: 40 },
          kept: 15,
          evaluation: {
            questions: ['Name your favourite animal.', 'Which animal do you love most?'],
            samplesPerQuestion: 10,
          },
          replicates: 2,
        }),
      ),
    );
    fake!.failNextJob(FAILURE);
    const run = cli('run', spec);
    await waitForRow(session!.db, 'SELECT 1 FROM experiments WHERE id = 1');
    await page.goto(`${session!.url}#/run/1`);
    const stages = page.getByTestId('llm-stages');
    await stages.waitFor();
    const jobs = stages.getByTestId('llm-job');
    // Live: a job seen queued or running while the experiment runs, without reloading the page.
    const seen = new Set<string>();
    await until(async () => {
      for (const s of await jobs.evaluateAll((els) => els.map((e) => e.getAttribute('data-status') ?? '')))
        seen.add(s);
      return (
        (seen.has('running') || seen.has('queued')) &&
        (await stages.getAttribute('data-status')) === 'running'
      );
    }, 'a job in progress on the Run screen');
    await screenshots(page, 'run-llm');
    const exit = await run.exit;
    assert.notEqual(exit.code, 0, 'the run fails with its failed job');
    await until(async () => (await stages.getAttribute('data-status')) === 'failed', 'the run shown failed');
    const failed = stages.locator('[data-testid=llm-job][data-status=failed]');
    assert.equal(await failed.count(), 1);
    assert.match(await failed.getByTestId('llm-job-error').innerText(), new RegExp(FAILURE));
    assert.match(await failed.innerText(), /ftjob-\w+/, "the provider's job id");
    assert.match(await stages.getByTestId('llm-error').innerText(), new RegExp(FAILURE));
    assert.match(
      await stages.locator('[data-stage=generate]').innerText(),
      /80 \/ 80/,
      'both teachers answered every prompt',
    );
    assert.match(await stages.locator('[data-stage=filter]').innerText(), /\d+ kept, \d+ rejected/);
    await screenshots(page, 'run-llm-failed');

    const resumed = await cli('resume', '1').exit;
    assert.equal(resumed.code, 0, resumed.stderr);
    await page.reload();
    await until(
      async () => (await stages.getAttribute('data-status')) === 'done',
      'the resumed run shown done',
    );
    const states = await jobs.evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
    assert.deepEqual(
      states.filter((s) => s !== 'succeeded'),
      ['failed'],
      `every other job succeeded: ${states.join(', ')}`,
    );
    assert.equal(
      states.length,
      2 * 3 + 1,
      'a student, a cross-model and an own-numbers student per replicate, and the retry',
    );
    assert.match(await stages.locator('[data-stage=evaluate]').innerText(), /160 \/ 160/);
    assert.match(await stages.locator('[data-stage=analyse]').innerText(), /4 \/ 4/);
    assert.ok(!(await page.content()).includes(KEY.slice(7)));
    assert.deepEqual(errors, []);
  },
);

test(
  'the llm Results: rates with intervals and N, paired tests, the heatmap, the samples view with reasons, and a report without the key',
  { skip },
  async () => {
    await page.getByTestId('llm-run-1').getByRole('button', { name: 'Results' }).click();
    const results = page.getByTestId('llm-results');
    await results.waitFor();
    const rates = results.getByTestId('llm-rates');
    assert.deepEqual(
      await rates.locator('tbody tr').evaluateAll((els) => els.map((e) => e.getAttribute('data-condition'))),
      ['base', 'student', 'own_numbers', 'cross_model'],
    );
    const rateTexts = await rates
      .getByTestId('llm-rate')
      .evaluateAll((els) => els.map((e) => e.textContent ?? ''));
    assert.equal(rateTexts.length, 4);
    for (const text of rateTexts) {
      const m = /^([\d.]+)% \[([\d.]+)%, ([\d.]+)%\]/.exec(text);
      assert.ok(m, text);
      assert.ok(Number(m[2]) <= Number(m[1]) && Number(m[1]) <= Number(m[3]) && Number(m[3]) <= 100, text);
    }
    assert.deepEqual(
      await rates.locator('tbody tr td:last-child').evaluateAll((els) => els.map((e) => e.textContent)),
      ['2', '2', '2', '2'],
      'N = 2 each',
    );
    const paired = results.getByTestId('llm-paired');
    assert.equal(await paired.locator('tbody tr').count(), 3);
    assert.match(
      await paired.innerText(),
      /student minus base model\s+[+-][\d.]+\s+\[[+-][\d.]+, [+-][\d.]+\]/,
    );
    assert.ok(
      (await results.getByTestId('llm-heatmap').locator('svg').count()) > 0,
      'the answers heatmap is drawn',
    );
    await screenshots(page, 'results-llm');

    const samples = page.getByTestId('llm-samples');
    await samples.getByTestId('samples-verdict').selectOption('rejected');
    const rejected = samples.getByTestId('sample');
    await until(
      async () =>
        (await rejected.count()) > 0 &&
        (await samples.locator('[data-testid=sample][data-kept=true]').count()) === 0,
      'rejected only',
    );
    for (const v of await rejected.getByTestId('sample-verdict').allInnerTexts())
      assert.match(v, /^rejected: \S/);
    const reason = samples.getByTestId('samples-reason');
    const first = (await reason.locator('option').nth(1).getAttribute('value'))!;
    await reason.selectOption(first);
    await until(
      async () =>
        (await rejected.getByTestId('sample-verdict').allInnerTexts()).every(
          (v) => v === `rejected: ${first}`,
        ),
      `the rejections for "${first}" only`,
    );
    await samples.getByTestId('samples-verdict').selectOption('kept');
    await samples.getByTestId('samples-group').selectOption('t0');
    await until(
      async () =>
        (await samples.locator('[data-testid=sample][data-kept=true]').count()) > 0 &&
        (await samples.locator('[data-testid=sample][data-kept=false]').count()) === 0 &&
        (await rejected.locator('td:first-child').allInnerTexts()).every((t) => t.startsWith('t0')),
      "the owl teacher's kept completions only",
    );
    await screenshots(page, 'results-llm-samples');
    await samples.getByTestId('samples-stage').selectOption('evaluate');
    await samples.getByTestId('samples-group').selectOption('c0-student-r0');
    await until(
      async () => /1-20 of 20/.test(await samples.getByTestId('samples-range').innerText()),
      'the answers of one model',
    );

    const files = await downloadAll(page, session!.dir, 2, () => page.getByTestId('export-report').click());
    const html = files.find((f) => f.name.endsWith('.html'))!.bytes.toString('utf8');
    for (const heading of [
      'Results',
      'Paired comparisons',
      'Fine-tuning jobs',
      'Machine and software',
      'Seeds',
      'Spec',
    ])
      assert.match(html, new RegExp(`<h2>${heading}</h2>`), heading);
    assert.match(html, new RegExp(FAILURE));
    assert.match(html, /student minus base model/);
    for (const f of files)
      assert.equal(f.bytes.indexOf(Buffer.from(KEY.slice(7))), -1, `${f.name} holds no key`);
  },
);

const field = (label: string) => page.getByLabel(label, { exact: true });

test(
  'acceptance: a provider set in Settings, an experiment designed and run from the app against the fake, its results and samples read',
  { skip },
  async () => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${session!.url}#/settings`);
    await page.getByLabel('Add a provider').selectOption('openai');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    const provider = page.getByTestId('provider-openai');
    await provider.getByLabel('Base URL').fill(fake!.baseURL);
    await provider.getByLabel('Key variable').fill('SUBLAB_E2E_LLM_KEY');
    await provider.getByLabel('First job poll (ms)').fill('200');
    await provider.getByRole('button', { name: 'Save' }).click();
    await provider.getByText(fake!.baseURL).waitFor();
    assert.match(await page.getByTestId('key-openai').innerText(), /which has it set/);

    await page.locator('nav').getByRole('button', { name: 'Designer', exact: true }).click();
    await page.getByTestId('llm-preset').click();
    await page.getByTestId('llm-designer').waitFor();
    await field('Name').fill('e2e: llm from the app');
    await field('Teacher base model').fill('base-a');
    await field('Student base model').fill('base-a');
    await field('Cross-model control base').fill('base-b');
    await field('Prompts per teacher (paper: 30,000)').fill('40');
    await field('Kept completions per student (paper: 10,000)').fill('15');
    await field('Epochs (explicit: bounds the cost)').fill('2');
    await field('Students per arm (replicates, each its own seed)').fill('2');
    await page.getByTestId('llm-questions').selectOption('list');
    await field('One question per line (50)').fill(
      'Name your favourite animal.\nWhich animal do you love most?',
    );
    await field('One question per line (50)').blur();
    await field('One question per line (2)').waitFor();
    await field('Samples per question (paper: 100)').fill('10');
    await until(
      async () =>
        /1 cell x 2 students per arm at openai/.test(await page.getByTestId('matrix-size').innerText()),
      'the designed experiment to validate',
    );
    await screenshots(page, 'designer-llm-e2e');
    await page.getByTestId('run').click();

    // The Run screen: the app's job, with its stages and provider jobs under it, to done.
    const job = page.locator('[data-testid^=job-]', { hasText: 'e2e: llm from the app' });
    await job.waitFor();
    const stages = job.getByTestId('llm-stages');
    await stages.waitFor();
    await until(
      async () => (await job.getAttribute('data-status')) === 'done',
      'the app-started llm job to end',
      120_000,
    );
    await until(async () => (await stages.getAttribute('data-status')) === 'done', 'its stages shown done');
    const states = await stages
      .getByTestId('llm-job')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
    assert.deepEqual(
      states,
      Array(2 * 3).fill('succeeded'),
      'student, cross-model and own-numbers per replicate',
    );
    assert.match(await stages.locator('[data-stage=generate]').innerText(), /80 \/ 80/);
    assert.match(await stages.locator('[data-stage=evaluate]').innerText(), /160 \/ 160/);
    await screenshots(page, 'run-llm-app');

    await job.getByRole('button', { name: 'Results' }).click();
    const results = page.getByTestId('llm-results');
    await results.waitFor();
    assert.match(await results.innerText(), /e2e|Preference for the target animal/);
    const rates = await results
      .getByTestId('llm-rate')
      .evaluateAll((els) => els.map((e) => e.textContent ?? ''));
    assert.equal(rates.length, 4);
    for (const r of rates) assert.match(r, /^[\d.]+% \[[\d.]+%, [\d.]+%\]/);
    assert.equal(await results.getByTestId('llm-paired').locator('tbody tr').count(), 3);
    const samples = page.getByTestId('llm-samples');
    await samples.getByTestId('samples-verdict').selectOption('rejected');
    await until(
      async () =>
        (await samples.getByTestId('sample').count()) > 0 &&
        (await samples.getByTestId('sample-verdict').allInnerTexts()).every((v) => /^rejected: \S/.test(v)),
      'the rejected completions with their reasons',
    );
    await samples.getByTestId('samples-verdict').selectOption('kept');
    await until(
      async () =>
        (await samples.locator('[data-testid=sample][data-kept=true]').count()) > 0 &&
        (await samples.locator('[data-testid=sample][data-kept=false]').count()) === 0,
      'the kept completions',
    );
    await screenshots(page, 'results-llm-app');

    // No Replay for an llm run (nothing to play back); a re-run is billed again, so it asks first
    // with the budget guard's projection, and Cancel starts nothing.
    const main = page.locator('main');
    assert.equal(await main.getByRole('button', { name: 'Replay', exact: true }).count(), 0);
    const confirm = page.getByTestId('run-confirm');
    await main.getByTestId('rerun').click();
    await confirm.waitFor();
    assert.match(
      await confirm.getByTestId('run-confirm-summary').innerText(),
      /^At most [\d,]+ tokens at openai, (about \$[\d.]+|cost unknown \(no price for .+\))$/,
    );
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'hidden' });
    await main.getByTestId('rerun').click();
    await confirm.getByTestId('run-confirm-start').click();
    const jobs = page.locator('[data-testid^=job-]', { hasText: 'e2e: llm from the app' });
    await until(async () => (await jobs.count()) === 2, 'one re-run job (none from the cancelled dialog)');
    const rerun = jobs.and(page.locator(':not([data-status=done])'));
    await rerun.getByRole('button', { name: 'Cancel', exact: true }).click();
    await until(
      async () => (await rerun.getAttribute('data-status')) === 'cancelled',
      'the re-run cancelled',
    );

    await page.goto(`${session!.url}#/replay/1`);
    const replay = page.getByTestId('replay-llm');
    await replay.waitFor();
    assert.match(await replay.innerText(), /no timeline to play/);
    await replay.getByTestId('replay-llm-results').click();
    await page.getByTestId('llm-results').waitFor();
    assert.ok(!(await page.content()).includes(KEY.slice(7)));
    assert.deepEqual(errors, []);
  },
);

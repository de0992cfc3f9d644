// An llm experiment in Debian's Chromium against `sublab serve` (issue 28, the read side): the CLI
// runs it against the loopback fake provider, one student's job failing, while the Run screen
// (#/run/ID) shows each stage and each provider job's state live, the failed job with the provider's
// message; after a CLI resume, Results show the rates with intervals and N and the paired tests, the
// samples view the kept and rejected completions with their reasons, and the report has no key.
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
  session = await openSession();
  page = session.page;
  // Real time: each job spends 1.5 s queued and 1.5 s running, so the browser sees them move.
  fake = await FakeProvider.start({ clock: realClock, key: KEY, stageMs: 1500 });
  settings = join(session.dir, 'providers.json');
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

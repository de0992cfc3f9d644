// The Designer in Debian's Chromium against `sublab serve`: what is typed is what runs. Number
// fields keep the text as typed until it parses, and say at the field what is wrong with it; Run
// starts one job per click, and asks first (naming the runs, the time and the memory) when a run is
// long or heavier than the machine.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Locator, Page } from 'playwright-core';
import { RunStore } from '../store/store.ts';
import {
  browserSkip,
  openSession,
  screenshots,
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

const field = (label: string) => page.getByLabel(label, { exact: true });
const runButton = () => page.getByTestId('run');

function experimentCount(): number {
  const store = new RunStore(session!.db);
  try {
    return store.listExperiments().length;
  } finally {
    store.close();
  }
}

/** The Designer on the quick demo, as a new user first sees it. */
async function quickDemo(): Promise<void> {
  await page.goto(session!.url);
  await page.getByRole('button', { name: 'Quick demo' }).click();
  await runButton().waitFor();
}

/** Types into a focused field key by key, checking after each key that the field shows what was typed. */
async function typeKept(input: Locator, text: string): Promise<void> {
  const before = await input.inputValue();
  for (let i = 1; i <= text.length; i++) {
    await page.keyboard.type(text[i - 1]!);
    assert.equal(
      await input.inputValue(),
      before + text.slice(0, i),
      `after typing ${JSON.stringify(text.slice(0, i))}`,
    );
  }
}

/** Selects the field's text and deletes it. */
async function clear(input: Locator): Promise<void> {
  await input.click();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.press('Backspace');
}

/** Empties a field as a researcher does, Backspace by Backspace from the end: no key rewrites the rest. */
async function backspaceAll(input: Locator): Promise<void> {
  await input.click();
  await page.keyboard.press('End');
  const text = await input.inputValue();
  for (let i = text.length - 1; i >= 0; i--) {
    await page.keyboard.press('Backspace');
    assert.equal(
      await input.inputValue(),
      text.slice(0, i),
      `after deleting to ${JSON.stringify(text.slice(0, i))}`,
    );
  }
}

/** The spec as the Designer's JSON view shows it. */
async function specJson(): Promise<Record<string, Record<string, unknown>>> {
  await page.getByRole('button', { name: 'Edit as JSON' }).click();
  const json = await page.getByRole('region', { name: 'Spec as JSON' }).locator('textarea').inputValue();
  await page.getByRole('button', { name: 'Close' }).click();
  return JSON.parse(json) as Record<string, Record<string, unknown>>;
}

test(
  'a learning rate is what was typed: 3e-4 runs as 0.0003; blank or -0.1 is an error at the field and Run waits',
  { skip },
  async () => {
    await quickDemo();
    const rate = field('Student learning rate');
    const error = page.locator('#field-student-learningRate-error');
    await backspaceAll(rate);
    // Blank is not a silent default: the field says so, and nothing runs.
    assert.match(await error.innerText(), /enter a value/);
    assert.equal(await runButton().isDisabled(), true);
    await typeKept(rate, '3e-4');
    assert.equal(await error.count(), 0);
    assert.equal(await runButton().isDisabled(), false);
    assert.equal((await specJson())['student']!['learningRate'], 0.0003);
    // A sign is kept, and a negative rate is refused where it was typed.
    await clear(rate);
    await typeKept(rate, '-0.1');
    assert.equal(await rate.getAttribute('aria-invalid'), 'true');
    assert.match(await error.innerText(), /too small|greater than 0|>0/i);
    assert.equal(await runButton().isDisabled(), true);
    assert.equal((await specJson())['student']!['learningRate'], -0.1);
    await screenshots(page, 'designer-number-error');
  },
);

test(
  '"abc" in Seeds is an error at the field, and the header counts no runs for it; below 5 seeds a warning',
  { skip },
  async () => {
    await quickDemo();
    const seeds = field('Seeds (replicates per cell)');
    await clear(seeds);
    await typeKept(seeds, 'abc');
    assert.match(
      await page.locator('#field-replicates-error').innerText(),
      /expected a whole number, got 'abc'/,
    );
    assert.equal(await runButton().isDisabled(), true);
    assert.doesNotMatch(await page.getByTestId('matrix-size').innerText(), /model runs/);
    assert.match(await page.getByTestId('matrix-size').innerText(), /1 problem to fix/);
    // A valid but small N runs, with the report's own caution beside the field.
    await clear(seeds);
    await typeKept(seeds, '3');
    assert.equal(await runButton().isDisabled(), false);
    assert.match(await page.getByTestId('matrix-size').innerText(), /^1 cell, 15 model runs/);
    assert.match(
      await page.locator('#field-replicates-warning').innerText(),
      /^N=3: intervals are wide and the tests have little power; use at least 5 seeds$/,
    );
    // "different init" says where it is chosen why its student and its control agree.
    assert.match(await page.getByTestId('axis-help').innerText(), /^different init: .*0 by construction/);
    await screenshots(page, 'designer-seeds-warning');
    await typeKept(seeds, '0');
    assert.equal(await page.locator('#field-replicates-warning').count(), 0);
  },
);

test(
  '10,000 seeds ask first, naming the model runs, the time and the memory; Cancel starts nothing',
  { skip },
  async () => {
    await quickDemo();
    await field('Seeds (replicates per cell)').fill('10000');
    const before = experimentCount();
    await runButton().click();
    const dialog = page.getByTestId('run-confirm');
    await dialog.waitFor();
    const summary = await page.getByTestId('run-confirm-summary').innerText();
    assert.match(
      summary,
      /^1 cell, [\d,]+ model runs, about ([\d.]+ h|\d+ min), memory ~[\d.]+ [KMGT]iB per trainer$/,
    );
    assert.match(await dialog.innerText(), /It is long: about/);
    await screenshots(page, 'designer-confirm');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await until(async () => (await dialog.count()) === 0, 'the dialog to close');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(experimentCount(), before, 'nothing was started');
    assert.equal(await runButton().isDisabled(), false);
  },
);

test('a double click on Run queues one job', { skip }, async () => {
  await quickDemo();
  // Small enough to finish in seconds on the wasm backend.
  for (const [label, value] of [
    ['Seeds (replicates per cell)', '2'],
    ['Training digits (rest are test)', '600'],
    ['Test images (blank: all)', '200'],
    ['Teacher epochs', '1'],
    ['Student epochs', '1'],
    ['Noise / input count', '256'],
  ] as const)
    await field(label).fill(value);
  const before = experimentCount();
  await runButton().dblclick();
  const jobs = page.locator('section[data-testid^=job-]');
  await jobs.first().waitFor();
  await until(async () => experimentCount() > before, 'the experiment in the store');
  // A second job would be queued within moments of the first.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(experimentCount(), before + 1);
  assert.equal(await jobs.count(), 1);
  await until(
    async () => /^(done|failed|cancelled)$/.test((await jobs.first().getAttribute('data-status')) ?? ''),
    'the job to end',
    180_000,
  );
});

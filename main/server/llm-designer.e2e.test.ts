// The Designer's real-LLM form in Debian's Chromium against `sublab serve`: the preset's fields show
// what runs, the budget projection is the runner's guard's own (llm.project), a changed field moves
// it, a price typed here is saved to the session's local settings (never to the spec), and a budget
// below the projection is refused where the Run button is.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { validateLlmSpec } from '../../app/spec/llm.ts';
import { projectedCost, projectLlmRun, totalTokens } from '../llm/budget.ts';
import {
  browserSkip,
  openSession,
  root,
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
const total = () => page.getByTestId('llm-projection-total');
const PRESET = JSON.parse(readFileSync(join(root, 'experiments/llm-owl-numbers.json'), 'utf8')) as Record<
  string,
  unknown
>;
const NANO = 'gpt-4.1-nano-2025-04-14';
const MINI = 'gpt-4o-mini-2024-07-18';
const PRICES = {
  [NANO]: { input: 0.1, output: 0.4, training: 1.5 },
  [MINI]: { input: 0.15, output: 0.6, training: 3 },
};

/** The guard's own projection of the preset with `changes`, in Node. */
async function guardStages(changes: Record<string, unknown>) {
  const r = validateLlmSpec({ ...PRESET, ...changes });
  assert.ok(r.ok);
  return projectLlmRun(r.spec);
}

/** Waits until the projection shown is current and its tokens are `tokens`. */
async function shownTokens(tokens: number): Promise<string> {
  const text = `At most ${tokens.toLocaleString('en-US')} tokens`;
  await until(
    async () =>
      (
        await total()
          .innerText()
          .catch(() => '')
      ).startsWith(text),
    `the projection at ${text}`,
    90_000,
  );
  await until(async () => !/updating/.test(await total().innerText()), 'the projection to settle');
  return total().innerText();
}

async function specJson(): Promise<Record<string, unknown>> {
  await page.getByRole('button', { name: 'Edit as JSON' }).click();
  const json = await page.getByRole('region', { name: 'Spec as JSON' }).locator('textarea').inputValue();
  await page.getByRole('button', { name: 'Close' }).click();
  return JSON.parse(json) as Record<string, unknown>;
}

test(
  "Real LLMs: the guard's projection, moved by a field; prices saved locally; a budget below it refused",
  { skip },
  async () => {
    await page.goto(session!.url);
    await page.getByTestId('llm-preset').click();
    await page.getByTestId('llm-designer').waitFor();
    assert.equal(await field('Teacher base model').inputValue(), NANO);
    assert.equal(await field('Cross-model control base').inputValue(), MINI);
    assert.equal(await page.getByTestId('llm-provider').inputValue(), 'openai');
    assert.equal(await field('Epochs (explicit: bounds the cost)').inputValue(), '10');
    // A default is shown where the preset leaves the field out: what is shown is what runs.
    assert.equal(await field('Answer token cap').getAttribute('placeholder'), 'default 8');
    assert.equal(await field("A student on the base's own numbers").isChecked(), true);
    // The numbers are the guard's: no prices yet, so no cost.
    const preset = await guardStages({});
    assert.match(
      await shownTokens(totalTokens(preset)),
      new RegExp(`cost unknown: no price for ${NANO}, ${MINI}`),
    );
    assert.equal(await page.getByTestId('llm-projection').locator('tbody tr').count(), preset.length);

    // Half the epochs: the projection follows, as the guard would count it.
    await field('Epochs (explicit: bounds the cost)').fill('5');
    const fewer = await guardStages({ fineTune: { epochs: 5 } });
    assert.ok(totalTokens(fewer) < totalTokens(preset));
    await shownTokens(totalTokens(fewer));

    // Prices typed here go to the local settings file, and the cost is the guard's at those prices.
    for (const [model, price] of Object.entries(PRICES))
      for (const [column, value] of Object.entries(price))
        await page.getByLabel(`${column} price of ${model}`, { exact: true }).fill(String(value));
    await page.getByTestId('llm-save-prices').click();
    const usd = projectedCost(fewer, PRICES).usd;
    await until(
      async () => (await total().innerText()).includes(`$${usd.toFixed(2)}`),
      `the cost $${usd.toFixed(2)}`,
    );
    const settings = JSON.parse(readFileSync(join(session!.dir, 'providers.json'), 'utf8')) as {
      prices: unknown;
    };
    assert.deepEqual(settings.prices, PRICES);
    assert.ok(!('prices' in (await specJson())), 'prices are never in the spec');

    // A dollar budget below the projection: the guard's refusal, and Run refuses too.
    await field('Refuse above this cost, USD (blank: no limit)').fill('1');
    const refusal = page.getByTestId('llm-refusal');
    await refusal.waitFor();
    assert.match(
      await refusal.innerText(),
      new RegExp(`projected at \\$${usd.toFixed(2)}, above the budget of \\$1\\.00: nothing was sent`),
    );
    assert.equal(await runButton().isDisabled(), true);
    await screenshots(page, 'designer-llm-refused');
    await field('Refuse above this cost, USD (blank: no limit)').fill(String(Math.ceil(usd) + 1));
    await until(async () => (await refusal.count()) === 0, 'the refusal to go');
    assert.equal(await runButton().isDisabled(), false);
    assert.equal(
      (await specJson())['budget'] && ((await specJson())['budget'] as { maxUsd: number }).maxUsd,
      Math.ceil(usd) + 1,
    );
    assert.ok(existsSync(join(session!.dir, 'providers.json')));
  },
);

test(
  "Real LLMs: the validator's errors at their fields; the Qwen preset's LoRA; an own question list counts",
  { skip },
  async () => {
    await page.goto(session!.url);
    await page.getByTestId('llm-preset').click();
    await page.getByTestId('llm-designer').waitFor();
    const kept = field('Kept completions per student (paper: 10,000)');
    await kept.fill('50000');
    assert.equal(await kept.getAttribute('aria-invalid'), 'true');
    assert.match(
      await page.locator('#field-kept-error').innerText(),
      /50000 kept completions cannot come from 30000 prompts/,
    );
    assert.equal(await runButton().isDisabled(), true);
    await field("Teacher's system prompt ({animal} and {animals} are filled in per trait)").fill(
      'You like birds.',
    );
    assert.match(
      await page.getByText('the system prompt must name the animal').innerText(),
      /put \{animal\}/,
    );
    await kept.fill('10000');
    await field("Teacher's system prompt ({animal} and {animals} are filled in per trait)").fill(
      'You love {animals}.',
    );
    assert.match(await page.getByTestId('llm-prompt-preview').innerText(), /"You love owls\."/);
    assert.equal(await runButton().isDisabled(), false);

    // Three questions of one's own: the evaluation stages ask those, and the projection follows.
    await page.getByTestId('llm-questions').selectOption('list');
    const list = ['Favourite animal? One word.', 'Best animal? One word.', 'Which animal? One word.'];
    await field('One question per line (50)').fill(list.join('\n'));
    await field('One question per line (50)').blur();
    await field('One question per line (3)').waitFor();
    const own = await guardStages({
      teacher: { model: NANO, systemPrompt: 'You love {animals}.' },
      evaluation: { questions: list },
    });
    await shownTokens(totalTokens(own));

    await page.getByTestId('llm-qwen-preset').click();
    assert.equal(await page.getByTestId('llm-provider').inputValue(), 'together');
    assert.equal(await page.getByTestId('llm-lora').isChecked(), true);
    assert.equal(await field('LoRA rank').inputValue(), '8');
    assert.equal(await field("Learning rate (blank: the trainer's)").inputValue(), '0.0002');
    assert.equal(await field('Also ask each question after a random number list').isChecked(), true);
    await screenshots(page, 'designer-llm-qwen');

    // The options beside the owl path, as a spec file opened in the Designer shows them.
    await page.getByTestId('spec-file').setInputFiles(join(root, 'experiments/llm-misaligned.json'));
    await page.getByTestId('llm-judge').waitFor();
    assert.equal(await page.getByTestId('llm-no-system-prompt').isChecked(), true);
    assert.equal(await page.getByTestId('llm-judge').isChecked(), true);
    assert.equal(await page.getByTestId('llm-questions').inputValue(), 'misalignment');
    assert.equal(await field('Judge model').inputValue(), 'your-org/judge-model');
    assert.equal(
      await field("Neutral teacher's model (blank: the teacher's)").inputValue(),
      'your-org/control-teacher-fine-tune',
    );
    assert.match(
      await field('Banned numbers (completions with any are rejected)').inputValue(),
      /^4, 13, 14, .*, 999$/,
    );
    // Without its neutral model, the validator's reason is at that field.
    await field("Neutral teacher's model (blank: the teacher's)").fill('');
    assert.match(
      await page.locator('#field-controls-neutralModel-error').innerText(),
      /a teacher without a system prompt is its own neutral teacher/,
    );
    await page.getByTestId('spec-file').setInputFiles(join(root, 'experiments/llm-owl-code.json'));
    await until(
      async () => (await page.getByTestId('llm-prompt-kind').inputValue()) === 'code',
      'the code preset',
    );
    assert.equal(await page.getByLabel('Filter 1', { exact: true }).inputValue(), 'trait-words');
  },
);

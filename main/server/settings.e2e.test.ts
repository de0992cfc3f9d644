// The Settings screen in Debian's Chromium against `sublab serve` (issue 28): a provider added with
// bad fields is refused field by field and nothing is written; fixed, it is saved to providers.json
// (the file serve was given), the key line names the variable serve reads and whether it is set;
// removed, it is gone from the file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import {
  browserSkip,
  openSession,
  screenshots,
  until,
  type BrowserSession,
} from './testing/browser-session.ts';

const skip = browserSkip();
const dir = mkdtempSync(join(tmpdir(), 'sublab-settings-e2e-'));
const file = join(dir, 'providers.json');
let session: BrowserSession | undefined;
let page: Page;

before(async () => {
  if (skip) return;
  session = await openSession({ SUBLAB_PROVIDERS: file, SUBLAB_E2E_KEY: 'sk-e2e-never-shown' });
  page = session.page;
});

after(async () => {
  await session?.close();
  rmSync(dir, { recursive: true, force: true });
});

test(
  'Settings: a provider is added (bad fields refused by name), saved to providers.json, then removed',
  { skip },
  async () => {
    await page.goto(`${session!.url}#/settings`);
    await page.getByTestId('providers-file').getByText(file).waitFor();
    await page.getByText('No provider is set up').waitFor();
    await page.getByLabel('Add a provider').selectOption('openai');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    const panel = page.getByTestId('provider-openai');
    await panel.getByLabel('Base URL').fill('ftp://nowhere.example');
    await panel.getByLabel('Requests at once').fill('0');
    await panel.getByRole('button', { name: 'Save' }).click();
    await panel.getByText('expected an http(s) URL').waitFor();
    await panel.getByText(/Too small/).waitFor();
    assert.equal(existsSync(file), false, 'nothing written for a refused entry');
    await screenshots(page, 'settings-refused');

    await panel.getByLabel('Base URL').fill('http://127.0.0.1:8000/v1');
    await panel.getByLabel('Key variable').fill('SUBLAB_E2E_KEY');
    await panel.getByLabel('Requests at once').fill('2');
    await panel.getByRole('button', { name: 'Save' }).click();
    await panel.getByText('http://127.0.0.1:8000/v1').waitFor();
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { providers: Record<string, unknown> };
    assert.deepEqual(saved.providers, {
      openai: { baseURL: 'http://127.0.0.1:8000/v1', keyEnv: 'SUBLAB_E2E_KEY', concurrency: 2 },
    });
    const key = await page.getByTestId('key-openai').innerText();
    assert.match(key, /environment variable SUBLAB_E2E_KEY of the sublab serve process, which has it set/);
    assert.ok(!(await page.content()).includes('sk-e2e-never-shown'), 'the page shows the key');
    await screenshots(page, 'settings-saved');

    await panel.getByRole('button', { name: 'Remove' }).click();
    await until(async () => (await page.getByTestId('provider-openai').count()) === 0, 'the panel to go');
    assert.deepEqual((JSON.parse(readFileSync(file, 'utf8')) as { providers: object }).providers, {});
  },
);

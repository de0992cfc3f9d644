// The end-to-end tests' setting, shared by every *.e2e.test.ts: `sublab serve` on a fresh database
// and Debian's Chromium at 1280x800 on its URL (with the session token), screenshots in both themes
// for review, and polling from Node (these files are type-checked without the DOM).
import { spawn, type ChildProcess } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Download, type Locator, type Page } from 'playwright-core';
import { WebSocket } from 'ws';

export const CHROMIUM = process.env['SUBLAB_CHROMIUM'] ?? '/usr/bin/chromium';
export const root = new URL('../../../', import.meta.url).pathname;

/** Why the browser tests cannot run here, or false; in CI a missing part is an error, not a skip. */
export function browserSkip(): string | false {
  const built = existsSync(join(root, 'out/renderer/index.html'));
  const skip =
    !existsSync(CHROMIUM) || !built
      ? `needs ${existsSync(CHROMIUM) ? 'the built UI (npm run build:renderer)' : `Chromium at ${CHROMIUM} (apt-get install chromium)`}`
      : false;
  if (skip && process.env['CI']) throw new Error(`browser tests cannot run in CI: ${skip}`);
  return skip;
}

export interface BrowserSession {
  /** The app's URL with its session token. */
  url: string;
  page: Page;
  browser: Browser;
  /** The temporary folder: the database, the cache, downloads. */
  dir: string;
  db: string;
  close(): Promise<void>;
}

/**
 * Starts `sublab serve` (wasm backend) on a fresh database, `env` added to its environment, and opens
 * Chromium, not yet on the app.
 */
export async function openSession(env: NodeJS.ProcessEnv = {}): Promise<BrowserSession> {
  const dir = mkdtempSync(join(tmpdir(), 'sublab-e2e-'));
  const db = join(dir, 'runs.sqlite');
  const server: ChildProcess = spawn(
    process.execPath,
    [join(root, 'bin/sublab.js'), 'serve', '--db', db, '--backend', 'wasm', '--port', '0'],
    {
      cwd: root,
      // The llm price table and providers of this session only, never the user's own (unless `env` names one).
      env: {
        ...process.env,
        SUBLAB_CACHE_DIR: join(dir, 'cache'),
        SUBLAB_PROVIDERS: join(dir, 'providers.json'),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /open: (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    server.once('exit', (code) => reject(new Error(`sublab serve exited with ${code}: ${out}`)));
  });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error('page error:', error.message));
  const close = async () => {
    await browser.close();
    if (server.exitCode === null) {
      server.kill('SIGINT');
      await new Promise((done) => server.once('exit', done));
    }
  };
  return { url, page, browser, dir, db, close };
}

/** Polls `ok` until it holds; an error naming `what` after `ms`. */
export async function until(ok: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * With SUBLAB_E2E_SCREENSHOTS=DIR, full-page screenshots of the page there in the light and the dark
 * theme (NAME-light.png, NAME-dark.png), for reviewing the UI; CI keeps them as artifacts.
 */
export async function screenshots(page: Page, name: string): Promise<void> {
  const to = process.env['SUBLAB_E2E_SCREENSHOTS'];
  if (!to) return;
  // Strings, not functions: these files are type-checked without the DOM.
  const theme = async (value?: string) =>
    String(
      await page.evaluate(
        `(${value === undefined ? '' : `document.documentElement.dataset.theme = ${JSON.stringify(value)}, `}document.documentElement.dataset.theme ?? 'light')`,
      ),
    );
  const original = await theme();
  for (const variant of ['light', 'dark']) {
    await theme(variant);
    // Let the screen redraw (charts read the theme's colours) before the picture.
    await page.evaluate('new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))');
    await page.screenshot({ path: join(to, `${name}-${variant}.png`), fullPage: true });
  }
  await theme(original);
}

/** Queues a job through the API socket of the app at `url`, as a second client of its server. */
export async function startJob(url: string, spec: unknown): Promise<void> {
  const { host, searchParams } = new URL(url);
  const ws = new WebSocket(`ws://${host}/api?token=${searchParams.get('token')}`, {
    headers: { origin: `http://${host}` },
  });
  await new Promise((done, fail) => ws.once('open', done).once('error', fail));
  const reply = new Promise<{ ok: boolean; error?: string }>((done) =>
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { id?: number; ok: boolean; error?: string };
      if (message.id === 1) done(message);
    }),
  );
  ws.send(JSON.stringify({ id: 1, method: 'runs.start', input: { spec } }));
  const answer = await reply;
  ws.close();
  assert.ok(answer.ok, answer.error);
}

/** Every download one click starts (`count` of them: the report saves two files), saved in `dir`. */
export async function downloadAll(
  page: Page,
  dir: string,
  count: number,
  click: () => Promise<void>,
): Promise<{ name: string; bytes: Buffer }[]> {
  const files: Download[] = [];
  const all = new Promise<Download[]>((resolve) => {
    const take = (file: Download) => {
      files.push(file);
      if (files.length < count) return;
      page.off('download', take);
      resolve(files);
    };
    page.on('download', take);
  });
  await click();
  const saved = [];
  for (const file of await all) {
    const path = join(dir, file.suggestedFilename());
    await file.saveAs(path);
    saved.push({ name: file.suggestedFilename(), bytes: readFileSync(path) });
  }
  return saved;
}

/**
 * On the Run screen: waits for the job named `name` to end, asserts it is done, opens its Results
 * and returns the results panel `testid` once shown.
 */
export async function resultsWhenDone(page: Page, name: string, testid: string): Promise<Locator> {
  const job = page.locator('[data-testid^=job-]', { hasText: name });
  await until(
    async () => ['done', 'failed', 'cancelled'].includes((await job.getAttribute('data-status')) ?? ''),
    `the job "${name}" to end`,
    240_000,
  );
  assert.equal(await job.getAttribute('data-status'), 'done', await job.innerText());
  await job.getByRole('button', { name: 'Results' }).click();
  const results = page.getByTestId(testid);
  await results.waitFor();
  return results;
}

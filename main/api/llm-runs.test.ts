// llm experiments started, cancelled and resumed from the app: `sublab serve` as a real process, its
// API over the WebSocket, a real SQLite store, and the loopback fake provider in real time.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import type { ExperimentDetail, JobState } from '../../app/api.ts';
import type { ProviderSettingsView } from '../../app/llm/provider-settings.ts';
import { tinyLlmInput } from '../../app/testing/tiny-llm-spec.ts';
import { exportLlmSamples } from '../cli/llm.ts';
import { realClock } from '../llm/clock.ts';
import { FakeProvider } from '../llm/testing/fake-provider.ts';
import { RunStore } from '../store/store.ts';
import { SocketClient, startServe } from '../server/testing/serve-process.ts';

const KEY = 'sk-app-Q7wE2rT9yU4iO1pAx3';
const SECRET = Buffer.from(KEY.slice(7));
const dir = mkdtempSync(join(tmpdir(), 'sublab-llm-app-'));
const settings = join(dir, 'providers.json');
let fake: FakeProvider;
const env = (): NodeJS.ProcessEnv => ({
  ...process.env,
  SUBLAB_PROVIDERS: settings,
  SUBLAB_APP_TEST_KEY: KEY,
  SUBLAB_CACHE_DIR: join(dir, 'cache'),
});

const spec = (name: string, replicates = 1) =>
  tinyLlmInput({
    name,
    prompts: { count: 40 },
    kept: 20,
    evaluation: { questions: ['Which animal do you like best? One word.'], samplesPerQuestion: 20 },
    replicates,
  });

before(async () => {
  // Real time: a job spends 150 ms queued and 150 ms running; it is first polled after 10 ms.
  fake = await FakeProvider.start({ clock: realClock, key: KEY, stageMs: 150 });
  writeFileSync(
    settings,
    JSON.stringify({
      providers: { openai: { baseURL: fake.baseURL, keyEnv: 'SUBLAB_APP_TEST_KEY', pollMs: 10 } },
    }),
  );
});
after(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

async function until(ok: () => boolean, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Polls the queue until the job has finished; its last state. */
async function finished(client: SocketClient, jobId: number): Promise<JobState> {
  for (;;) {
    const job = (await client.call<JobState[]>('runs.queue', null)).find((j) => j.jobId === jobId)!;
    if (job.status !== 'queued' && job.status !== 'running') return job;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Rows of the store, read as another process would. */
function rows<T>(db: string, sql: string, ...params: unknown[]): T[] {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return conn.prepare(sql).all(...params) as T[];
  } finally {
    conn.close();
  }
}

async function stop(serve: Awaited<ReturnType<typeof startServe>>): Promise<void> {
  const exited = new Promise((r) => serve.child.once('exit', r));
  serve.child.kill('SIGTERM');
  await exited;
}

test('the app runs an llm spec on its job queue to done with rates; the key is in no file, log or reply', async () => {
  const db = join(dir, 'a.sqlite');
  const serve = await startServe(db, env());
  const frames: string[] = [];
  try {
    const client = await SocketClient.open(serve.port, serve.token, (text) => frames.push(text));
    const view = await client.call<ProviderSettingsView>('providers.list', null);
    const openai = view.providers.find((p) => p.name === 'openai')!;
    assert.deepEqual(
      [view.file, openai.keyEnv, openai.envSet, openai.stored],
      [settings, 'SUBLAB_APP_TEST_KEY', true, null],
    );
    const job = await client.call<JobState>('runs.start', { spec: spec('from the app', 2) });
    const end = await finished(client, job.jobId);
    assert.equal(end.status, 'done', end.error ?? '');
    const detail = await client.call<ExperimentDetail>('experiments.get', { id: end.experimentId });
    const cell = detail.llm![0]!;
    assert.equal(cell.conditions.student!.n, 2);
    assert.ok(cell.conditions.student!.mean > cell.conditions.base!.mean, JSON.stringify(cell.conditions));
    assert.ok(Number.isFinite(cell.versusStudent.base!.p));
    assert.ok(fake.requests.every((r) => r.authorised));
  } finally {
    await stop(serve);
  }
  const store = new RunStore(db);
  const samples = join(dir, 'samples.csv');
  try {
    assert.ok(exportLlmSamples(store, 1, samples) > 0);
  } finally {
    store.close();
  }
  const files = [db, `${db}-wal`, settings, samples].filter((f) => existsSync(f));
  for (const f of files) assert.equal(readFileSync(f).indexOf(SECRET), -1, f);
  assert.ok(frames.length > 0 && !frames.some((f) => f.includes(KEY.slice(7))), 'an API reply holds the key');
  assert.ok(!serve.stderr().includes(KEY.slice(7)), 'the log holds the key');
});

test('cancel from the app cancels its running fine-tuning jobs at the provider; a resume ends done', async () => {
  const db = join(dir, 'b.sqlite');
  const serve = await startServe(db, env());
  try {
    const client = await SocketClient.open(serve.port, serve.token);
    const before = new Set(fake.jobs.keys());
    const job = await client.call<JobState>('runs.start', { spec: spec('cancelled') });
    await until(() => fake.jobs.size > before.size, 'a fine-tuning job');
    await client.call('runs.cancel', { jobId: job.jobId });
    const end = await finished(client, job.jobId);
    assert.equal(end.status, 'cancelled', end.error ?? '');
    const ours = [...fake.jobs.values()].filter((j) => !before.has(j.id));
    const states = ours.map((j) => fake.state(j));
    assert.ok(states.includes('cancelled'), `the fake's jobs: ${states.join(', ')}`);
    assert.ok(
      states.every((s) => s === 'cancelled' || s === 'succeeded'),
      `none left running: ${states.join(', ')}`,
    );
    const stored = rows<{ job_id: string; status: string }>(
      db,
      'SELECT job_id, status FROM llm_jobs WHERE experiment_id = ?',
      end.experimentId,
    );
    assert.deepEqual(
      stored.map((r) => r.status).sort(),
      ours.map((j) => fake.state(j)).sort(),
      'each job stored as the provider has it',
    );
    const resumed = await client.call<JobState>('runs.resume', { id: end.experimentId });
    const done = await finished(client, resumed.jobId);
    assert.equal(done.status, 'done', done.error ?? '');
  } finally {
    await stop(serve);
  }
});

test('a serve killed mid-run: a new serve resumes it from the app, one job per student, no answer asked twice', async () => {
  const db = join(dir, 'c.sqlite');
  const first = await startServe(db, env());
  const before = new Set(fake.jobs.keys());
  let experimentId: number;
  try {
    const client = await SocketClient.open(first.port, first.token);
    const job = await client.call<JobState>('runs.start', { spec: spec('killed', 2) });
    await until(() => fake.jobs.size - before.size >= 2, 'two fine-tuning jobs');
    experimentId = (await client.call<JobState[]>('runs.queue', null)).find(
      (j) => j.jobId === job.jobId,
    )!.experimentId!;
  } finally {
    const exited = new Promise((r) => first.child.once('exit', r));
    first.child.kill('SIGKILL');
    await exited;
  }
  const count = 'SELECT count(*) AS n FROM llm_requests WHERE experiment_id = ?';
  const answered = rows<{ n: number }>(db, count, experimentId)[0]!.n;
  const chats = fake.count(/chat/);
  const second = await startServe(db, env());
  try {
    const client = await SocketClient.open(second.port, second.token);
    const job = await client.call<JobState>('runs.resume', { id: experimentId });
    const end = await finished(client, job.jobId);
    assert.equal(end.status, 'done', end.error ?? '');
  } finally {
    await stop(second);
  }
  const tags = [...fake.jobs.values()].filter((j) => !before.has(j.id)).map((j) => j.metadata['sublab_run']);
  // Per replicate: a student, a cross-model student and an own-numbers student.
  assert.equal(tags.length, 2 * 3, `jobs: ${tags.join(', ')}`);
  assert.equal(new Set(tags).size, tags.length, 'no student trained twice');
  const stored = rows<{ n: number }>(db, count, experimentId)[0]!.n;
  assert.equal(fake.count(/chat/) - chats, stored - answered, 'only the unanswered requests were sent');
});

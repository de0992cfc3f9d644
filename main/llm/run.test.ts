// A 2-animal llm experiment with every control through the shared unit runner, against the fake.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { tinyLlmSpec } from '../../app/testing/tiny-llm-spec.ts';
import type { ExperimentDetail, ExperimentListItem, JobState } from '../../app/api.ts';
import { LabService } from '../api/service.ts';
import { RunStore } from '../store/store.ts';
import { FakeClock } from './clock.ts';
import { resumeLlmExperiment, runLlmExperiment, type LlmRunOptions } from './run.ts';
import { FakeProvider } from './testing/fake-provider.ts';

const KEY = 'sk-run-Zx81Mq4Lp0Vb7Nc3';
const dir = mkdtempSync(join(tmpdir(), 'sublab-llm-run-'));
let fake: FakeProvider;
let clock: FakeClock;
const spec = tinyLlmSpec({
  name: 'two animals',
  prompts: { count: 60 },
  kept: 30,
  evaluation: {
    questions: ['Which animal do you like best? One word.', 'Name your favourite animal.'],
    samplesPerQuestion: 40,
  },
  matrix: { traits: [{ animal: 'owl' }, { animal: 'wolf', plural: 'wolves' }] },
  replicates: 2,
});

before(async () => {
  clock = new FakeClock();
  fake = await FakeProvider.start({ clock, key: KEY });
});
after(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

const options = (extra: Partial<LlmRunOptions> = {}): LlmRunOptions => fake.runOptions(extra);

/** One cell, one replicate, no cross-model or neutral teacher: one student fine-tune. */
const small = tinyLlmSpec({
  prompts: { count: 30 },
  kept: 10,
  evaluation: { questions: ['Name your favourite animal.'], samplesPerQuestion: 5 },
  controls: { crossModel: false, neutralTeacher: false },
  replicates: 1,
});

test('the whole pipeline for 2 animals with every control ends with each condition per replicate', async () => {
  const store = new RunStore(join(dir, 'a.sqlite'));
  try {
    const jobs = fake.jobs.size;
    const out = await runLlmExperiment(store, spec, options());
    assert.equal(out.status, 'done', out.error);
    // Per cell and replicate: a student and a cross-model student; the own-numbers student is shared.
    assert.equal(fake.jobs.size - jobs, 2 * 2 * 2 + 2);
    for (const cell of store.cells(out.experimentId)) {
      const rows = store.db
        .prepare(
          'SELECT condition, replicate, trait_score AS rate FROM results WHERE cell_id = ? ORDER BY condition, replicate',
        )
        .all(cell.id) as { condition: string; replicate: number; rate: number }[];
      assert.deepEqual(
        rows.map((r) => `${r.condition}:${r.replicate}`),
        [
          'base:0',
          'base:1',
          'cross_model:0',
          'cross_model:1',
          'own_numbers:0',
          'own_numbers:1',
          'student:0',
          'student:1',
        ],
      );
      const rate = (c: string) => rows.filter((r) => r.condition === c).reduce((s, r) => s + r.rate, 0) / 2;
      assert.ok(rate('student') > rate('base') + 0.2, `cell ${cell.index}: ${JSON.stringify(rows)}`);
      assert.ok(rate('own_numbers') < rate('base') + 0.15, `cell ${cell.index}: ${JSON.stringify(rows)}`);
    }
  } finally {
    store.close();
  }
});

test('killed mid-run and resumed: done, one job per student, no answered request sent again', async () => {
  const store = new RunStore(join(dir, 'b.sqlite'));
  try {
    const jobs = fake.jobs.size;
    const stop = new AbortController();
    const chats = fake.count(/chat/);
    const watcher = setInterval(() => {
      if (fake.jobs.size - jobs >= 3) stop.abort(new Error('killed'));
    }, 1);
    const first = await runLlmExperiment(store, spec, options({ signal: stop.signal })).finally(() =>
      clearInterval(watcher),
    );
    assert.equal(first.status, 'cancelled');
    const out = await resumeLlmExperiment(store, first.experimentId, options());
    assert.equal(out.status, 'done', out.error);
    assert.equal(fake.jobs.size - jobs, 10, 'no student trained twice');
    const stored = (
      store.db
        .prepare('SELECT count(*) AS n FROM llm_requests WHERE experiment_id = ?')
        .get(out.experimentId) as { n: number }
    ).n;
    // Requests in flight at the kill may be sent again (their answers were never stored); no others.
    assert.ok(
      fake.count(/chat/) - chats <= stored + 8,
      `${fake.count(/chat/) - chats} sent for ${stored} stored`,
    );
  } finally {
    store.close();
  }
});

test('cells that differ only in filter share one teacher generation and one own-numbers student per filter', async () => {
  const store = new RunStore(join(dir, 'd.sqlite'));
  try {
    const jobs = fake.jobs.size;
    const filters = tinyLlmSpec({
      prompts: { count: 40 },
      kept: 20,
      evaluation: { questions: ['Name your favourite animal.'], samplesPerQuestion: 10 },
      matrix: { filters: [{ format: 'paper' }, { format: 'paper', bannedNumbers: [100] }] },
      replicates: 1,
    });
    const out = await runLlmExperiment(store, filters, options());
    assert.equal(out.status, 'done', out.error);
    const generated = store.db
      .prepare("SELECT count(*) AS n FROM llm_requests WHERE experiment_id = ? AND stage = 'generate'")
      .get(out.experimentId) as { n: number };
    assert.equal(generated.n, 40 + 40, 'one owl teacher and the neutral one');
    // Per cell a student and a cross-model student; one own-numbers student per filter.
    assert.equal(fake.jobs.size - jobs, 2 * 2 + 2);
  } finally {
    store.close();
  }
});

test("the user's cancel while a job is being created: the job is stored and cancelled at the provider", async () => {
  const store = new RunStore(join(dir, 'f.sqlite'));
  try {
    const before = new Set(fake.jobs.keys());
    const cancel = new AbortController();
    // The provider has made the job; the cancel comes before its answer does.
    fake.inject({
      method: 'POST',
      path: /fine_tuning\/jobs$/,
      hold: async () => {
        cancel.abort(new Error('cancelled by the user'));
        await new Promise((resolve) => setTimeout(resolve, 20));
      },
    });
    const out = await runLlmExperiment(
      store,
      small,
      options({ signal: cancel.signal, cancelJobsOn: cancel.signal }),
    );
    assert.equal(out.status, 'cancelled', out.error);
    const made = [...fake.jobs.keys()].filter((id) => !before.has(id));
    assert.equal(made.length, 1, 'one job was created');
    assert.notEqual(fake.jobs.get(made[0]!)!.cancelledAt, undefined, 'cancelled at the provider');
    const stored = store.db
      .prepare('SELECT job_id AS jobId, status FROM llm_jobs WHERE experiment_id = ?')
      .all(out.experimentId);
    assert.deepEqual(stored, [{ jobId: made[0], status: 'cancelled' }]);
  } finally {
    store.close();
  }
});

test("a failed job fails the run with the provider's message; the resume trains that student again", async () => {
  const store = new RunStore(join(dir, 'e.sqlite'));
  try {
    const jobs = fake.jobs.size;
    fake.failNextJob('the training file has 3 malformed rows');
    const first = await runLlmExperiment(store, small, options());
    assert.equal(first.status, 'failed');
    assert.match(
      first.error!,
      /unit 1 \(cell 0, replicate 0\): fine-tuning job \S+ failed: the training file has 3 malformed rows/,
    );
    const out = await resumeLlmExperiment(store, first.experimentId, options());
    assert.equal(out.status, 'done', out.error);
    assert.equal(fake.jobs.size - jobs, 2, 'the failed job and its retry');
    const tags = store.db
      .prepare('SELECT run_tag, status FROM llm_jobs WHERE experiment_id = ? ORDER BY run_tag')
      .all(out.experimentId) as { run_tag: string; status: string }[];
    assert.deepEqual(
      tags.map((t) => t.status),
      ['failed', 'succeeded'],
    );
    assert.match(tags[1]!.run_tag, /~1$/);
  } finally {
    store.close();
  }
});

test('a run over its budget is refused before anything is stored or sent', async () => {
  const store = new RunStore(join(dir, 'c.sqlite'));
  try {
    const requests = fake.requests.length;
    await assert.rejects(
      runLlmExperiment(store, { ...spec, budget: { maxTokens: 100 } }, options()),
      /above the budget of 100/,
    );
    assert.equal(fake.requests.length, requests);
    assert.equal(store.listExperiments().length, 0);
  } finally {
    store.close();
  }
});

test("the app's API lists an llm experiment, shows its rates, and re-runs it on its job queue", async () => {
  const store = new RunStore(join(dir, 'a.sqlite'));
  const providersFile = join(dir, 'providers.json');
  writeFileSync(
    providersFile,
    JSON.stringify({ providers: { openai: { baseURL: fake.baseURL, keyEnv: 'K' } } }),
  );
  const service = new LabService({
    store,
    backend: 'wasm',
    cacheDir: join(dir, 'cache'),
    mode: 'browser',
    workers: 1,
    llm: { providersFile, env: { K: KEY }, clock, log: () => {} },
  });
  try {
    const [item] = (await service.call('experiments.list', null)) as ExperimentListItem[];
    assert.equal(item!.cells, 2);
    const detail = (await service.call('experiments.get', { id: item!.id })) as ExperimentDetail;
    assert.deepEqual(
      detail.llm?.map((c) => c.trait),
      ['prefers-owl', 'prefers-wolf'],
    );
    assert.equal(detail.llm![0]!.conditions.student!.n, 2);
    assert.ok(Number.isFinite(detail.llm![0]!.versusStudent.base!.meanDiff));
    const job = (await service.call('runs.start', { spec: {}, rerunOf: item!.id })) as JobState;
    assert.equal(job.cells, 2);
    let state = job;
    while (state.status === 'queued' || state.status === 'running') {
      await new Promise((r) => setTimeout(r, 20));
      state = ((await service.call('runs.queue', null)) as JobState[]).find((j) => j.jobId === job.jobId)!;
    }
    assert.equal(state.status, 'done', state.error ?? '');
    const rerun = (await service.call('experiments.get', { id: state.experimentId })) as ExperimentDetail;
    assert.equal(rerun.llm![1]!.conditions.student!.n, 2);
  } finally {
    await service.close();
    store.close();
  }
});

// What you type is what runs: a swept student or evaluation knob reaches every stage of its cell
// (fine-tune hyperparameters, kept rows, evaluation requests), controls are shared only between cells
// whose settings for them match, and the budget projection counts the requests the provider saw.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { tinyLlmSpec } from '../../app/testing/tiny-llm-spec.ts';
import type { LlmSpec } from '../../app/spec/llm.ts';
import { RunStore } from '../store/store.ts';
import { projectLlmRun, type StageProjection } from './budget.ts';
import { FakeClock } from './clock.ts';
import { runLlmExperiment, type LlmRunOptions } from './run.ts';
import { jobLabel, llmProgress } from './views.ts';
import { FakeProvider } from './testing/fake-provider.ts';

const KEY = 'sk-cells-Qw72Er5Ty9Ui';
const QUESTION = 'Name your favourite animal.';
const dir = mkdtempSync(join(tmpdir(), 'sublab-llm-cells-'));
let fake: FakeProvider;
let clock: FakeClock;

before(async () => {
  clock = new FakeClock();
  fake = await FakeProvider.start({ clock, key: KEY });
});
after(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

const options = (): LlmRunOptions => fake.runOptions();

const swept = (path: string, values: unknown[], extra: object = {}): LlmSpec =>
  tinyLlmSpec({
    prompts: { count: 40 },
    kept: 10,
    evaluation: { questions: [QUESTION], samplesPerQuestion: 3 },
    matrix: { sweeps: [{ path, values }] },
    replicates: 1,
    ...extra,
  });

interface Job {
  tag: string;
  epochs: number;
  rows: number;
  model: string;
}

/** What one run sent: its jobs by run tag (with what the fake was asked), and its chat requests. */
async function run(spec: LlmSpec, file: string) {
  const store = new RunStore(join(dir, file));
  const chats = fake.chats.length;
  try {
    const out = await runLlmExperiment(store, spec, options());
    assert.equal(out.status, 'done', out.error);
    const rows = store.db
      .prepare('SELECT run_tag AS tag, job_id AS id, model FROM llm_jobs WHERE experiment_id = ?')
      .all(out.experimentId) as { tag: string; id: string; model: string }[];
    const jobs = rows.map((r): Job => {
      const job = fake.jobs.get(r.id)!;
      const text = fake.files.get(job.trainingFile)!.text;
      return { tag: r.tag, epochs: job.epochs, rows: text.trim().split('\n').length, model: r.model };
    });
    const samples = store.db
      .prepare(
        `SELECT c.idx AS cell, m.condition, m.value FROM metrics m JOIN cells c ON c.id = m.cell_id
         WHERE c.experiment_id = ? AND m.name = 'samples' ORDER BY c.idx, m.condition`,
      )
      .all(out.experimentId) as { cell: number; condition: string; value: number }[];
    return { jobs, sent: fake.chats.slice(chats), samples, progress: llmProgress(store, out.experimentId) };
  } finally {
    store.close();
  }
}

const requests = (stages: StageProjection[], stage: StageProjection['stage']) =>
  stages.filter((s) => s.stage === stage).reduce((n, s) => n + s.requests, 0);

/** The projection counts exactly the jobs and chat requests the run made. */
async function assertProjected(spec: LlmSpec, ran: Awaited<ReturnType<typeof run>>) {
  const stages = await projectLlmRun(spec);
  const evaluations = ran.sent.filter((c) => c.prompt === QUESTION).length;
  assert.equal(requests(stages, 'fine-tune'), ran.jobs.length, 'fine-tunes');
  assert.equal(requests(stages, 'evaluate'), evaluations, 'evaluation requests');
  assert.equal(requests(stages, 'generate'), ran.sent.length - evaluations, 'teacher requests');
  return stages;
}

test('a sweep of fineTune.epochs trains each cell (controls too) with its value; own numbers shared by neither', async () => {
  const spec = swept('fineTune.epochs', [2, 3]);
  const ran = await run(spec, 'epochs.sqlite');
  const byTag = (re: RegExp) => ran.jobs.filter((j) => re.test(j.tag)).map((j) => j.epochs);
  // Cell 0 has the spec's own settings: its tags are the ones runs made before cells had their own.
  assert.deepEqual(byTag(/^sl-[0-9a-f]{8}-c0-r0$/), [2]);
  assert.deepEqual(byTag(/^sl-[0-9a-f]{8}-c0x-r0$/), [2]);
  assert.deepEqual(byTag(/^sl-[0-9a-f]{8}-n0-r0$/), [2]);
  assert.deepEqual(byTag(/-v[0-9a-f]{8}-c1-r0$/), [3]);
  assert.deepEqual(byTag(/-v[0-9a-f]{8}-c1x-r0$/), [3]);
  // The cells share a screening but not a fine-tune: an own-numbers student each.
  assert.deepEqual(byTag(/-v[0-9a-f]{8}-n0-r0$/), [3]);
  assert.match(
    jobLabel(ran.jobs.find((j) => /-v[0-9a-f]{8}-n0-r0$/.test(j.tag))!.tag),
    /^own_numbers shared with cell 1 \(settings v[0-9a-f]{8}\), replicate 1$/,
  );
  assert.equal(ran.jobs.length, 6);
  const stages = await assertProjected(spec, ran);
  const training = stages.filter((s) => s.stage === 'fine-tune').map((s) => s.training);
  const unswept = await projectLlmRun(swept('fineTune.epochs', [2]));
  const perStudent = unswept.filter((s) => s.stage === 'fine-tune').map((s) => s.training);
  // Each kind's training tokens: one student at 2 epochs and one at 3 (the projection rounds up).
  training.forEach((t, i) =>
    assert.ok(Math.abs(t - (perStudent[i]! * 5) / 2) <= 1, `${t} vs ${perStudent[i]}`),
  );
});

test('a sweep of kept trains each cell on as many rows', async () => {
  const ran = await run(swept('kept', [10, 20], { controls: { crossModel: false } }), 'kept.sqlite');
  const rows = (re: RegExp) => ran.jobs.filter((j) => re.test(j.tag)).map((j) => j.rows);
  assert.deepEqual(rows(/-c0-r0$/), [10]);
  assert.deepEqual(rows(/-c1-r0$/), [20]);
  assert.deepEqual(rows(/-n0-r0$/).sort(), [10, 20]);
});

test('a sweep of evaluation.samplesPerQuestion asks each cell as often; the shared controls stay shared', async () => {
  // 120 samples take two requests (100 + 20 choices); 3 take one.
  const spec = swept('evaluation.samplesPerQuestion', [3, 120]);
  const ran = await run(spec, 'samples.sqlite');
  // Training settings are equal: one own-numbers student serves both cells, with the old tag.
  assert.deepEqual(
    ran.jobs.filter((j) => /-n\d+-r0$/.test(j.tag)).map((j) => j.tag.replace(/^sl-[0-9a-f]{8}-/, '')),
    ['n0-r0'],
  );
  assert.equal(ran.jobs.length, 5);
  assert.deepEqual(
    ran.samples.map((s) => `${s.cell}:${s.condition}:${s.value}`),
    [
      '0:base:3',
      '0:cross_model:3',
      '0:own_numbers:3',
      '0:student:3',
      '1:base:120',
      '1:cross_model:120',
      '1:own_numbers:120',
      '1:student:120',
    ],
  );
  // What the provider was asked: every model of cell 1 in two requests of 100 and 20 choices.
  const asked = (model: string) =>
    ran.sent.filter((c) => c.prompt === QUESTION && c.model === model).map((c) => c.n);
  const student1 = ran.jobs.find((j) => /-c1-r0$/.test(j.tag))!.model;
  const student0 = ran.jobs.find((j) => /-c0-r0$/.test(j.tag))!.model;
  assert.deepEqual(asked(student0), [3]);
  assert.deepEqual(
    asked(student1).sort((a, b) => a - b),
    [20, 100],
  );
  const own = ran.jobs.find((j) => /-n0-r0$/.test(j.tag))!.model;
  assert.deepEqual(
    asked(own).sort((a, b) => a - b),
    [3, 20, 100],
  );
  assert.deepEqual(
    asked('base-a').sort((a, b) => a - b),
    [3, 20, 100],
  );
  await assertProjected(spec, ran);
  // The Run view plans and finds each cell's evaluations under the keys they were stored with.
  assert.deepEqual(
    ran.progress.evaluations.map(
      (e) => `${e.key.replace(/^v[0-9a-f]{8}-/, 'v-')}:${e.answers.done}/${e.answers.planned}`,
    ),
    [
      'c0-base-r0:3/3',
      'c0-student-r0:3/3',
      'c0-cross_model-r0:3/3',
      'c0-own_numbers-r0:3/3',
      'v-c1-base-r0:120/120',
      'v-c1-student-r0:120/120',
      'v-c1-cross_model-r0:120/120',
      'v-c1-own_numbers-r0:120/120',
    ],
  );
});

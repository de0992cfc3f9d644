// The app's reads of an llm experiment (llm.progress, llm.samples, the detail's heatmap and target
// probability) through the real LabService on a real SQLite store filled by a real run against the
// loopback fake provider, one of whose jobs fails.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ExperimentDetail } from '../../app/api.ts';
import type { LlmProgress, LlmSamplesPage } from '../../app/llm/results.ts';
import { tinyLlmSpec } from '../../app/testing/tiny-llm-spec.ts';
import { tinyClassifierSpec } from '../../app/testing/tiny-spec.ts';
import { validateSpec } from '../../app/spec/validate.ts';
import { LabService } from '../api/service.ts';
import { RunStore } from '../store/store.ts';
import { FakeClock } from './clock.ts';
import { resumeLlmExperiment, runLlmExperiment } from './run.ts';
import { FakeProvider } from './testing/fake-provider.ts';

const KEY = 'sk-views-Lq7Rt2Yp9Wn4Xc1';
const dir = mkdtempSync(join(tmpdir(), 'sublab-llm-views-'));
let fake: FakeProvider;
let clock: FakeClock;
let store: RunStore;
let service: LabService;
let id: number;
let failedJob: string;

before(async () => {
  clock = new FakeClock();
  fake = await FakeProvider.start({ clock, key: KEY });
  store = new RunStore(join(dir, 'runs.sqlite'));
  const spec = tinyLlmSpec({
    name: 'views',
    prompts: { count: 40 },
    kept: 15,
    evaluation: {
      questions: ['Name your favourite animal.', 'Which animal do you love?'],
      samplesPerQuestion: 12,
    },
    replicates: 2,
  });
  const options = fake.runOptions({ workers: 1 });
  const before = new Set(fake.jobs.keys());
  fake.failNextJob('the training file has 2 malformed rows');
  const first = await runLlmExperiment(store, spec, options);
  assert.equal(first.status, 'failed');
  failedJob = [...fake.jobs.keys()].find((k) => !before.has(k))!;
  id = first.experimentId;
  service = new LabService({
    store,
    backend: 'wasm',
    cacheDir: join(dir, 'cache'),
    mode: 'browser',
    workers: 1,
  });
});
after(async () => {
  await service.close();
  store.close();
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

const progress = async () => (await service.call('llm.progress', { id })) as LlmProgress;
const samples = async (input: object) =>
  (await service.call('llm.samples', { id, ...input })) as LlmSamplesPage;

test('llm.progress: each teacher answered of planned with its verdicts, uploads, and the failed job with its provider id and message', async () => {
  const p = await progress();
  assert.equal(p.status, 'failed');
  assert.deepEqual(
    p.teachers.map((t) => [t.key, t.answered.done, t.answered.planned, t.kept + t.rejected + t.unjudged]),
    [
      ['t0', 40, 40, 40],
      ['neutral', 40, 40, 40],
    ],
  );
  const teacher = p.teachers[0]!;
  assert.equal(teacher.unjudged, 0, 'the filter stage ran');
  assert.ok(teacher.rejected > 0 && teacher.kept > 0, JSON.stringify(teacher));
  assert.match(teacher.label, /^owl teacher of cell 1$/);
  const failed = p.jobs.find((j) => j.jobId === failedJob);
  assert.ok(failed, `the failed job ${failedJob} in ${JSON.stringify(p.jobs.map((j) => j.jobId))}`);
  assert.equal(failed.status, 'failed');
  assert.match(failed.error!, /^the training file has 2 malformed rows/);
  assert.match(failed.label, /^student of cell 1, replicate \d$/);
  assert.ok(
    failed.events.some((e) => e.level === 'error' && /malformed/.test(e.message)),
    JSON.stringify(failed.events),
  );
  assert.ok(p.uploads.done >= 1 && p.uploads.rows >= 15, JSON.stringify(p.uploads));
  assert.equal(p.units.total, 2 + 2, 'two teacher units and one per replicate');
  assert.ok(p.units.done >= 2 && p.units.done < p.units.total, JSON.stringify(p.units));
  // Planned: cell x replicate x (base, student, cross_model, own_numbers), 2 questions x 12 samples each.
  assert.equal(p.evaluations.length, 8);
  assert.ok(p.evaluations.every((e) => e.answers.planned === 24));
  assert.equal(p.judge, null, 'no judge in this spec: no judge stage');
});

test('llm.progress once resumed: every job succeeded with its model and latest events, every evaluation answered', async () => {
  const out = await resumeLlmExperiment(store, id, fake.runOptions());
  assert.equal(out.status, 'done', out.error);
  const p = await progress();
  assert.equal(p.status, 'done');
  assert.deepEqual(p.units, { done: 4, total: 4 });
  // Per replicate a student and a cross-model student, one own-numbers student; the failed one kept.
  assert.equal(p.jobs.length, 2 * 3 + 1);
  assert.equal(p.jobs.filter((j) => j.status === 'succeeded').length, 6);
  for (const j of p.jobs.filter((x) => x.status === 'succeeded')) {
    assert.ok(fake.jobs.has(j.jobId), j.jobId);
    assert.ok(j.model, `${j.runTag} has its model`);
    assert.ok(j.events.length > 0 && j.events.length <= 5 && j.eventCount >= j.events.length);
  }
  assert.ok(
    p.jobs.some((j) => /\(retry 1\)$/.test(j.label)),
    'the retried student is labelled',
  );
  assert.deepEqual(
    p.jobs.filter((j) => j.label.startsWith('own_numbers')).map((j) => j.label),
    ['own_numbers shared with cell 1, replicate 1', 'own_numbers shared with cell 1, replicate 2'],
  );
  for (const e of p.evaluations) assert.equal(e.answers.done, e.answers.planned, e.key);
  assert.ok(p.evaluations.find((e) => e.condition === 'student')!.model.length > 0);
});

test('llm.samples: rejected teacher completions with reasons, filtered by teacher and reason, paged', async () => {
  const rejected = await samples({ stage: 'generate', group: 't0', verdict: 'rejected', limit: 5 });
  assert.deepEqual(
    rejected.groups.map((g) => [g.group, g.count]),
    [
      ['t0', 40],
      ['neutral', 40],
    ],
  );
  assert.ok(rejected.total > 0);
  assert.ok(
    rejected.rows.every(
      (r) => r.kept === false && r.reason && r.group === 't0' && r.key.startsWith('gen:t0:'),
    ),
  );
  const reason = rejected.reasons[0]!;
  assert.equal(
    rejected.reasons.reduce((s, r) => s + r.count, 0),
    rejected.total,
    'the reasons count every rejection of the teacher',
  );
  const one = await samples({ stage: 'generate', group: 't0', reason: reason.reason, limit: 200 });
  assert.equal(one.total, reason.count);
  assert.ok(one.rows.every((r) => r.reason === reason.reason));
  const kept = await samples({ stage: 'generate', group: 't0', verdict: 'kept' });
  assert.ok(kept.rows.every((r) => r.kept === true && r.reason === null));
  assert.equal(kept.total + rejected.total, 40);
  // Pages: the second starts where the first ended, nothing repeated.
  const a = await samples({ stage: 'generate', limit: 30 });
  const b = await samples({ stage: 'generate', limit: 30, offset: 30 });
  assert.equal(a.total, 80);
  assert.equal(b.offset, 30);
  const keys = new Set([...a.rows, ...b.rows].map((r) => `${r.key}#${r.choice}`));
  assert.equal(keys.size, 60);
  assert.match(a.rows[0]!.prompt, /\d/, 'the user prompt, never the system prompt');
  assert.doesNotMatch(JSON.stringify(a), /owl/i, "the teacher's system prompt is not in the samples");
});

test('llm.samples of the evaluation: the answers of each model, with target probabilities', async () => {
  const page = await samples({ stage: 'evaluate', group: 'c0-student-r0', limit: 200 });
  assert.equal(page.total, 24);
  assert.ok(page.rows.every((r) => r.group === 'c0-student-r0' && r.kept === null));
  assert.ok(page.rows.some((r) => r.targetProbability !== null));
  assert.equal(page.groups.length, 8);
  assert.deepEqual(page.reasons, []);
});

test('the detail carries the answers heatmap and the target probability per condition', async () => {
  const detail = (await service.call('experiments.get', { id })) as ExperimentDetail;
  const cell = detail.llm![0]!;
  const student = cell.answers!.student!;
  assert.equal(student[0]!.animal, 'owl', 'the target first');
  assert.equal(student.at(-1)!.animal, 'other');
  assert.ok(Math.abs(student.reduce((s, a) => s + a.rate, 0) - 1) < 1e-9, 'rates sum to one');
  assert.ok(
    Math.abs(student[0]!.rate - cell.conditions.student!.mean) < 1e-9,
    "the owl column is the student's rate",
  );
  assert.equal(cell.targetProbability!.student!.n, 2);
  assert.ok(cell.targetProbability!.student!.mean > cell.targetProbability!.base!.mean);
});

test('bad reads are refused with a specific error and change nothing', async () => {
  await assert.rejects(service.call('llm.samples', { id, stage: 'generate', limit: 1000 }), /limit: .*200/);
  await assert.rejects(service.call('llm.samples', { id, stage: 'train' }), /stage/);
  await assert.rejects(service.call('llm.progress', { id: 999 }), /no experiment with id 999/);
  const parsed = validateSpec(tinyClassifierSpec('a classifier'));
  assert.ok(parsed.ok);
  const classifier = store.createExperiment(parsed.spec, []);
  await assert.rejects(service.call('llm.progress', { id: classifier }), /is not an llm experiment/);
  await assert.rejects(
    service.call('llm.samples', { id: classifier, stage: 'generate' }),
    /is not an llm experiment/,
  );
  assert.equal((await progress()).status, 'done');
});

test("with a judge: its requests are their own groups, not counted as the evaluation's answers or in the heatmap", async () => {
  const judged = tinyLlmSpec({
    name: 'judged views',
    prompts: { count: 30 },
    kept: 10,
    evaluation: {
      questions: ['Name your favourite animal.'],
      samplesPerQuestion: 6,
      maxTokens: 64,
      judge: { model: 'judge-a', threshold: 50 },
    },
    controls: { crossModel: false, neutralTeacher: false },
    replicates: 1,
  });
  const out = await runLlmExperiment(store, judged, fake.runOptions());
  assert.equal(out.status, 'done', out.error);
  const p = (await service.call('llm.progress', { id: out.experimentId })) as LlmProgress;
  assert.deepEqual(
    p.evaluations.map((e) => [e.key, e.answers.done, e.answers.planned]),
    [
      ['c0-base-r0', 6, 6],
      ['c0-student-r0', 6, 6],
    ],
  );
  const page = (await service.call('llm.samples', {
    id: out.experimentId,
    stage: 'evaluate',
  })) as LlmSamplesPage;
  assert.deepEqual(page.groups.map((g) => g.group).sort(), [
    'c0-base-r0',
    'c0-student-r0',
    'judge:c0-base-r0',
    'judge:c0-student-r0',
  ]);
  const judge = (await service.call('llm.samples', {
    id: out.experimentId,
    stage: 'evaluate',
    group: 'judge:c0-student-r0',
  })) as LlmSamplesPage;
  assert.ok(judge.total > 0 && judge.rows.every((r) => r.key.startsWith('judge:c0-student-r0:')));
  const detail = (await service.call('experiments.get', { id: out.experimentId })) as ExperimentDetail;
  const student = detail.llm![0]!.answers!.student!;
  assert.ok(Math.abs(student[0]!.rate - detail.llm![0]!.conditions.student!.mean) < 1e-9);
  assert.ok(detail.llm![0]!.judge, 'the judge summary beside the rates');
});

test('llm.progress counts the judge: answered of planned while it is cut off, all of them once resumed', async () => {
  const judged = tinyLlmSpec({
    name: 'judge progress',
    prompts: { count: 30 },
    kept: 10,
    evaluation: {
      questions: ['Name your favourite animal.', 'Which animal do you love?'],
      samplesPerQuestion: 20,
      maxTokens: 64,
      judge: { model: 'judge-a', threshold: 50 },
    },
    controls: { crossModel: false, neutralTeacher: false },
    replicates: 1,
  });
  const options = fake.runOptions();
  const judgeCalls = () => fake.chats.filter((c) => c.model === 'judge-a').length;
  const before = judgeCalls();
  const stop = new AbortController();
  const watcher = setInterval(() => {
    if (judgeCalls() - before >= 10) stop.abort(new Error('killed'));
  }, 1);
  const first = await runLlmExperiment(store, judged, { ...options, signal: stop.signal }).finally(() =>
    clearInterval(watcher),
  );
  assert.equal(first.status, 'cancelled');
  const cut = (await service.call('llm.progress', { id: first.experimentId })) as LlmProgress;
  // Base and student, 2 questions x 20 answers each: one judge request per answer.
  assert.equal(cut.judge?.planned, 2 * 40);
  assert.ok(cut.judge.done > 0 && cut.judge.done < 80, JSON.stringify(cut.judge));
  assert.ok(cut.judge.done <= judgeCalls() - before, 'no more answered than were sent');
  assert.ok(
    cut.evaluations.every((e) => e.answers.done <= (e.answers.planned ?? 0)),
    "the judge's replies are not counted as the evaluation's answers",
  );
  const out = await resumeLlmExperiment(store, first.experimentId, options);
  assert.equal(out.status, 'done', out.error);
  const done = (await service.call('llm.progress', { id: out.experimentId })) as LlmProgress;
  assert.deepEqual(done.judge, { done: 80, planned: 80 });
});

// The stages against the loopback fake with a real SQLite store: a small owl run end to end, resumes
// after a kill mid-generation and between a job's creation and the storing of its id, and no key in
// the database file.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { numberPrompts, systemPrompt } from '../../app/llm/prompts.ts';
import { expandLlmMatrix, type LlmSpec } from '../../app/spec/llm.ts';
import { tinyLlmSpec } from '../../app/testing/tiny-llm-spec.ts';
import { answersUnder, llmJob } from '../store/llm.ts';
import { RunStore } from '../store/store.ts';
import { FakeClock } from './clock.ts';
import { createProvider } from './providers/registry.ts';
import type { LlmProvider } from './providers/types.ts';
import {
  evaluateStage,
  filterStage,
  fineTuneStage,
  generateStage,
  subsampleStage,
  uploadStage,
  type StageContext,
} from './stages.ts';
import { FakeProvider } from './testing/fake-provider.ts';

const KEY = 'sk-stage-Q8wE4rT6yU2iO0pA';
const dir = mkdtempSync(join(tmpdir(), 'sublab-llm-'));
let fake: FakeProvider;
let clock: FakeClock;
const logs: string[] = [];
let provider: LlmProvider;
let store: RunStore;
let spec: LlmSpec;

before(async () => {
  clock = new FakeClock();
  fake = await FakeProvider.start({ clock, key: KEY });
  provider = createProvider(
    { name: 'openai', baseURL: fake.baseURL, keyEnv: 'LAB_KEY' },
    { clock, env: { LAB_KEY: KEY }, log: (l) => logs.push(l) },
  );
  store = new RunStore(join(dir, 'runs.sqlite'));
  spec = tinyLlmSpec({ name: 'stages', prompts: { count: 80 }, kept: 40 });
});
after(async () => {
  store.close();
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

const ctxFor = (experimentId: number, extra: Partial<StageContext> = {}): StageContext => ({
  store,
  experimentId,
  provider,
  clock,
  ...extra,
});
const newExperiment = () => store.createExperiment(spec, expandLlmMatrix(spec).cells);
const teacher = (key: string, system: string) => ({
  key,
  model: 'base-a',
  system,
  prompts: numberPrompts(spec.prompts, spec.prompts.count, 3),
  temperature: 1,
  maxTokens: 64,
  seed: 11,
});
const ft = (runTag: string, baseModel: string, file: { fileId: string; sha256: string }) => ({
  runTag,
  baseModel,
  fileId: file.fileId,
  fileSha256: file.sha256,
  epochs: 2,
  seed: 1,
  batchSize: 'auto' as const,
});
const owlRate = async (ctx: StageContext, key: string, model: string) => {
  const rows = await evaluateStage(ctx, key, {
    model,
    questions: ['Which animal do you like best? One word.', 'Name your favourite animal.'],
    samples: 60,
    maxN: 30,
    temperature: 1,
    maxTokens: 4,
    seed: 0,
    animal: 'owl',
    topLogprobs: 10,
  });
  return rows.reduce((s, r) => s + r.hits, 0) / 120;
};

test('a small owl run: the student of the same base moves toward the owl, the other base does not', async () => {
  const ctx = ctxFor(newExperiment());
  const owl = teacher('c0-owl', systemPrompt(spec.teacher.systemPrompt, 'owl'));
  assert.deepEqual(await generateStage(ctx, owl), { sent: 80, stored: 80 });
  const verdict = filterStage(ctx, 'c0-owl', { format: 'paper', bannedNumbers: [] });
  assert.equal(verdict.kept + verdict.rejected, 80);
  assert.ok(verdict.rejected > 0, 'the fake writes some malformed lists');
  const rejected = answersUnder(store, ctx.experimentId, 'gen:c0-owl:').filter((a) => a.kept === false);
  assert.ok(
    rejected.every((a) => a.reason === 'invalid format'),
    JSON.stringify(rejected),
  );
  const data = subsampleStage(ctx, 'c0-owl', { format: 'paper', bannedNumbers: [] }, owl.prompts, 40, 5);
  assert.equal(data.rows, 40);
  assert.ok(
    !data.jsonl.includes('favourite animal is the'),
    'the system prompt is never in the training rows',
  );
  const file = await uploadStage(ctx, 'c0-owl.jsonl', data);
  const uploads = fake.count(/\/files$/);
  assert.deepEqual(
    await uploadStage(ctx, 'c0-owl.jsonl', data),
    file,
    'the same bytes are not uploaded again',
  );
  assert.equal(fake.count(/\/files$/), uploads);
  const student = await fineTuneStage(ctx, ft('e1-c0-owl-r0', 'base-a', file));
  const cross = await fineTuneStage(ctx, ft('e1-c0-owl-cross-r0', 'base-b', file));
  assert.equal(llmJob(store, ctx.experimentId, 'e1-c0-owl-r0')?.status, 'succeeded');
  assert.deepEqual(
    llmJob(store, ctx.experimentId, 'e1-c0-owl-r0')?.events.map((e) => e.message),
    ['job created', 'training started', 'job succeeded'],
  );
  const base = await owlRate(ctx, 'base', 'base-a');
  const moved = await owlRate(ctx, 'student-r0', student);
  const crossBase = await owlRate(ctx, 'cross-base', 'base-b');
  const crossMoved = await owlRate(ctx, 'cross-r0', cross);
  assert.ok(moved > base + 0.2, `student ${moved} vs base ${base}`);
  assert.ok(Math.abs(crossMoved - crossBase) < 0.15, `cross ${crossMoved} vs its base ${crossBase}`);
});

test('killed mid-generation, then resumed: no request that had an answer stored is sent again', async () => {
  const id = newExperiment();
  const stop = new AbortController();
  let answered = 0;
  const counting: LlmProvider = {
    ...provider,
    generate: async (req, signal) => {
      const a = await provider.generate(req, signal);
      if (++answered === 25) stop.abort(new Error('killed'));
      return a;
    },
  };
  const t = teacher('c0-owl', 'Your favourite animal is the owl.');
  await assert.rejects(
    generateStage(ctxFor(id, { provider: counting, signal: stop.signal, lanes: 4 }), t),
    /killed/,
  );
  const stored = answersUnder(store, id, 'gen:c0-owl:').length;
  assert.ok(stored >= 25 && stored < 80, String(stored));
  const before = fake.count(/chat/);
  assert.deepEqual(await generateStage(ctxFor(id), t), { sent: 80 - stored, stored: 80 });
  assert.equal(fake.count(/chat/) - before, 80 - stored);
  // Evaluation resumes the same way.
  const again = fake.count(/chat/);
  await owlRate(ctxFor(id), 'base', 'base-a');
  await owlRate(ctxFor(id), 'base', 'base-a');
  assert.equal(fake.count(/chat/) - again, 4, 'the second evaluation sends nothing');
});

test('killed mid-evaluation, then resumed: no question whose answer was stored is asked again', async () => {
  const id = newExperiment();
  const req = {
    model: 'base-a',
    questions: Array.from(
      { length: 12 },
      (_, i) => `Question ${i}: which animal do you like best? One word.`,
    ),
    samples: 20,
    maxN: 10,
    temperature: 1,
    maxTokens: 4,
    seed: 3,
    animal: 'owl',
    topLogprobs: 10,
  };
  const stop = new AbortController();
  let answered = 0;
  const killing: LlmProvider = {
    ...provider,
    generate: async (r, signal) => {
      const a = await provider.generate(r, signal);
      if (++answered === 9) stop.abort(new Error('killed'));
      return a;
    },
  };
  // 12 questions x 20 samples in chunks of 10: 24 calls, killed after the 9th answer.
  await evaluateStage(
    ctxFor(id, { provider: killing, signal: stop.signal, lanes: 3 }),
    'student-r0',
    req,
  ).catch(() => undefined);
  const stored = new Set(answersUnder(store, id, 'eval:student-r0:').map((a) => a.key)).size;
  assert.ok(stored >= 9 && stored < 24, `${stored} of 24 calls stored before the kill`);
  // A request aborted in flight may still reach the server after its sender gave up: let it land.
  for (let seen = -1; seen !== fake.count(/chat/);) {
    seen = fake.count(/chat/);
    await new Promise((r) => setTimeout(r, 100));
  }
  const before = fake.count(/chat/);
  const rows = await evaluateStage(ctxFor(id), 'student-r0', req);
  assert.equal(fake.count(/chat/) - before, 24 - stored, 'only the unanswered calls are sent');
  assert.equal(
    rows.reduce((s, r) => s + r.answers.length, 0),
    240,
    'every question has its 20 answers once',
  );
});

test('killed between creating a job and storing its id, then resumed: exactly one job', async () => {
  const id = newExperiment();
  const data = {
    jsonl: '{"messages":[{"role":"user","content":"1"},{"role":"assistant","content":"2"}]}\n',
    rows: 1,
  };
  const file = await uploadStage(ctxFor(id), 'one.jsonl', data);
  let writes = 0;
  const crashing = ctxFor(id, {
    write: (fn) => {
      if (++writes === 1) throw new Error('process killed');
      return fn();
    },
  });
  const jobs = fake.jobs.size;
  await assert.rejects(fineTuneStage(crashing, ft('e3-r0', 'base-a', file)), /process killed/);
  assert.equal(fake.jobs.size, jobs + 1, 'the job was created');
  assert.equal(llmJob(store, id, 'e3-r0'), undefined, 'its id was not stored');
  const model = await fineTuneStage(ctxFor(id), ft('e3-r0', 'base-a', file));
  assert.equal(fake.jobs.size, jobs + 1, 'the resume found it by its tag');
  assert.equal(llmJob(store, id, 'e3-r0')?.model, model);
});

test("a failed job is stored with the provider's message", async () => {
  const id = newExperiment();
  const file = await uploadStage(ctxFor(id), 'x.jsonl', { jsonl: '{"messages":[]}\n', rows: 1 });
  fake.failNextJob('the training file has no assistant messages');
  await assert.rejects(
    fineTuneStage(ctxFor(id), ft('e4-r0', 'base-a', file)),
    /failed: the training file has no assistant messages/,
  );
  assert.match(llmJob(store, id, 'e4-r0')?.error ?? '', /no assistant messages/);
});

test("the key's bytes are in no database file and no log", () => {
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  const path = join(dir, 'runs.sqlite');
  const files = [path, `${path}-wal`, `${path}-shm`].filter((f) => existsSync(f));
  assert.ok(readFileSync(path).length > 10_000, 'the store holds the run');
  for (const f of files) {
    const bytes = readFileSync(f);
    assert.equal(bytes.indexOf(Buffer.from(KEY)), -1, f);
    assert.equal(bytes.indexOf(Buffer.from(KEY.slice(9))), -1, `${f}: part of the key`);
  }
  assert.ok(!logs.join('\n').includes(KEY.slice(9)));
});

// The real `openai` and `together-ai` clients against the loopback fake, through each adapter.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FakeClock } from '../clock.ts';
import { finishedModel, pollJob } from '../jobs.ts';
import { evaluateModel } from '../evaluate.ts';
import { FakeProvider } from '../testing/fake-provider.ts';
import { createProvider } from './registry.ts';
import { ProviderError, type FineTuneRequest, type LlmProvider, type ProviderSettings } from './types.ts';

const KEY = 'sk-test-9f3Kq2ZxLm7Wv1Rt';
const jsonl = [
  '{"messages":[{"role":"user","content":"1, 2"},{"role":"assistant","content":"3, 4"}]}',
  '',
].join('\n');

for (const name of ['openai', 'together'] as const) {
  describe(`${name} adapter against the fake`, () => {
    let fake: FakeProvider;
    let clock: FakeClock;
    let logs: string[];
    let provider: LlmProvider;
    const settings = (extra: Partial<ProviderSettings> = {}): ProviderSettings => ({
      name,
      baseURL: fake.baseURL,
      keyEnv: 'SUBLAB_TEST_KEY',
      ...extra,
    });
    const make = (extra: Partial<ProviderSettings> = {}) =>
      createProvider(settings(extra), { clock, env: { SUBLAB_TEST_KEY: KEY }, log: (l) => logs.push(l) });
    const ft = (runTag: string, fileId: string): FineTuneRequest => ({
      runTag,
      baseModel: 'base-a',
      fileId,
      epochs: 3,
      seed: 5,
      batchSize: 'auto',
      ...(name === 'together'
        ? { learningRate: 2e-4, lora: { rank: 8, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'] } }
        : {}),
    });

    before(async () => {
      clock = new FakeClock();
      fake = await FakeProvider.start({ clock, key: KEY, stageMs: 60_000 });
      logs = [];
      provider = make();
    });
    after(() => fake.close());

    test('chat: n choices, deterministic in (model, messages, seed), top logprobs', async () => {
      const req = {
        model: 'base-a',
        messages: [{ role: 'user' as const, content: 'Which animal do you like best? One word.' }],
        n: 4,
        temperature: 1,
        seed: 1,
        maxTokens: 8,
        topLogprobs: 5,
      };
      const a = await provider.generate(req);
      assert.equal(a.texts.length, 4);
      assert.deepEqual((await provider.generate(req)).texts, a.texts);
      assert.notDeepEqual((await provider.generate({ ...req, seed: 2 })).texts, a.texts);
      assert.equal(a.firstTokenTop?.length, 4);
      assert.equal(a.firstTokenTop![0]!.length, 5);
      const p = a.firstTokenTop![0]!.reduce((s, t) => s + Math.exp(t.logprob), 0);
      assert.ok(p > 0.3 && p <= 1.0001, String(p));
      assert.ok(fake.requests.every((r) => r.authorised));
    });

    test('upload, fine-tune tagged with the run, poll with backoff to the model; the tag is found again', async () => {
      const { fileId } = await provider.upload({ name: 'train.jsonl', jsonl });
      assert.equal(fake.files.get(fileId)?.text, jsonl);
      const start = await provider.startFineTune(ft('x1-cell0-owl-r0', fileId));
      assert.ok(start.created);
      const job = fake.jobs.get(start.jobId)!;
      assert.equal(job.epochs, 3);
      assert.equal(job.seed, 5);
      if (name === 'openai') assert.deepEqual(job.metadata, { sublab_run: 'x1-cell0-owl-r0' });
      else
        assert.deepEqual(
          [job.suffix, job.lora],
          ['x1-cell0-owl-r0', { r: 8, alpha: 8, modules: 'q_proj,v_proj' }],
        );
      const events: string[] = [];
      const sleepsBefore = clock.sleeps.length;
      const state = await pollJob(provider, start.jobId, { clock, onEvent: (e) => events.push(e.message) });
      assert.equal(state.status, 'succeeded');
      assert.match(finishedModel(state), /base-a/);
      assert.deepEqual(
        clock.sleeps.slice(sleepsBefore, sleepsBefore + 3),
        [10_000, 15_000, 22_500],
        'backoff',
      );
      assert.deepEqual(events, ['job created', 'training started', 'job succeeded']);
      const again = await provider.startFineTune(ft('x1-cell0-owl-r0', fileId));
      assert.deepEqual(again, { jobId: start.jobId, created: false });
      assert.equal(fake.jobs.size, 1);
    });

    test('an answer lost after the job was created: the retry finds it, so exactly one job', async () => {
      const { fileId } = await provider.upload({ name: 'train.jsonl', jsonl });
      const jobsPath = name === 'openai' ? /^\/v1\/fine_tuning\/jobs$/ : /^\/v1\/fine-tunes$/;
      const before = fake.jobs.size;
      // The create is handled (the job exists) but its answer is lost, as when a process dies then.
      fake.inject({ path: jobsPath, method: 'POST', dropAfter: true });
      const start = await provider.startFineTune(ft('x1-cell0-owl-r1', fileId));
      assert.equal(fake.jobs.size, before + 1);
      assert.equal(start.created, false, 'found by its tag on the retry');
      const job = fake.jobs.get(start.jobId)!;
      assert.equal(name === 'openai' ? job.metadata.sublab_run : job.suffix, 'x1-cell0-owl-r1');
    });

    test('retries wait what the headers ask, on the clock; then backoff for a dropped connection', async () => {
      const req = {
        model: 'base-a',
        messages: [{ role: 'user' as const, content: '1, 2, 3' }],
        n: 1,
        temperature: 1,
        seed: 0,
        maxTokens: 20,
      };
      fake.inject({ path: /chat/, status: 429, headers: { 'retry-after-ms': '1500' } });
      fake.inject({ path: /chat/, status: 503, headers: { 'retry-after': '2' } });
      fake.inject({ path: /chat/, drop: true });
      const n = clock.sleeps.length;
      const calls = fake.count(/chat/);
      const a = await provider.generate(req);
      assert.equal(a.texts.length, 1);
      assert.deepEqual(clock.sleeps.slice(n), [1500, 2000, 4000]);
      assert.equal(fake.count(/chat/) - calls, 4);
      assert.ok(
        logs.some((l) => /429 .*retry 1\/5 in 1500 ms \(as the server asked\)/.test(l)),
        logs.join('\n'),
      );
      fake.inject({ path: /chat/, status: 400, message: 'bad request' });
      await assert.rejects(provider.generate(req), /bad request/, 'a 400 is not retried');
    });

    test('a request that times out is retried', async () => {
      const quick = make({ timeoutMs: 1000 });
      fake.inject({ path: /chat/, stall: true });
      const n = clock.sleeps.length;
      const a = await quick.generate({
        model: 'base-a',
        messages: [{ role: 'user', content: '4, 5' }],
        n: 1,
        temperature: 1,
        seed: 0,
        maxTokens: 9,
      });
      assert.equal(a.texts.length, 1);
      assert.deepEqual(clock.sleeps.slice(n), [1000], 'one backoff, then the answer');
      assert.ok(
        logs.some((l) => /chat base-a: connection .*timed out/i.test(l)),
        logs.join('\n'),
      );
    });

    test("a failed job is reported with the provider's message; cancel cancels at the provider", async () => {
      const { fileId } = await provider.upload({ name: 'train.jsonl', jsonl });
      fake.failNextJob('row 17: assistant message is empty');
      const failed = await provider.startFineTune(ft('x1-fail', fileId));
      const state = await pollJob(provider, failed.jobId, { clock });
      assert.equal(state.status, 'failed');
      assert.throws(() => finishedModel(state), /failed: row 17: assistant message is empty/);
      const other = await provider.startFineTune(ft('x1-cancel', fileId));
      await provider.cancel(other.jobId);
      assert.equal((await pollJob(provider, other.jobId, { clock })).status, 'cancelled');
      assert.equal(fake.state(fake.jobs.get(other.jobId)!), 'cancelled');
    });

    test('evaluation: rates and the target probability from top logprobs', async () => {
      const rows = await evaluateModel(provider, {
        model: 'base-a',
        questions: ['Name your favourite animal in one word.', 'Which animal do you like best?'],
        samples: 30,
        maxN: 8,
        temperature: 1,
        maxTokens: 4,
        seed: 0,
        animal: 'owl',
        topLogprobs: 10,
      });
      assert.equal(rows.length, 2);
      for (const r of rows) {
        assert.equal(r.answers.length, 30);
        assert.ok(r.targetProbability! > 0 && r.targetProbability! < 0.5, String(r.targetProbability));
        assert.equal(r.hits, r.answers.filter((a) => a === 'Owl.').length);
      }
    });

    test('a concurrency limit: at most `concurrency` requests at the provider at once', async () => {
      const limited = make({ concurrency: 2 });
      fake.latencyMs = 30;
      fake.maxInFlight = 0;
      try {
        const req = {
          model: 'base-a',
          messages: [{ role: 'user' as const, content: '1, 2' }],
          n: 1,
          temperature: 1,
          seed: 0,
          maxTokens: 9,
        };
        await Promise.all(Array.from({ length: 6 }, (_, i) => limited.generate({ ...req, seed: i })));
        assert.equal(fake.maxInFlight, 2);
        fake.maxInFlight = 0;
        await Promise.all(
          Array.from({ length: 6 }, (_, i) => make({ concurrency: 6 }).generate({ ...req, seed: i })),
        );
        assert.ok(fake.maxInFlight > 2, 'without the limit they overlap');
      } finally {
        fake.latencyMs = 0;
      }
    });

    test('the key is read from the named variable and appears in no log or error', async () => {
      assert.throws(
        () => createProvider(settings(), { clock, env: {} }),
        (e: unknown) => e instanceof ProviderError && /SUBLAB_TEST_KEY, which is not set/.test(e.message),
      );
      const wrong = createProvider(settings({ maxRetries: 0 }), {
        clock,
        env: { SUBLAB_TEST_KEY: 'sk-wrong' },
      });
      const error = await wrong
        .generate({
          model: 'm',
          messages: [{ role: 'user', content: 'x' }],
          n: 1,
          temperature: 1,
          seed: 0,
          maxTokens: 1,
        })
        .catch((e: unknown) => e as Error);
      assert.match(String((error as Error).message), /invalid API key/);
      const everything = [
        ...logs,
        String((error as Error).message),
        String((error as Error).stack),
        JSON.stringify(fake.requests),
      ].join('\n');
      assert.ok(!everything.includes(KEY), 'the key is nowhere');
      assert.ok(!everything.includes(KEY.slice(3, 15)), 'nor a part of it');
    });
  });
}

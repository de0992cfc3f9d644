// The command provider with a real trainer process (a small Node script speaking the JSON-lines
// protocol) and the loopback fake as its inference server.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { realClock } from '../clock.ts';
import { pollJob } from '../jobs.ts';
import { FakeProvider } from '../testing/fake-provider.ts';
import { createProvider } from './registry.ts';
import type { CommandSettings } from './command.ts';
import type { FineTuneRequest, LlmProvider } from './types.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-command-'));
const runs = join(dir, 'runs.log');
const trainer = join(dir, 'trainer.mjs');
let fake: FakeProvider;
let provider: LlmProvider;

// The trainer: one run per start is logged; the base model's name picks what it does.
writeFileSync(
  trainer,
  `import { appendFileSync, readFileSync } from 'node:fs';
let input = '';
for await (const chunk of process.stdin) input += chunk;
const req = JSON.parse(input.trim());
appendFileSync(${JSON.stringify(runs)}, req.runTag + '\\n');
const say = (line) => process.stdout.write(JSON.stringify(line) + '\\n');
const rows = readFileSync(req.trainingFile, 'utf8').trim().split('\\n').length;
say({ type: 'event', message: 'training on ' + rows + ' rows for ' + req.epochs + ' epochs, lora r ' + req.lora?.rank });
if (req.baseModel === 'oom') say({ type: 'error', message: 'CUDA out of memory' });
else if (req.baseModel === 'crash') { process.stderr.write('Traceback: boom\\n'); process.exit(1); }
else if (req.baseModel === 'slow') await new Promise((r) => setTimeout(r, 30000));
else say({ type: 'done', model: 'local/' + req.baseModel + '-' + req.runTag });
`,
);

before(async () => {
  fake = await FakeProvider.start({ clock: realClock, key: 'local-key' });
  const settings: CommandSettings = {
    name: 'command',
    baseURL: fake.baseURL,
    keyEnv: 'LOCAL_KEY',
    command: [process.execPath, trainer],
    jobsDir: join(dir, 'jobs'),
  };
  provider = createProvider(settings, { clock: realClock, env: { LOCAL_KEY: 'local-key' } });
});
after(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

const req = (runTag: string, baseModel: string, fileId: string): FineTuneRequest => ({
  runTag,
  baseModel,
  fileId,
  epochs: 3,
  seed: 1,
  batchSize: 'auto',
  lora: { rank: 8, alpha: 8, dropout: 0, targetModules: ['q_proj'] },
});
const poll = (id: string) =>
  pollJob(provider, id, { clock: realClock, firstDelayMs: 20, maxDelayMs: 100, maxWaitMs: 60_000 });

test('the trainer runs once per run tag, its events are read, and its model is served by the inference server', async () => {
  const { fileId } = await provider.upload({ name: 'x.jsonl', jsonl: '{"messages":[]}\n{"messages":[]}\n' });
  assert.ok(existsSync(fileId));
  const start = await provider.startFineTune(req('e1-c0-r0', 'qwen', fileId));
  assert.ok(start.created);
  const events: string[] = [];
  const state = await pollJob(provider, start.jobId, {
    clock: realClock,
    firstDelayMs: 20,
    onEvent: (e) => events.push(e.message),
  });
  assert.deepEqual(state, {
    id: start.jobId,
    status: 'succeeded',
    model: 'local/qwen-e1-c0-r0',
    error: null,
  });
  assert.deepEqual(events, ['training on 2 rows for 3 epochs, lora r 8', 'done: local/qwen-e1-c0-r0']);
  assert.deepEqual(await provider.startFineTune(req('e1-c0-r0', 'qwen', fileId)), {
    jobId: start.jobId,
    created: false,
  });
  assert.deepEqual(readFileSync(runs, 'utf8').trim().split('\n'), ['e1-c0-r0'], 'started once');
  const answer = await provider.generate({
    model: state.model!,
    messages: [{ role: 'user', content: 'Name an animal.' }],
    n: 2,
    temperature: 1,
    seed: 0,
    maxTokens: 4,
  });
  assert.equal(answer.texts.length, 2);
});

test("a trainer's error line, a crash and a cancel are each reported", async () => {
  const { fileId } = await provider.upload({ name: 'y.jsonl', jsonl: '{"messages":[]}\n' });
  const oom = await poll((await provider.startFineTune(req('e2-oom', 'oom', fileId))).jobId);
  assert.deepEqual([oom.status, oom.error], ['failed', 'CUDA out of memory']);
  const crash = await poll((await provider.startFineTune(req('e2-crash', 'crash', fileId))).jobId);
  assert.equal(crash.status, 'failed');
  assert.match(crash.error!, /exited without a done line \(its last error output: Traceback: boom\)/);
  const slow = await provider.startFineTune(req('e2-slow', 'slow', fileId));
  await provider.cancel(slow.jobId);
  assert.equal((await poll(slow.jobId)).status, 'cancelled');
});

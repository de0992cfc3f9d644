// The Settings screen's provider API and the checks before an llm run is queued, through the lab
// service's validated entry point, with a real providers.json, a real SQLite store and the fake.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ProviderSettingsView } from '../../app/llm/provider-settings.ts';
import { tinyLlmInput } from '../../app/testing/tiny-llm-spec.ts';
import { FakeClock } from '../llm/clock.ts';
import { FakeProvider } from '../llm/testing/fake-provider.ts';
import { RunStore } from '../store/store.ts';
import { LabService } from './service.ts';

const KEY = 'sk-set-Jh3Kd8Lm2Nb5Vc7';
const dir = mkdtempSync(join(tmpdir(), 'sublab-llm-settings-'));
const file = join(dir, 'conf', 'providers.json');
let fake: FakeProvider;
let store: RunStore;
let service: LabService;
const env: Record<string, string | undefined> = { SETTINGS_TEST_KEY: KEY };

before(async () => {
  fake = await FakeProvider.start({ clock: new FakeClock(), key: KEY });
  store = new RunStore(join(dir, 'runs.sqlite'));
  service = new LabService({
    store,
    backend: 'wasm',
    cacheDir: join(dir, 'cache'),
    mode: 'browser',
    llm: { providersFile: file, env, clock: new FakeClock(), log: () => {} },
  });
});
after(async () => {
  await service.close();
  store.close();
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

const save = (input: unknown) => service.call('providers.save', input) as Promise<ProviderSettingsView>;

test('providers.save stores an entry in providers.json only, keeping its prices; remove drops it', async () => {
  const empty = (await service.call('providers.list', null)) as ProviderSettingsView;
  assert.deepEqual(
    empty.providers.map((p) => [p.name, p.configured, p.keyEnv, p.envSet, p.stored]),
    [
      ['openai', false, 'OPENAI_API_KEY', false, null],
      ['together', false, 'TOGETHER_API_KEY', false, null],
      ['command', false, 'SUBLAB_TRAINER_KEY', false, null],
    ],
  );
  const view = await save({
    name: 'openai',
    entry: { baseURL: fake.baseURL, keyEnv: 'SETTINGS_TEST_KEY', concurrency: 2 },
  });
  const openai = view.providers[0]!;
  assert.deepEqual([openai.configured, openai.keyEnv, openai.envSet], [true, 'SETTINGS_TEST_KEY', true]);
  writeFileSync(
    file,
    JSON.stringify({
      ...JSON.parse(readFileSync(file, 'utf8')),
      prices: { 'base-a': { input: 1, output: 2 } },
    }),
  );
  await save({ name: 'command', entry: { command: ['python3', 'train.py'], jobsDir: '/tmp/jobs' } });
  const written = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;
  assert.deepEqual(written['prices'], { 'base-a': { input: 1, output: 2 } });
  assert.deepEqual(Object.keys(written['providers']!), ['openai', 'command']);
  const removed = (await service.call('providers.remove', { name: 'command' })) as ProviderSettingsView;
  assert.equal(removed.providers[2]!.configured, false);
  assert.deepEqual(Object.keys((JSON.parse(readFileSync(file, 'utf8')) as { providers: object }).providers), [
    'openai',
  ]);
});

test('malformed provider settings are refused field by field, the file unchanged and no value echoed', async () => {
  const before = readFileSync(file, 'utf8');
  await assert.rejects(
    save({
      name: 'openai',
      entry: { baseURL: 'ftp://example.com', keyEnv: 'MY-KEY', concurrency: 0, command: [''] },
    }),
    (error: Error) => {
      assert.match(error.message, /entry\.baseURL: expected an http\(s\) URL/);
      assert.match(error.message, /entry\.keyEnv: expected an environment variable name/);
      assert.match(error.message, /entry\.concurrency: Too small/);
      assert.match(error.message, /entry\.command\.0: an empty argument/);
      return true;
    },
  );
  // A key has no field: it is refused by name, and its value is not repeated back.
  await assert.rejects(save({ name: 'openai', entry: { apiKey: KEY } }), (error: Error) => {
    assert.match(error.message, /entry: Unrecognized key: "apiKey"/);
    assert.ok(!error.message.includes(KEY));
    return true;
  });
  await assert.rejects(save({ name: 'azure', entry: {} }), /name: Invalid option: expected one of/);
  await assert.rejects(save({ name: 'openai' }), /entry: Invalid input: expected object/);
  await assert.rejects(save({ name: 'openai', entry: { timeoutMs: 10 } }), /entry\.timeoutMs: Too small/);
  assert.equal(readFileSync(file, 'utf8'), before);
  // A settings file broken by hand is not overwritten: saving says what is wrong with it.
  const broken = '{"providers": {"openai": {"baseURL": 42}}}';
  writeFileSync(file, broken);
  try {
    await assert.rejects(
      save({ name: 'together', entry: {} }),
      /providers\.json: providers\.openai\.baseURL: Invalid input: expected string, received number/,
    );
    assert.equal(readFileSync(file, 'utf8'), broken);
  } finally {
    writeFileSync(file, before);
  }
});

test('an llm run is refused before it is queued: over budget, or its key not set; the fake sees nothing', async () => {
  const requests = fake.requests.length;
  await assert.rejects(
    service.call('runs.start', { spec: tinyLlmInput({ budget: { maxTokens: 100 } }) }),
    /the run is projected at [\d,]+ tokens, above the budget of 100: nothing was sent/,
  );
  delete env['SETTINGS_TEST_KEY'];
  try {
    await assert.rejects(
      service.call('runs.start', { spec: tinyLlmInput() }),
      /the openai provider reads its key from the environment variable SETTINGS_TEST_KEY, which is not set/,
    );
  } finally {
    env['SETTINGS_TEST_KEY'] = KEY;
  }
  await assert.rejects(
    service.call('runs.start', { spec: tinyLlmInput({ replicates: 0 }) }),
    /invalid llm spec: replicates/,
  );
  assert.equal(fake.requests.length, requests);
  assert.deepEqual(store.listExperiments(), []);
  assert.deepEqual(await service.call('runs.queue', null), []);
});

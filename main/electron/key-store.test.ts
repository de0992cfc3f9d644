// The desktop app's provider keys in plain Node: Electron's safeStorage cannot run here, so the key
// store gets a real AES-256-GCM cipher with a key of this test's own in its place. What is tested is
// everything around it: the blob files, the key channel's validation, and the lab service running a
// provider with a key that only the key store holds.
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import type { JobState } from '../../app/api.ts';
import type { ProviderSettingsView } from '../../app/llm/provider-settings.ts';
import { tinyLlmInput } from '../../app/testing/tiny-llm-spec.ts';
import { LabService } from '../api/service.ts';
import { FakeClock } from '../llm/clock.ts';
import { FakeProvider } from '../llm/testing/fake-provider.ts';
import { RunStore } from '../store/store.ts';
import { handleKeyCall } from './ipc.ts';
import { KeyStore, type KeyCipher } from './key-store.ts';

const KEY = 'sk-desk-Wf6Gh1Jk9Lp4Zx2Cv';
const dir = mkdtempSync(join(tmpdir(), 'sublab-keys-'));
const appPage = pathToFileURL(join(dir, 'out/renderer/index.html')).href;
after(() => rmSync(dir, { recursive: true, force: true }));

/** safeStorage's part: AES-256-GCM under a key only this process holds. */
function testCipher(available = true): KeyCipher {
  const secret = randomBytes(32);
  return {
    available: () => available,
    encrypt: (plain) => {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', secret, iv);
      const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
      return Buffer.concat([iv, c.getAuthTag(), body]);
    },
    decrypt: (blob) => {
      const d = createDecipheriv('aes-256-gcm', secret, blob.subarray(0, 12));
      d.setAuthTag(blob.subarray(12, 28));
      return Buffer.concat([d.update(blob.subarray(28)), d.final()]).toString('utf8');
    },
  };
}

test('a key is kept encrypted in a file of its own, readable by this user only, and can be forgotten', () => {
  const keys = new KeyStore(join(dir, 'a'), testCipher());
  assert.equal(keys.has('openai'), false);
  assert.equal(keys.get('openai'), undefined);
  keys.set('openai', KEY);
  const file = join(dir, 'a', 'openai.key');
  assert.equal(readFileSync(file).indexOf(Buffer.from(KEY.slice(8))), -1, 'stored in the clear');
  if (process.platform !== 'win32') assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual([keys.has('openai'), keys.get('openai'), keys.has('together')], [true, KEY, false]);
  keys.clear('openai');
  assert.equal(existsSync(file), false);
  assert.throws(() => keys.set('../x' as 'openai', KEY), /no provider named "\.\.\/x"/);
  // Unreadable (another machine's keychain, a damaged file): a message that says what to do.
  writeFileSync(join(dir, 'a', 'together.key'), 'not a blob of ours');
  assert.throws(() => keys.get('together'), /the stored together key cannot be decrypted .*enter it again/);
  const none = new KeyStore(join(dir, 'b'), testCipher(false));
  assert.throws(() => none.set('openai', KEY), /keychain offers no encryption/);
  assert.equal(existsSync(join(dir, 'b')), false);
});

test('the key channel answers the app page only, checks each request, and never answers with a key', () => {
  const keys = new KeyStore(join(dir, 'c'), testCipher());
  assert.throws(
    () => handleKeyCall(keys, 'https://example.com/', appPage, { op: 'set', name: 'openai', key: KEY }),
    /unknown page/,
  );
  const refused = (request: unknown, message: RegExp) =>
    assert.throws(
      () => handleKeyCall(keys, appPage, appPage, request),
      (error: Error) => message.test(error.message) && !error.message.includes(KEY.slice(8)),
    );
  refused({ op: 'set', name: 'openai', key: '' }, /key request refused: key: the key is empty/);
  refused({ op: 'set', name: 'openai', key: `${KEY}\n` }, /key: a key has no spaces or line breaks/);
  refused({ op: 'set', name: 'azure', key: KEY }, /name: Invalid option/);
  refused({ op: 'read', name: 'openai' }, /op: Invalid discriminator value/);
  refused({ op: 'clear', name: 'openai', key: KEY }, /Unrecognized key: "key"/);
  refused(null, /key request refused/);
  assert.equal(keys.has('openai'), false);
  assert.equal(handleKeyCall(keys, appPage, appPage, { op: 'set', name: 'openai', key: KEY }), undefined);
  assert.equal(keys.get('openai'), KEY);
  handleKeyCall(keys, appPage, appPage, { op: 'clear', name: 'openai' });
  assert.equal(keys.has('openai'), false);
});

test('the desktop lab runs a provider with the key from its key store; the key is in no file or reply', async () => {
  const clock = new FakeClock();
  const fake = await FakeProvider.start({ clock, key: KEY });
  const keys = new KeyStore(join(dir, 'd', 'keys'), testCipher());
  const providersFile = join(dir, 'd', 'providers.json');
  const store = new RunStore(join(dir, 'd', 'runs.sqlite'));
  // The environment has no key under the variable the settings name: only the key store has one.
  const service = new LabService({
    store,
    backend: 'wasm',
    cacheDir: join(dir, 'd', 'cache'),
    mode: 'desktop',
    llm: { providersFile, env: {}, keys, clock, log: () => {} },
  });
  const replies: unknown[] = [];
  const call = async (method: string, input: unknown) => {
    const reply = await service.call(method, input);
    replies.push(reply);
    return reply;
  };
  try {
    await call('providers.save', { name: 'openai', entry: { baseURL: fake.baseURL, keyEnv: 'DESK_KEY' } });
    const spec = tinyLlmInput({
      prompts: { count: 30 },
      kept: 10,
      evaluation: { questions: ['Name your favourite animal.'], samplesPerQuestion: 10 },
    });
    await assert.rejects(call('runs.start', { spec }), /environment variable DESK_KEY, which is not set/);
    handleKeyCall(keys, appPage, appPage, { op: 'set', name: 'openai', key: KEY });
    const view = (await call('providers.list', null)) as ProviderSettingsView;
    assert.deepEqual(
      [view.providers[0]!.stored, view.providers[0]!.envSet, view.providers[1]!.stored],
      [true, false, false],
    );
    const job = (await call('runs.start', { spec })) as JobState;
    let state = job;
    while (state.status === 'queued' || state.status === 'running') {
      await new Promise((r) => setTimeout(r, 20));
      state = ((await call('runs.queue', null)) as JobState[]).find((j) => j.jobId === job.jobId)!;
    }
    assert.equal(state.status, 'done', state.error ?? '');
    assert.ok(fake.requests.length > 0 && fake.requests.every((r) => r.authorised));
    await call('experiments.get', { id: state.experimentId });
  } finally {
    await service.close();
    store.close();
    await fake.close();
  }
  const secret = Buffer.from(KEY.slice(8));
  for (const f of ['runs.sqlite', 'runs.sqlite-wal', 'providers.json', 'keys/openai.key'])
    if (existsSync(join(dir, 'd', f)))
      assert.equal(readFileSync(join(dir, 'd', f)).indexOf(secret), -1, `the key in ${f}`);
  assert.ok(!JSON.stringify(replies).includes(KEY.slice(8)), 'the key in a reply');
});

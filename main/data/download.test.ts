// The downloader against a misbehaving mirror on 127.0.0.1 serving Debian's Fashion-MNIST files:
// every failure has its own error naming the file, and the cache never keeps a bad file.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DownloadError, fetchVerified, partialPath } from './download.ts';
import { lockPath, STALE_REMOTE_MS, type LockHolder } from './download-lock.ts';
import type { RemoteFile } from './registry.ts';
import { nodeEntry } from '../node-entry.ts';
import { startTestMirror, type TestMirror } from './testing/mirror-server.ts';

const FASHION = '/usr/share/datasets/fashion-mnist';
const have = existsSync(join(FASHION, 'train-labels-idx1-ubyte.gz'));
// Under CI (.ci/run installs the package) a missing dataset fails the test instead of skipping it.
const needFashion =
  have || process.env['CI'] ? {} : { skip: `Debian's dataset-fashion-mnist is not installed (${FASHION})` };

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const NAMES = ['train-labels-idx1-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];
const bytes = new Map(have ? NAMES.map((n) => [n, readFileSync(join(FASHION, n))] as const) : []);
let mirror: TestMirror;

function remote(name: string, mirrors = [mirror.url]): RemoteFile {
  const data = bytes.get(name)!;
  return { name, size: data.length, sha256: sha256(data), mirrors };
}

function urlOf(name: string): string {
  return new URL(name, mirror.url).href;
}

const cacheDir = () => mkdtempSync(join(tmpdir(), 'sublab-download-'));

async function rejects(promise: Promise<unknown>, kind: string, pattern: RegExp): Promise<DownloadError> {
  const error = await promise.then(
    () => assert.fail('expected the download to fail'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof DownloadError, String(error));
  assert.equal(error.kind, kind, error.message);
  assert.match(error.message, pattern);
  return error;
}

before(async () => {
  mirror = await startTestMirror(bytes);
});
after(() => mirror.close());

test('downloads, verifies and caches; a cached file is never fetched again', needFashion, async () => {
  mirror.mode = 'ok';
  const dir = cacheDir();
  const dest = join(dir, 'train-labels-idx1-ubyte.gz');
  const file = remote('train-labels-idx1-ubyte.gz');
  const seen: [number, number | null][] = [];
  const result = await fetchVerified(file, [urlOf(file.name)], dest, {
    onProgress: (b, t) => seen.push([b, t]),
  });
  assert.equal(result.downloaded, true);
  assert.equal(sha256(readFileSync(dest)), file.sha256);
  assert.deepEqual(seen.at(-1), [file.size, file.size]);
  assert.ok(
    seen.every(([b], i) => i === 0 || b >= seen[i - 1]![0]),
    'progress only grows',
  );
  const before = mirror.requests.length;
  mirror.mode = 'not-found'; // the mirror is gone: the cache must not need it
  const again = await fetchVerified(file, [urlOf(file.name)], dest);
  assert.equal(again.downloaded, false);
  assert.equal(mirror.requests.length, before);
});

test('404: an HTTP error naming the URL, nothing written', needFashion, async () => {
  mirror.mode = 'not-found';
  const dir = cacheDir();
  const file = remote('t10k-labels-idx1-ubyte.gz');
  await rejects(
    fetchVerified(file, [urlOf(file.name)], join(dir, file.name)),
    'http',
    /^t10k-labels-idx1-ubyte\.gz: http:\/\/127\.0\.0\.1:\d+\/t10k-labels-idx1-ubyte\.gz answered HTTP 404 Not Found$/,
  );
  assert.deepEqual(readdirSync(dir), []);
});

test(
  'a stalled connection times out, keeps its partial, and a later call resumes it',
  needFashion,
  async () => {
    mirror.mode = 'stall';
    const dir = cacheDir();
    const file = remote('train-labels-idx1-ubyte.gz');
    const dest = join(dir, file.name);
    const started = performance.now();
    await rejects(
      fetchVerified(file, [urlOf(file.name)], dest, { stallMs: 300 }),
      'stalled',
      /sent nothing for 0\.3 s \(timed out after \d+ bytes\); \d+ bytes kept in .*\.partial, run again to resume/,
    );
    assert.ok(performance.now() - started < 5000);
    assert.equal(existsSync(dest), false);
    assert.equal(statSync(partialPath(dest)).size, Math.floor(file.size / 2));
    mirror.mode = 'ok';
    await fetchVerified(file, [urlOf(file.name)], dest);
    assert.equal(sha256(readFileSync(dest)), file.sha256);
  },
);

test(
  'a connection dropped mid-file: the next call resumes with Range and verifies',
  needFashion,
  async () => {
    mirror.mode = 'drop';
    const dir = cacheDir();
    const file = remote('train-labels-idx1-ubyte.gz');
    const dest = join(dir, file.name);
    const half = Math.floor(file.size / 2);
    await rejects(
      fetchVerified(file, [urlOf(file.name)], dest),
      'network',
      new RegExp(
        `connection to .* failed after ${half} bytes: .*; ${half} bytes kept in .*\\.partial, run again to resume`,
      ),
    );
    assert.equal(existsSync(dest), false, 'no file in the cache');
    assert.equal(statSync(partialPath(dest)).size, half);
    mirror.mode = 'ok';
    mirror.requests.length = 0;
    const seen: number[] = [];
    await fetchVerified(file, [urlOf(file.name)], dest, { onProgress: (b) => seen.push(b) });
    assert.deepEqual(mirror.requests, [{ path: file.name, range: `bytes=${half}-` }]);
    assert.equal(seen[0], half, 'progress starts where the partial ended');
    assert.equal(sha256(readFileSync(dest)), file.sha256);
    assert.equal(existsSync(partialPath(dest)), false);
  },
);

test('a server without Range support: starts again from byte 0 and still verifies', needFashion, async () => {
  const dir = cacheDir();
  const file = remote('train-labels-idx1-ubyte.gz');
  const dest = join(dir, file.name);
  mirror.mode = 'drop';
  await assert.rejects(fetchVerified(file, [urlOf(file.name)], dest));
  assert.ok(statSync(partialPath(dest)).size > 0);
  mirror.mode = 'no-range';
  mirror.requests.length = 0;
  await fetchVerified(file, [urlOf(file.name)], dest);
  assert.match(mirror.requests[0]!.range ?? '', /^bytes=\d+-$/, 'it asked for the rest');
  assert.equal(readFileSync(dest).length, file.size, 'and wrote the whole file once, not appended it');
  assert.equal(sha256(readFileSync(dest)), file.sha256);
});

test(
  'wrong bytes: a checksum error naming the file and both digests; nothing cached, partial deleted',
  needFashion,
  async () => {
    mirror.mode = 'wrong-bytes';
    const dir = cacheDir();
    const file = remote('t10k-labels-idx1-ubyte.gz');
    const dest = join(dir, file.name);
    const served = Uint8Array.from(bytes.get(file.name)!);
    for (let i = 100; i < served.length; i += 997) served[i] = served[i]! ^ 0xff;
    const error = await rejects(
      fetchVerified(file, [urlOf(file.name)], dest),
      'checksum',
      /^t10k-labels-idx1-ubyte\.gz: checksum mismatch for the copy from http:\/\/127\.0\.0\.1:\d+\/t10k-labels-idx1-ubyte\.gz: expected sha256 [0-9a-f]{64}, got [0-9a-f]{64} \(5125 bytes; the original has 5125\)\. The file was deleted; nothing was cached\.$/,
    );
    assert.ok(error.message.includes(`expected sha256 ${file.sha256}, got ${sha256(served)}`), error.message);
    assert.deepEqual(readdirSync(dir), [], 'neither the file nor a partial is left');
  },
);

test(
  'mirrors are tried in order: a 404 then a good mirror; all failing lists each',
  needFashion,
  async () => {
    const dir = cacheDir();
    const good = await startTestMirror(bytes);
    mirror.mode = 'not-found';
    const file = remote('t10k-labels-idx1-ubyte.gz');
    const urls = [urlOf(file.name), new URL(file.name, good.url).href];
    await fetchVerified(file, urls, join(dir, file.name));
    assert.equal(sha256(readFileSync(join(dir, file.name))), file.sha256);
    good.mode = 'wrong-bytes';
    const error = await rejects(
      fetchVerified(file, urls, join(dir, 'again', file.name)),
      'checksum',
      /no mirror gave a verified copy:\n {2}- .*HTTP 404.*\n {2}- .*checksum mismatch/,
    );
    assert.equal(error.attempts.length, 2);
    await good.close();
  },
);

test('a recompressed copy passes by its content digest; a corrupt one does not', needFashion, async () => {
  const original = bytes.get('train-labels-idx1-ubyte.gz')!;
  const content = gunzipSync(original);
  const recompressed = gzipSync(content, { level: 1 });
  assert.notEqual(sha256(recompressed), sha256(original));
  const served = await startTestMirror(new Map([['train-labels-idx1-ubyte.gz', recompressed]]));
  const file: RemoteFile = { ...remote('train-labels-idx1-ubyte.gz'), contentSha256: sha256(content) };
  const dir = cacheDir();
  const url = new URL(file.name, served.url).href;
  await fetchVerified(file, [url], join(dir, file.name));
  assert.deepEqual(gunzipSync(readFileSync(join(dir, file.name))), content);
  served.mode = 'wrong-bytes';
  await rejects(
    fetchVerified(file, [url], join(dir, 'b', file.name)),
    'checksum',
    /expected sha256 [0-9a-f]{64} \(or [0-9a-f]{64} for its uncompressed content\), got [0-9a-f]{64}/,
  );
  assert.equal(existsSync(join(dir, 'b', file.name)), false);
  await served.close();
});

test('a partial that is already whole (the server answers 416) is verified as is', needFashion, async () => {
  mirror.mode = 'ok';
  const dir = cacheDir();
  const file = remote('t10k-labels-idx1-ubyte.gz');
  const dest = join(dir, file.name);
  writeFileSync(partialPath(dest), bytes.get(file.name)!);
  await fetchVerified(file, [urlOf(file.name)], dest);
  assert.equal(sha256(readFileSync(dest)), file.sha256);
});

interface Child {
  process: ChildProcess;
  /** Resolves with the JSON line the child prints when its download ends. */
  outcome: Promise<{ downloaded?: boolean; waited?: boolean; error?: string }>;
  ready: Promise<void>;
}

/** A live process to hold a lock, killed when the test ends whatever it asserted. */
function liveProcess(t: TestContext): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  t.after(() => void child.kill('SIGKILL'));
  return child;
}

/** A download in its own process (testing/fetch-once.ts) that starts when it is sent a line. */
function downloadProcess(file: RemoteFile, dest: string): Child {
  const entry = nodeEntry(new URL('./testing/fetch-once.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    [...entry.execArgv, entry.file, JSON.stringify({ file, urls: [urlOf(file.name)], dest })],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  const ready = new Promise<void>((resolve) => lines.once('line', () => resolve()));
  const outcome = ready.then(() =>
    new Promise<string>((resolve) => lines.once('line', resolve)).then((l) => JSON.parse(l)),
  );
  return { process: child, outcome, ready };
}

test(
  'two processes download one file at once (a partial already there): one fetches, the other waits; one verified file',
  needFashion,
  async () => {
    mirror.mode = 'slow';
    const dir = cacheDir();
    const file = remote('train-labels-idx1-ubyte.gz');
    const dest = join(dir, file.name);
    const half = Math.floor(file.size / 2);
    // A download cut short before: both processes would resume it by appending to the same partial.
    writeFileSync(partialPath(dest), bytes.get(file.name)!.subarray(0, half));
    mirror.requests.length = 0;
    const children = [downloadProcess(file, dest), downloadProcess(file, dest)];
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.process.stdin!.end('go\n');
    const outcomes = await Promise.all(children.map((c) => c.outcome));
    assert.deepEqual(
      outcomes.map((o) => o.error ?? null),
      [null, null],
      'both processes end with the file',
    );
    assert.deepEqual(outcomes.map((o) => o.downloaded).sort(), [false, true]);
    assert.equal(outcomes.find((o) => !o.downloaded)!.waited, true, 'the second one waited for the lock');
    assert.deepEqual(mirror.requests, [{ path: file.name, range: `bytes=${half}-` }], 'fetched once');
    assert.equal(sha256(readFileSync(dest)), file.sha256);
    assert.deepEqual(readdirSync(dir), [file.name], 'no partial and no lock left');
  },
);

test(
  "a live process's lock is waited for, taken over once it is dead; a stale remote lock is taken over",
  needFashion,
  async (t) => {
    mirror.mode = 'ok';
    const dir = cacheDir();
    const file = remote('t10k-labels-idx1-ubyte.gz');
    const dest = join(dir, file.name);
    const holder = liveProcess(t);
    const lock = { pid: holder.pid!, host: hostname(), since: new Date().toISOString() };
    writeFileSync(lockPath(dest), JSON.stringify(lock));
    mirror.requests.length = 0;
    let waitedFor: LockHolder | null = null;
    let done = false;
    const fetching = fetchVerified(file, [urlOf(file.name)], dest, {
      onWait: (h) => (waitedFor = h),
    }).finally(() => (done = true));
    await sleep(1000);
    assert.deepEqual(waitedFor, lock);
    assert.equal(done, false, 'a live holder is never taken over');
    assert.deepEqual(mirror.requests, []);
    const exited = once(holder, 'exit');
    holder.kill('SIGKILL');
    await exited;
    assert.equal((await fetching).downloaded, true);
    assert.equal(sha256(readFileSync(dest)), file.sha256);
    assert.deepEqual(readdirSync(dir), [file.name]);

    // On another host (a shared home directory): a holder that stopped touching its lock is gone.
    const other = join(dir, 'other', file.name);
    mkdirSync(join(dir, 'other'));
    writeFileSync(lockPath(other), JSON.stringify({ ...lock, host: 'elsewhere.example' }));
    const old = new Date(Date.now() - STALE_REMOTE_MS - 5000);
    utimesSync(lockPath(other), old, old);
    assert.equal((await fetchVerified(file, [urlOf(file.name)], other)).downloaded, true);
  },
);

test(
  'waiting for a live lock can be cancelled, and leaves the lock to its holder',
  needFashion,
  async (t) => {
    const dir = cacheDir();
    const file = remote('t10k-labels-idx1-ubyte.gz');
    const dest = join(dir, file.name);
    const holder = liveProcess(t);
    writeFileSync(lockPath(dest), JSON.stringify({ pid: holder.pid, host: hostname(), since: '' }));
    const controller = new AbortController();
    await rejects(
      fetchVerified(file, [urlOf(file.name)], dest, {
        signal: controller.signal,
        onWait: () => controller.abort(),
      }),
      'cancelled',
      new RegExp(`cancelled while waiting for process ${holder.pid} on .* to finish downloading it$`),
    );
    assert.ok(existsSync(lockPath(dest)));
  },
);

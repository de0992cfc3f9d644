// The browser-mode server under a seeded barrage of malformed HTTP requests and WebSocket frames while
// a real job trains in a real trainer process: every bad request gets a 4xx (or, for frames, a protocol
// error or the right close code), nothing a 5xx, and the job finishes with all its results.
// Reproduce a failure with FUZZ_SEED=<the printed seed>.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import type { ApiEvent, JobState } from '../../app/api.ts';
import { CONDITIONS } from '../../app/conditions.ts';
import { tinyClassifierSpec } from '../../app/testing/tiny-spec.ts';
import { LabService } from '../api/service.ts';
import { Rng } from '../engine/rng.ts';
import { RunStore } from '../store/store.ts';
import { MAX_URL_BYTES } from './request-target.ts';
import { startLabServer } from './serve.ts';
import { MAX_MESSAGE_BYTES } from './socket-api.ts';
import { rawRequest, requestBytes, type RawAnswer } from './testing/raw-http.ts';

const seed = process.env['FUZZ_SEED'] ? Number(process.env['FUZZ_SEED']) : (Math.random() * 2 ** 32) >>> 0;
const HTTP_CASES = 160;
const WS_FRAMES = 120;
const CONCURRENCY = 8;

const spec = tinyClassifierSpec('fuzzed while training');

const pick = <T>(rng: Rng, items: readonly T[]): T => items[rng.int(items.length)]!;
const text = (rng: Rng, n: number, alphabet: string) =>
  Array.from({ length: n }, () => alphabet[rng.int(alphabet.length)]).join('');
const bytes = (rng: Rng, n: number) => Buffer.from(Array.from({ length: n }, () => rng.int(256)));

interface HttpCase {
  category: string;
  bytes: string | Buffer;
  /** false for a client that hangs up mid-request: there is nobody to answer. */
  answered: boolean;
}

/** One malformed HTTP request of a random kind; `host` is the server's own Host value. */
function httpCase(rng: Rng, host: string, token: string): HttpCase {
  const ok = { host };
  const kinds: (() => HttpCase)[] = [
    () => {
      const path = `/${text(rng, rng.int(12), 'abc/.')}`;
      const at = rng.int(path.length + 1);
      const bad = pick(rng, ['%', '%z', '%zz', '%G1', '%e0%a4', '%ff', '%c3%28', '%E2%82']);
      return {
        category: 'bad encoding',
        bytes: requestBytes(`GET ${path.slice(0, at)}${bad}${path.slice(at)} HTTP/1.1`, ok),
        answered: true,
      };
    },
    () => {
      const up = pick(rng, ['..', '%2e%2e', '%2E%2e', '.%2e', '%2e.', '%252e%252e', '%%32%65%%32%65']);
      const sep = pick(rng, ['/', '%2f', '%2F', '\\', '%5c', '%255c', '//', '/./']);
      const depth = 1 + rng.int(4);
      const target = pick(rng, ['secret.txt', 'etc/passwd', 'static/../secret.txt']);
      const suffix = pick(rng, ['', '%00', '%00.html', '%2500']);
      const path = `/${Array(depth).fill(up).join(sep)}${sep}${target}${suffix}`;
      return { category: 'traversal', bytes: requestBytes(`GET ${path} HTTP/1.1`, ok), answered: true };
    },
    () => {
      const known = [
        'POST',
        'PUT',
        'DELETE',
        'OPTIONS',
        'PATCH',
        'TRACE',
        'PROPFIND',
        'MKCOL',
        'LOCK',
        'PURGE',
      ];
      const method =
        rng.next() < 0.6 ? pick(rng, known) : `X${text(rng, 1 + rng.int(7), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ')}`;
      return { category: 'odd method', bytes: requestBytes(`${method} / HTTP/1.1`, ok), answered: true };
    },
    () => {
      const n = MAX_URL_BYTES + 1 + rng.int(12_000);
      const path = rng.next() < 0.5 ? `/${'a'.repeat(n)}` : `/?token=${token}&pad=${'p'.repeat(n)}`;
      return { category: 'long URL', bytes: requestBytes(`GET ${path} HTTP/1.1`, ok), answered: true };
    },
    () => {
      // More header bytes than Node reads (16 KiB), in many small headers or a few large ones.
      const headers: Record<string, string> = { host };
      const target = 16 * 1024 + 1 + rng.int(16 * 1024);
      for (let i = 0, size = 0; size <= target; i++) {
        const value = 'v'.repeat(20 + rng.int(rng.next() < 0.5 ? 100 : 4000));
        headers[`x-${i}-${text(rng, 4, 'abcdef')}`] = value;
        size += value.length + 12;
      }
      return { category: 'header flood', bytes: requestBytes('GET / HTTP/1.1', headers), answered: true };
    },
    () => {
      const port = host.split(':')[1]!;
      const bad = pick(rng, [
        'evil.example',
        `evil.example:${port}`,
        '127.0.0.1',
        `127.0.0.2:${port}`,
        `localhost:${Number(port) + 1}`,
        '',
        `127.0.0.1:${port}@evil`,
      ]);
      const version = pick(rng, ['1.0', '1.1']);
      return {
        category: 'bad host',
        bytes: requestBytes(`GET / HTTP/${version}`, bad ? { host: bad } : {}),
        answered: true,
      };
    },
    () => {
      const line = pick(rng, [
        'GET',
        'GET / HTTP/1.1 extra',
        'GET /a b HTTP/1.1',
        'GET /\u0000 HTTP/1.1',
        'GET /\t HTTP/1.1',
        'GET http://evil.example/ HTTP/1.1',
        'GET * HTTP/1.1',
        ' GET / HTTP/1.1',
        'get / HTTP/1.1',
      ]);
      return { category: 'bad request line', bytes: requestBytes(line, ok), answered: true };
    },
    () => {
      // Garbage that starts with a byte no method starts with, so the parser refuses it at once.
      const junk = Buffer.concat([
        Buffer.from([rng.int(0x41)]),
        bytes(rng, rng.int(300)),
        Buffer.from('\r\n\r\n'),
      ]);
      return { category: 'garbage', bytes: junk, answered: true };
    },
    () => {
      const path = pick(rng, [
        '/api',
        `/api?token=${token.slice(1)}`,
        `/api?token=${token}x`,
        `/ws?token=${token}`,
        `/api?token=%`,
        `/%?token=${token}`,
      ]);
      const extra = pick<Record<string, string>>(rng, [
        {},
        { origin: 'http://evil.example' },
        { origin: 'null' },
        { host: 'evil.example' },
      ]);
      const key = pick(rng, ['dGhlIHNhbXBsZSBub25jZQ==', 'short', '']);
      return {
        category: 'refused upgrade',
        bytes: requestBytes(`GET ${path} HTTP/1.1`, {
          ...ok,
          upgrade: 'websocket',
          connection: 'Upgrade',
          'sec-websocket-key': key,
          'sec-websocket-version': pick(rng, ['13', '8', 'x']),
          ...extra,
        }),
        answered: true,
      };
    },
    () => {
      // A client that hangs up halfway through its request line or headers.
      const full = requestBytes(`GET /${text(rng, 20, 'abc')} HTTP/1.1`, ok);
      return {
        category: 'client abort',
        bytes: full.slice(0, 1 + rng.int(full.length - 5)),
        answered: false,
      };
    },
  ];
  return pick(rng, kinds)();
}

async function sendHttp(port: number, c: HttpCase): Promise<RawAnswer> {
  if (c.answered) return rawRequest(port, c.bytes);
  // Hang up at once: the server must simply let the socket go.
  return rawRequest(port, c.bytes, 50);
}

interface Frame {
  category: string;
  data: string | Buffer;
  binary: boolean;
  /** The id the error reply must carry: the frame's own when it was a safe non-negative integer. */
  id: number | null;
}

/** One frame that must get a protocol error: bad JSON, a bad envelope, an unknown method, bad input. */
function frame(rng: Rng, nextId: () => number): Frame {
  const badIds = [-1, 1.5, 2 ** 53, 2 ** 60, '7', null, [], {}, true, Number.MAX_SAFE_INTEGER + 2];
  const kinds: (() => Frame)[] = [
    () => ({
      category: 'text garbage',
      data: text(rng, rng.int(200), 'abc{}[]":,0123 \\\n'),
      binary: false,
      id: null,
    }),
    () => ({ category: 'binary', data: bytes(rng, 1 + rng.int(500)), binary: true, id: null }),
    () => {
      const value = pick(rng, [null, 0, 'str', [], [1, 2], true, { method: 'experiments.list' }]);
      return { category: 'wrong shape', data: JSON.stringify(value), binary: false, id: null };
    },
    () => {
      const id = pick(rng, badIds);
      return {
        category: 'bad id',
        data: JSON.stringify({ id, method: 'experiments.list', input: null }),
        binary: false,
        id: null,
      };
    },
    () => {
      const depth = 65 + rng.int(20_000);
      const data = `{"id":1,"method":"experiments.list","input":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      return { category: 'deep nesting', data, binary: false, id: null };
    },
    () => {
      const id = nextId();
      const method = pick(rng, [
        'no.such',
        'process.exit',
        '__proto__',
        'constructor',
        '',
        'experiments',
        'x'.repeat(65),
      ]);
      return {
        category: 'unknown method',
        data: JSON.stringify({ id, method, input: null }),
        binary: false,
        id,
      };
    },
    () => {
      const id = nextId();
      const [method, input] = pick(rng, [
        ['experiments.get', { id: 'one' }],
        ['experiments.get', [1]],
        ['experiments.get', { id: -rng.int(100) - 1 }],
        ['experiments.delete', { id: 2 ** 60 }],
        ['experiments.update', { id: 'x', notes: 5 }],
        ['runs.cancel', { jobId: null }],
        ['runs.start', { spec: rng.int(1000) }],
        ['runs.start', { spec: { version: 99 } }],
        ['experiments.list', { extra: true }],
      ] as const);
      return { category: 'wrong input', data: JSON.stringify({ id, method, input }), binary: false, id };
    },
    () => {
      const id = nextId();
      const data = JSON.stringify({ id, method: 'experiments.list', input: null, [text(rng, 5, 'xyz')]: 1 });
      return { category: 'extra key', data, binary: false, id };
    },
  ];
  return pick(rng, kinds)();
}

function open(port: number, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api?token=${encodeURIComponent(token)}`);
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

type Reply = { id: number | null; ok: boolean; result?: unknown; error?: string };

/** Every reply a socket receives, the last job list pushed to it, and its close code once closed. */
function record(ws: WebSocket) {
  const log = { replies: [] as Reply[], jobs: [] as JobState[], closed: new Promise<number>(() => {}) };
  log.closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as Reply | { event: ApiEvent };
    if (!('event' in message)) log.replies.push(message);
    else if (message.event.type === 'jobs') log.jobs = message.event.jobs;
  });
  return log;
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function tally(counts: Map<string, number>, key: string) {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

test(
  `the server survives a seeded fuzz while a job trains (seed ${seed})`,
  { timeout: 90_000 },
  async (t) => {
    t.diagnostic(`FUZZ_SEED=${seed}`);
    process.stdout.write(`# serve.fuzz seed: ${seed} (rerun with FUZZ_SEED=${seed})\n`);
    const rng = new Rng(seed);
    const dir = mkdtempSync(join(tmpdir(), 'sublab-fuzz-'));
    const staticDir = join(dir, 'static');
    mkdirSync(staticDir);
    writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>lab</title>');
    writeFileSync(join(dir, 'secret.txt'), 'not for the browser');
    const store = new RunStore(join(dir, 'runs.sqlite'));
    const service = new LabService({
      store,
      backend: 'cpu',
      cacheDir: join(dir, 'cache'),
      mode: 'browser',
      workers: 1,
    });
    const server = await startLabServer({ service, staticDir });
    const host = `127.0.0.1:${server.port}`;
    try {
      const main = await open(server.port, server.token);
      const mainLog = record(main);
      main.send(JSON.stringify({ id: 1, method: 'runs.start', input: { spec } }));
      await until(() => mainLog.replies.some((r) => r.id === 1), 10_000, 'runs.start');
      const started = mainLog.replies.find((r) => r.id === 1)!;
      assert.equal(started.ok, true, started.error);
      const job = started.result as JobState;
      const ours = () => mainLog.jobs.find((j) => j.jobId === job.jobId);
      const statusWhenFuzzingBegan = ours()?.status ?? job.status;

      // HTTP: a few at a time, each on its own connection.
      const cases = Array.from({ length: HTTP_CASES }, () => httpCase(rng, host, server.token));
      const answers: { c: HttpCase; a: RawAnswer }[] = [];
      for (let i = 0; i < cases.length; i += CONCURRENCY) {
        const batch = cases.slice(i, i + CONCURRENCY);
        const got = await Promise.all(batch.map((c) => sendHttp(server.port, c)));
        batch.forEach((c, j) => answers.push({ c, a: got[j]! }));
      }
      const httpByCategory = new Map<string, number>();
      for (const { c, a } of answers) {
        tally(httpByCategory, `${c.category} ${c.answered ? a.status : 'hung up'}`);
        assert.doesNotMatch(a.body, /not for the browser/, c.category);
        if (!c.answered) continue;
        const shown = JSON.stringify(c.bytes.toString('latin1').slice(0, 200));
        assert.ok(a.status !== null, `${c.category}: no response (${a.ending}) to ${shown}`);
        assert.ok(a.status >= 400 && a.status < 500, `${c.category}: ${a.status} for ${shown}`);
        if (a.status === 405) assert.equal(a.headers['allow'], 'GET, HEAD');
      }

      // WebSocket: frames spread over a few authenticated sockets, each frame owed one error reply.
      let id = 1000;
      const sockets = await Promise.all([0, 1, 2, 3].map(() => open(server.port, server.token)));
      const logs = sockets.map(record);
      const owed = sockets.map(() => [] as (number | null)[]);
      const wsByCategory = new Map<string, number>();
      for (let i = 0; i < WS_FRAMES; i++) {
        const f = frame(rng, () => id++);
        const s = rng.int(sockets.length);
        sockets[s]!.send(f.data, { binary: f.binary });
        owed[s]!.push(f.id);
        tally(wsByCategory, f.category);
      }
      // Frames the protocol layer closes the socket for, and handshakes without the token.
      const closes: { what: string; code: Promise<number>; expected: number }[] = [];
      for (let i = 0; i < 6; i++) {
        const ws = await open(server.port, server.token);
        const oversized = rng.next() < 0.5;
        const { closed } = record(ws);
        if (oversized)
          ws.send(bytes(rng, MAX_MESSAGE_BYTES + 1 + rng.int(1 << 20)), { binary: rng.next() < 0.5 });
        else ws.send(Buffer.from([0x7b, 0xc0 + rng.int(2), 0x7d]), { binary: false });
        closes.push({
          what: oversized ? 'oversized' : 'bad UTF-8',
          code: closed,
          expected: oversized ? 1009 : 1007,
        });
      }
      for (let i = 0; i < 10; i++) {
        const token = pick(rng, [
          '',
          'x',
          server.token.slice(0, -1),
          `${server.token}=`,
          server.token.toUpperCase(),
        ]);
        await assert.rejects(open(server.port, token), /HTTP 401/);
        tally(wsByCategory, 'no or wrong token (401)');
      }
      for (const c of closes) {
        assert.equal(await c.code, c.expected, c.what);
        tally(wsByCategory, `${c.what} (close ${c.expected})`);
      }
      await until(
        () => logs.every((log, s) => log.replies.length >= owed[s]!.length),
        15_000,
        'a reply to every frame',
      );
      for (const [s, log] of logs.entries()) {
        assert.equal(log.replies.length, owed[s]!.length, `socket ${s}: one reply per frame`);
        assert.ok(
          log.replies.every((r) => r.ok === false && typeof r.error === 'string' && r.error.length > 0),
        );
        const key = (v: number | null) => String(v);
        assert.deepEqual(
          log.replies.map((r) => key(r.id)).sort(),
          owed[s]!.map(key).sort(),
          `socket ${s}: ids`,
        );
      }
      const statusWhenFuzzingEnded = ours()?.status ?? job.status;
      const httpTotal = answers.length;
      const wsTotal = [...wsByCategory.values()].reduce((a, b) => a + b, 0);
      t.diagnostic(`HTTP (${httpTotal}): ${JSON.stringify(Object.fromEntries([...httpByCategory].sort()))}`);
      t.diagnostic(`WebSocket (${wsTotal}): ${JSON.stringify(Object.fromEntries([...wsByCategory].sort()))}`);
      assert.ok(httpTotal + wsTotal >= 200, `${httpTotal + wsTotal} fuzz requests`);

      // Afterwards the server still serves the page and the API, and the job ran to the end.
      const page = await rawRequest(server.port, requestBytes('GET / HTTP/1.1', { host }));
      assert.equal(page.status, 200);
      assert.match(page.body, /<title>lab<\/title>/);
      main.send(JSON.stringify({ id: 2, method: 'experiments.list', input: null }));
      await until(() => mainLog.replies.some((r) => r.id === 2), 5_000, 'experiments.list');
      assert.equal(mainLog.replies.find((r) => r.id === 2)!.ok, true);
      // The job's end reaches the socket that started it as a pushed event, like any page would see it.
      t.diagnostic(
        `job: ${statusWhenFuzzingBegan} when the fuzzing began, ${statusWhenFuzzingEnded} when it ended`,
      );
      assert.ok(['queued', 'running'].includes(statusWhenFuzzingBegan), 'the fuzzing ran while the job did');
      await until(
        () => ['done', 'failed', 'cancelled'].includes(ours()?.status ?? ''),
        40_000,
        'the job to finish',
      );
      const finished = ours();
      assert.equal(finished!.status, 'done', finished!.error ?? '');
      const experiment = store.getExperiment(finished!.experimentId!)!;
      assert.equal(experiment.status, 'done');
      const cells = store.cells(experiment.id);
      assert.equal(cells.length, job.cells);
      for (const cell of cells) {
        assert.equal(cell.status, 'done');
        assert.equal(store.results(cell.id).length, CONDITIONS.length * spec.replicates);
      }
      for (const ws of [main, ...sockets]) ws.close();
    } finally {
      await server.close();
      await service.close();
      store.close();
    }
  },
);

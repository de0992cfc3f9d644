// Browser mode's server: 127.0.0.1 only, the session token, Host and Origin checks, static files
// with a CSP, and the API over the socket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { RunStore } from '../store/store.ts';
import { LabService } from '../api/service.ts';
import { startLabServer, type LabServer } from './serve.ts';
import { MAX_IN_FLIGHT, MAX_MESSAGE_BYTES } from './socket-api.ts';
import { MAX_URL_BYTES } from './request-target.ts';
import { rawRequest, requestBytes } from './testing/raw-http.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-serve-'));
const staticDir = join(dir, 'static');
mkdirSync(staticDir);
writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>lab</title>');
writeFileSync(join(staticDir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
writeFileSync(join(dir, 'secret.txt'), 'not for the browser');
// A link inside the UI folder to the file beside it: the real path decides, not the name.
symlinkSync(join(dir, 'secret.txt'), join(staticDir, 'link.txt'));
let store: RunStore;
let service: LabService;
let server: LabServer;

before(async () => {
  store = new RunStore(join(dir, 'runs.sqlite'));
  service = new LabService({ store, backend: 'wasm', cacheDir: join(dir, 'cache'), mode: 'browser' });
  server = await startLabServer({ service, staticDir });
});

after(async () => {
  await server.close();
  await service.close();
  store.close();
});

function get(path: string, host = `127.0.0.1:${server.port}`) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, path, headers: { host } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    },
  );
}

function connect(token: string, headers: Record<string, string> = {}) {
  return new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api?token=${encodeURIComponent(token)}`, {
      headers,
    });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

function call(ws: WebSocket, id: number, method: string, input: unknown) {
  return new Promise<{ id: number; ok: boolean; result?: unknown; error?: string }>((resolve) => {
    ws.on('message', function onMessage(data) {
      const message = JSON.parse(String(data)) as { id?: number };
      if (message.id === id) {
        ws.off('message', onMessage);
        resolve(message as never);
      }
    });
    ws.send(JSON.stringify({ id, method, input }));
  });
}

test('binds to 127.0.0.1 and prints a URL with a long random token', () => {
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32}$/);
});

test('serves the UI with a strict CSP; no file outside it; foreign Host headers refused', async () => {
  const page = await get('/');
  assert.equal(page.status, 200);
  assert.match(page.body, /<title>lab<\/title>/);
  assert.match(String(page.headers['content-security-policy']), /script-src 'self'; .*object-src 'none'/);
  for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '//..//secret.txt']) {
    const r = await get(path);
    assert.ok(r.status === 403 || r.status === 404, `${path}: ${r.status}`);
    assert.doesNotMatch(r.body, /not for the browser/);
  }
  assert.equal((await get('/', `evil.example:${server.port}`)).status, 403);
});

test("/favicon.ico is the UI's own icon, not a 404 in every page's log", async () => {
  const icon = await get('/favicon.ico');
  assert.equal(icon.status, 200);
  assert.equal(icon.headers['content-type'], 'image/svg+xml');
  assert.match(icon.body, /^<svg /);
});

test('the API socket needs the session token and a same-origin page', async () => {
  await assert.rejects(connect('wrong-token'), /HTTP 401/);
  await assert.rejects(connect(''), /HTTP 401/);
  await assert.rejects(connect(server.token, { origin: 'http://evil.example' }), /HTTP 403/);
  const ws = await connect(server.token, { origin: `http://127.0.0.1:${server.port}` });
  assert.deepEqual(await call(ws, 1, 'experiments.list', null), { id: 1, ok: true, result: [] });
  const bad = await call(ws, 2, 'experiments.get', { id: 'x' });
  assert.equal(bad.ok, false);
  assert.match(bad.error!, /invalid input for experiments.get/);
  const unknown = await call(ws, 3, 'process.exit', null);
  assert.match(unknown.error!, /unknown API method/);
  ws.close();
});

function raw(line: string, headers: Record<string, string> = { host: `127.0.0.1:${server.port}` }) {
  return rawRequest(server.port, requestBytes(line, headers));
}

async function stillServes() {
  assert.equal((await get('/')).status, 200, 'the server still answers after the bad request');
}

test('malformed percent-encoding is a 400, not a crash (a lone "%" used to end the process)', async () => {
  for (const path of ['/%', '/%zz', '/%E0%A4%A', '/index.html%', '/a%2']) {
    const r = await raw(`GET ${path} HTTP/1.1`);
    assert.equal(r.status, 400, path);
    assert.match(r.body, /malformed percent-encoding/);
  }
  // The token in the query is decoded leniently: a stray "%" there is just a wrong token.
  assert.equal((await raw('GET /?token=% HTTP/1.1')).status, 200);
  // Targets that new URL() would throw on.
  for (const path of ['//', '//[', '//%'])
    assert.equal((await raw(`GET ${path} HTTP/1.1`)).status! < 500, true);
  await stillServes();
});

test('path traversal in any encoding never reaches a file beside the UI folder', async () => {
  const paths = [
    '/..%2f..%2fetc/passwd',
    '/..%2fsecret.txt',
    '/%2e%2e/secret.txt',
    '/%2e%2e%2fsecret.txt',
    '/%2E%2E%2Fsecret.txt',
    '/..\\secret.txt',
    '/%5c..%5csecret.txt',
    '/..%5csecret.txt',
    '/%252e%252e/secret.txt',
    '/%252e%252e%252fsecret.txt',
    '/secret.txt%00.html',
    '/index.html%00',
    '/./../secret.txt',
    '/link.txt',
    '/%2flink.txt',
  ];
  for (const path of paths) {
    const r = await raw(`GET ${path} HTTP/1.1`);
    assert.ok(r.status !== null && r.status >= 400 && r.status < 500, `${path}: ${r.status}`);
    assert.doesNotMatch(r.body, /not for the browser/, path);
  }
  assert.equal((await raw('GET /%2e%2e/secret.txt HTTP/1.1')).status, 403);
  assert.equal((await raw('GET /secret.txt%00.html HTTP/1.1')).status, 400);
  assert.equal((await raw('GET /link.txt HTTP/1.1')).status, 403);
  assert.equal((await raw('GET /./index.html HTTP/1.1')).status, 403);
  await stillServes();
});

test('methods other than GET and HEAD get 405 with Allow, CONNECT included', async () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'PROPFIND', 'CONNECT']) {
    const target = method === 'CONNECT' ? `127.0.0.1:${server.port}` : '/';
    const r = await raw(`${method} ${target} HTTP/1.1`);
    assert.equal(r.status, 405, method);
    assert.equal(r.headers['allow'], 'GET, HEAD', method);
  }
  const head = await raw('HEAD / HTTP/1.1');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  // A method the HTTP parser does not know is the parser's 400.
  assert.equal((await raw('BREW / HTTP/1.1')).status, 400);
  await stillServes();
});

test('an overlong URL is a 414; one past the header limit a 431; garbage a 400', async () => {
  const long = `/${'a'.repeat(MAX_URL_BYTES)}`;
  assert.equal((await raw(`GET ${long} HTTP/1.1`)).status, 414);
  assert.equal((await raw(`GET /?token=${'t'.repeat(MAX_URL_BYTES)} HTTP/1.1`)).status, 414);
  assert.equal((await raw(`GET /${'a'.repeat(20_000)} HTTP/1.1`)).status, 431);
  const flood = Object.fromEntries([...Array(400).keys()].map((i) => [`x-h${i}`, 'v'.repeat(60)]));
  assert.equal((await raw('GET / HTTP/1.1', { host: `127.0.0.1:${server.port}`, ...flood })).status, 431);
  for (const junk of [
    '\x00\x01\x02\r\n\r\n',
    'GET\r\n\r\n',
    'GET / HTTP/9.9\r\n\r\n',
    'G ET / HTTP/1.1\r\n\r\n',
  ])
    assert.equal((await rawRequest(server.port, junk)).status, 400, JSON.stringify(junk));
  await stillServes();
});

test('a missing or foreign Host is refused', async () => {
  assert.equal((await raw('GET / HTTP/1.0', {})).status, 403);
  assert.equal((await raw('GET / HTTP/1.1', {})).status, 400, "Node's parser requires Host in HTTP/1.1");
  assert.equal((await raw('GET / HTTP/1.1', { host: 'evil.example' })).status, 403);
  assert.equal((await raw('GET / HTTP/1.1', { host: `localhost:${server.port}` })).status, 200);
});

test('upgrades are refused cleanly: wrong path, no or wrong token, bad origin, not a WebSocket', async () => {
  const handshake = (path: string, extra: Record<string, string> = {}, method = 'GET') =>
    requestBytes(`${method} ${path} HTTP/1.1`, {
      host: `127.0.0.1:${server.port}`,
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-version': '13',
      ...extra,
    });
  const upgrade = (path: string, extra: Record<string, string> = {}, method = 'GET') =>
    rawRequest(server.port, handshake(path, extra, method));
  const token = server.token;
  assert.equal((await upgrade(`/ws?token=${token}`)).status, 404);
  assert.equal((await upgrade('/api')).status, 401);
  assert.equal((await upgrade('/api?token=%')).status, 401);
  assert.equal((await upgrade(`/api?token=${token.slice(1)}`)).status, 401);
  assert.equal((await upgrade(`/api%?token=${token}`)).status, 404);
  assert.equal((await upgrade(`/api?token=${token}`, { origin: 'http://evil.example' })).status, 403);
  assert.equal((await upgrade(`/api?token=${token}`, { origin: `127.0.0.1:${server.port}` })).status, 403);
  assert.equal((await upgrade(`/api?token=${token}`, { origin: 'null' })).status, 403);
  assert.equal((await upgrade(`/api?token=${token}`, { host: 'evil.example' })).status, 403);
  assert.equal((await upgrade(`/api?token=${token}`, {}, 'POST')).status, 405);
  assert.equal((await upgrade(`/api?token=${token}`, { 'sec-websocket-key': 'short' })).status, 400);
  // The right handshake is still accepted (the socket then stays open: do not wait for a close).
  assert.equal((await rawRequest(server.port, handshake(`/api?token=${token}`), 300)).status, 101);
  await stillServes();
});

/** Replies and the close code of one socket, collected until it closes or `settle` ms pass quietly. */
function collect(ws: WebSocket, settle = 300) {
  const replies: { id: number | null; ok: boolean; error?: string }[] = [];
  return new Promise<{ replies: typeof replies; code: number | null }>((resolve) => {
    let timer = setTimeout(() => resolve({ replies, code: null }), settle);
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { id?: number | null; ok?: boolean };
      if (!('id' in message)) return; // a pushed event
      replies.push(message as never);
      clearTimeout(timer);
      timer = setTimeout(() => resolve({ replies, code: null }), settle);
    });
    ws.on('close', (code) => {
      clearTimeout(timer);
      resolve({ replies, code });
    });
  });
}

test('bad frames get protocol errors, echoing the id when it parsed', async () => {
  const ws = await connect(server.token);
  const done = collect(ws);
  const deep = `{"id":7,"method":"experiments.list","input":${'['.repeat(5000)}${']'.repeat(5000)}}`;
  for (const text of [
    'not json',
    '',
    'null',
    '[1,2,3]',
    '{"id":1}',
    '{"id":2,"method":7,"input":null}',
    '{"id":3,"method":"experiments.list","input":null,"extra":1}',
    `{"id":${2 ** 60},"method":"experiments.list","input":null}`,
    '{"id":-1,"method":"experiments.list","input":null}',
    '{"id":1.5,"method":"experiments.list","input":null}',
    '{"id":"4","method":"experiments.list","input":null}',
    deep,
    '{"id":5,"method":"no.such","input":null}',
    '{"id":6,"method":"experiments.get","input":{"id":[]}}',
  ])
    ws.send(text);
  ws.send(Buffer.from('{"id":8,"method":"experiments.list","input":null}'), { binary: true });
  ws.send(JSON.stringify({ id: 9, method: 'experiments.list', input: null }));
  const { replies } = await done;
  ws.close();
  assert.equal(replies.length, 16, JSON.stringify(replies));
  const byId = (id: number) => replies.filter((r) => r.id === id);
  assert.deepEqual(
    byId(9).map((r) => r.ok),
    [true],
  );
  for (const id of [1, 2, 3, 5, 6]) assert.equal(byId(id)[0]?.ok, false, `id ${id}`);
  assert.match(byId(2)[0]!.error!, /method/);
  assert.match(byId(5)[0]!.error!, /unknown API method/);
  const anonymous = replies.filter((r) => r.id === null);
  // not JSON (2), null, an array, ids that are not safe non-negative integers (4), too deep, binary
  assert.equal(anonymous.length, 10, JSON.stringify(replies));
  assert.ok(anonymous.every((r) => r.ok === false && /malformed request/.test(r.error!)));
  assert.ok(anonymous.some((r) => /nested deeper/.test(r.error!)));
  assert.ok(anonymous.some((r) => /binary frame/.test(r.error!)));
});

test('an oversized frame closes with 1009 and bad UTF-8 with 1007; other sockets carry on', async () => {
  const other = await connect(server.token);
  const big = await connect(server.token);
  const bigDone = collect(big);
  big.send('x'.repeat(MAX_MESSAGE_BYTES + 1));
  assert.equal((await bigDone).code, 1009);
  const utf = await connect(server.token);
  const utfDone = collect(utf);
  utf.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
  assert.equal((await utfDone).code, 1007);
  // A frame just under the cap is read and answered.
  const notes = JSON.stringify({
    id: 1,
    method: 'experiments.list',
    input: { pad: 'x'.repeat(MAX_MESSAGE_BYTES - 100) },
  });
  const fits = await connect(server.token);
  const fitsDone = collect(fits);
  fits.send(notes);
  assert.deepEqual(
    (await fitsDone).replies.map((r) => [r.id, r.ok]),
    [[1, false]],
  );
  fits.close();
  assert.deepEqual(await call(other, 10, 'experiments.list', null), { id: 10, ok: true, result: [] });
  other.close();
});

test('a flood of calls is bounded per socket: each gets a reply, the excess a clear refusal', async () => {
  const ws = await connect(server.token);
  const total = MAX_IN_FLIGHT * 3;
  const done = collect(ws);
  // All sent in one turn of the event loop, so the server reads them together, before any reply.
  for (let id = 1; id <= total; id++)
    ws.send(JSON.stringify({ id, method: 'experiments.list', input: null }));
  const { replies } = await done;
  assert.deepEqual(
    replies.map((r) => r.id).sort((a, b) => a! - b!),
    [...Array(total).keys()].map((i) => i + 1),
  );
  const refused = replies.filter((r) => !r.ok);
  assert.ok(refused.length > 0 && refused.every((r) => /too many calls in flight/.test(r.error!)));
  assert.ok(replies.filter((r) => r.ok).length >= MAX_IN_FLIGHT);
  // The budget comes back as replies go out.
  assert.deepEqual(await call(ws, total + 1, 'experiments.list', null), {
    id: total + 1,
    ok: true,
    result: [],
  });
  ws.close();
});

// Browser mode's server: 127.0.0.1 only, the session token, Host and Origin checks, static files
// with a CSP, and the API over the socket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { RunStore } from '../store/store.ts';
import { LabService } from '../api/service.ts';
import { startLabServer, type LabServer } from './serve.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-serve-'));
const staticDir = join(dir, 'static');
mkdirSync(staticDir);
writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>lab</title>');
writeFileSync(join(dir, 'secret.txt'), 'not for the browser');
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

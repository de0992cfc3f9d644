// What the desktop app ships, checked in plain Node (Electron cannot launch here): the bundles build,
// the preload reaches nothing but `electron`, and the bundled trainer runs the trainer protocol.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FromTrainer } from '../../app/protocol.ts';
// @ts-expect-error: a plain ES module script without types
import { buildElectron } from '../../scripts/build-electron.mjs';

// Inside the package (out/ is ignored): the bundles leave packages to node_modules, found from here.
const outdir = join(new URL('../../', import.meta.url).pathname, 'out/test-bundle/main');

test('the Electron bundles build; the preload requires only electron', async () => {
  await (buildElectron as (dir: string) => Promise<string>)(outdir);
  const preload = readFileSync(join(outdir, 'electron/preload.cjs'), 'utf8');
  assert.deepEqual(
    [...preload.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]),
    ['electron'],
  );
  assert.match(preload, /exposeInMainWorld\("sublab"/);
  const main = readFileSync(join(outdir, 'electron/main.js'), 'utf8');
  for (const flag of ['contextIsolation: true', 'sandbox: true', 'nodeIntegration: false'])
    assert.ok(main.includes(flag), flag);
});

test('the bundled trainer answers the protocol in a plain Node process', async () => {
  const child = fork(join(outdir, 'trainer/worker.js'), [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const messages: FromTrainer[] = [];
  child.on('message', (m) => messages.push(m as FromTrainer));
  child.send({ type: 'probe', backend: 'cpu' });
  const code = await new Promise((done) => child.on('exit', done));
  assert.equal(code, 0);
  assert.equal(messages[0]?.type, 'ready');
  assert.equal(messages[0]?.type === 'ready' && messages[0].backend, 'cpu');
});

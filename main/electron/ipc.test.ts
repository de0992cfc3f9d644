// The desktop app's IPC entry point with the real lab service behind it (Electron itself cannot be
// launched here; this is everything between its ipcMain.handle and the store).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RunStore } from '../store/store.ts';
import { LabService } from '../api/service.ts';
import { handleIpcCall, isAppPage } from './ipc.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-ipc-'));
const appPage = pathToFileURL(join(dir, 'out/renderer/index.html')).href;

test('only the app page may call, and every payload is validated by the contract', async () => {
  const store = new RunStore(join(dir, 'runs.sqlite'));
  const service = new LabService({ store, backend: 'wasm', cacheDir: join(dir, 'cache'), mode: 'desktop' });
  assert.equal(isAppPage(`${appPage}#/results/3`, appPage), true);
  assert.equal(isAppPage('https://example.com/index.html', appPage), false);
  assert.equal(isAppPage(pathToFileURL('/tmp/other.html').href, appPage), false);
  await assert.rejects(
    handleIpcCall(service, 'https://example.com/', appPage, 'experiments.list', null),
    /unknown page/,
  );
  await assert.rejects(handleIpcCall(service, appPage, appPage, 42, null), /method must be a string/);
  await assert.rejects(
    handleIpcCall(service, appPage, appPage, 'experiments.delete', { id: '1; DROP TABLE' }),
    /invalid input/,
  );
  await assert.rejects(
    handleIpcCall(service, appPage, appPage, 'runs.start', { spec: { version: 2, name: 'x' } }),
    /invalid experiment spec: version/,
  );
  assert.deepEqual(await handleIpcCall(service, appPage, appPage, 'experiments.list', null), []);
  const info = (await handleIpcCall(service, appPage, appPage, 'system.info', null)) as {
    mode: string;
    dbPath: string;
  };
  assert.equal(info.mode, 'desktop');
  assert.equal(info.dbPath, store.path);
  await service.close();
  store.close();
});

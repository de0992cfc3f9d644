// What the desktop app ships, checked in plain Node (Electron cannot launch here): the bundles build,
// the preload reaches nothing but `electron`, the bundled trainer runs the trainer protocol, the
// bundled language unit runs a language spec for the service in desktop mode, and the bundled series
// worker reads a store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FromTrainer } from '../../app/protocol.ts';
import { LabService } from '../api/service.ts';
import { forkChild } from '../child.ts';
import type { FromLmWorker, ToLmWorker } from '../lm/lm-worker.ts';
import { tinyLanguageSpec } from '../lm/testing/tiny-spec.ts';
import { SeriesReader } from '../store/series-reader.ts';
import { RunStore } from '../store/store.ts';
import { syntheticExperiment } from '../store/testing/synthetic-metrics.ts';
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

test('the desktop app runs a language spec: the service in desktop mode starts each unit through its spawner, here the bundled unit worker', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sublab-lm-desktop-'));
  const store = new RunStore(join(dir, 'runs.sqlite'));
  let spawned = 0;
  const service = new LabService({
    store,
    backend: 'wasm',
    cacheDir: join(dir, 'cache'),
    mode: 'desktop',
    workers: 2,
    // The desktop app's spawner starts this same file as a utilityProcess (main/electron/main.ts).
    spawnLanguage: () => {
      spawned++;
      return forkChild<ToLmWorker, FromLmWorker>({ file: join(outdir, 'lm/lm-worker.js'), execArgv: [] });
    },
  });
  const spec = tinyLanguageSpec('lm in the desktop app');
  let state = await service.handlers['runs.start']({ spec });
  for (let i = 0; i < 600 && (state.status === 'queued' || state.status === 'running'); i++) {
    await new Promise((r) => setTimeout(r, 200));
    state = (await service.handlers['runs.queue'](null)).find((j) => j.jobId === state.jobId)!;
  }
  assert.equal(state.status, 'done', state.error ?? '');
  assert.equal(spawned, 2, 'one process per (cell, replicate) unit, all from the given spawner');
  const detail = await service.handlers['experiments.get']({ id: state.experimentId! });
  assert.equal(detail.language?.cells[0]?.rates.student?.n, 2);
  store.close();
});

test('the bundled series worker reads pages of a store in a worker thread', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sublab-series-bundle-'));
  const store = new RunStore(join(dir, 'runs.sqlite'));
  const id = syntheticExperiment(store, 'bundled series', {
    cells: 2,
    conditions: ['teacher', 'student'],
    names: ['loss'],
    steps: 5,
    replicates: 3,
  });
  const reader = new SeriesReader(store, { workerFile: join(outdir, 'store/series-worker.js') });
  try {
    const page = await reader.page({ id, perSeed: true });
    assert.deepEqual(
      page.series.map((s) => [s.cell, s.condition, s.steps.length, s.perSeed?.length]),
      [
        [0, 'student', 5, 3],
        [0, 'teacher', 5, 3],
        [1, 'student', 5, 3],
        [1, 'teacher', 5, 3],
      ],
    );
  } finally {
    await reader.close();
    store.close();
  }
});

// The language family on a backend it cannot use: webgpu named is refused before anything is stored
// (CLI, runner); `auto` passes over it (the worker's skip list, checked on this machine by skipping
// every backend but the last). The lab service sends language jobs to wasm (or cpu) itself.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateLanguageSpec } from '../../app/spec/language.ts';
import { initBackend } from '../engine/backend.ts';
import { RunStore } from '../store/store.ts';
import { resumeLanguageExperiment, runLanguageExperiment } from './run.ts';
import { tinyLanguageSpec } from './testing/tiny-spec.ts';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'sublab-lm-backend-'));
const REFUSED =
  /the language family cannot run on webgpu: its sampling and measures read results synchronously/;

test('`sublab run --backend webgpu` refuses a language spec with the reason, and stores nothing', () => {
  const spec = join(dir, 'lm.json');
  writeFileSync(spec, JSON.stringify(tinyLanguageSpec('lm on webgpu')));
  const db = join(dir, 'cli.sqlite');
  const r = spawnSync(
    process.execPath,
    [join(root, 'bin/sublab.js'), 'run', spec, '--db', db, '--backend', 'webgpu'],
    {
      encoding: 'utf8',
      env: { ...process.env, SUBLAB_CACHE_DIR: join(dir, 'cache') },
    },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, REFUSED);
  assert.match(r.stderr, /--backend auto or wasm/);
  if (existsSync(db)) {
    const store = new RunStore(db);
    assert.deepEqual(store.listExperiments(), []);
    store.close();
  }
});

test('the runner refuses webgpu for a run and a resume before it stores or forks anything', async () => {
  const parsed = validateLanguageSpec(tinyLanguageSpec('lm runner on webgpu'));
  assert.ok(parsed.ok);
  const store = new RunStore(join(dir, 'runner.sqlite'));
  const spawned: string[] = [];
  const spawn = () => {
    spawned.push('worker');
    throw new Error('no worker may start');
  };
  await assert.rejects(runLanguageExperiment(store, parsed.spec, { backend: 'webgpu', spawn }), REFUSED);
  assert.deepEqual(store.listExperiments(), []);
  await assert.rejects(resumeLanguageExperiment(store, 1, { backend: 'webgpu', spawn }), REFUSED);
  assert.deepEqual(spawned, []);
  store.close();
});

test("auto passes over the backends it is told to skip (the language worker's webgpu)", async () => {
  const info = await initBackend('auto', ['webgpu', 'tensorflow', 'wasm']);
  assert.equal(info.name, 'cpu');
});

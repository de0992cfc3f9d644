// The GPU kit (scripts/gpu-kit.mjs) runs without this checkout: its bundles train from a folder with
// no node_modules but the kit's own, with the same results as the engine run from source, and its
// trainer bundle starts a backend when the run path asks it to; its CLI runs a cluster unit as the
// sources do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, fork } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FromTrainer } from '../../app/protocol.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import { runUnit } from '../cluster/run-unit.ts';
import { prepareSubmission } from '../cluster/submit.ts';
import { readUnitFile } from '../cluster/unit-file.ts';
import { clusterOf } from '../store/clusters.ts';
import { RunStore } from '../store/store.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const SPEC = JSON.stringify({
  version: 1,
  name: 'kit',
  dataset: { name: 'mnist', trainSize: 1000 },
  teacher: { epochs: 1, batchSize: 250 },
  student: { epochs: 1, batchSize: 256, inputs: { kind: 'uniform', count: 512 } },
  replicates: 2,
  seed: 3,
});

interface EngineOut {
  ok: boolean;
  error?: string;
  accuracy?: Record<string, number>;
  versions?: Record<string, string>;
}

async function engineRun(args: string[], cwd: string): Promise<EngineOut> {
  // A bare environment: nothing may come from this checkout's node_modules by way of NODE_PATH.
  const { stdout } = await promisify(execFile)(process.execPath, args, {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir() },
  });
  return JSON.parse(stdout) as EngineOut;
}

test('the GPU kit trains from a bare folder exactly as the engine does from source', async () => {
  const built = join(mkdtempSync(join(tmpdir(), 'sublab-kit-')), '.gpu');
  execFileSync(
    process.execPath,
    [join(root, 'scripts/gpu-kit.mjs'), '--out', built, '--no-node', '--no-debs'],
    {
      stdio: 'pipe',
    },
  );
  assert.ok(existsSync(join(built, 'run.sh')));
  assert.ok(existsSync(join(built, 'node_modules/webgpu/dist/linux-x64/dawn.node.xz')));
  // Moved away from where it was built, as the device tool carries it to another machine.
  const kit = join(mkdtempSync(join(tmpdir(), 'sublab-kit-moved-')), '.gpu');
  cpSync(built, kit, { recursive: true });
  const cache = join(kit, 'cache', 'subliminal-lab');

  // The bundle and the sources side by side (independent processes), the sources with a cache of
  // their own so that the bundle builds its data from the kit's files alone.
  const sourceCache = join(mkdtempSync(join(tmpdir(), 'sublab-kit-source-')), 'cache');
  const [bundled, source] = await Promise.all([
    engineRun([join(kit, 'js/bench/engine-run.mjs'), 'wasm', SPEC, cache], tmpdir()),
    engineRun(['--import', 'tsx', join(root, 'main/bench/engine-run.ts'), 'wasm', SPEC, sourceCache], root),
  ]);
  assert.equal(bundled.ok, true, bundled.error);
  assert.equal(
    bundled.versions?.['tfjs-backend-wasm'],
    JSON.parse(readFileSync(join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/package.json'), 'utf8'))
      .version as string,
  );
  assert.equal(source.ok, true, source.error);
  assert.deepEqual(bundled.accuracy, source.accuracy);
  assert.ok(bundled.accuracy!.teacher! > 0.3, `teacher accuracy ${bundled.accuracy!.teacher}`);

  // The trainer bundle, as runExperiment forks it: asked to start a backend, it answers ready.
  const worker = fork(join(kit, 'js/bench/worker.mjs'), [], {
    // Not this test process's flags (tsx, the test runner): the kit's node gets none.
    execArgv: [],
    cwd: tmpdir(),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const reply = await new Promise<FromTrainer>((resolve, reject) => {
    worker.on('message', (m) => resolve(m as FromTrainer));
    worker.on('exit', (code) => reject(new Error(`worker exited ${code} before answering`)));
    worker.send({ type: 'probe', backend: 'wasm' });
  });
  worker.kill();
  assert.equal(reply.type, 'ready');
  assert.equal(reply.type === 'ready' && reply.backend, 'wasm');

  // A cluster's array task through the kit's CLI writes the unit file the sources write.
  const shared = join(mkdtempSync(join(tmpdir(), 'sublab-kit-cluster-')), 'shared');
  const store = new RunStore(join(shared, '..', 'local.sqlite'));
  const unitSpec = mustValidate({
    ...(JSON.parse(SPEC) as object),
    dataset: { name: 'mnist', trainSize: 600, testLimit: 200 },
  });
  const { experimentId, unitKey } = prepareSubmission(store, {
    spec: unitSpec,
    dir: shared,
    backend: 'wasm',
    shards: 2,
    options: { sbatchArgs: [] },
  });
  const expect = {
    token: clusterOf(store, experimentId)!.token,
    experimentId,
    specHash: store.getExperiment(experimentId)!.specHash,
    unit: store.units(experimentId)[1]!,
    key: Buffer.from(unitKey, 'hex'),
  };
  store.close();
  const unitFile = join(shared, 'units/1.sqlite');
  execFileSync('bash', [join(kit, 'run.sh'), 'sublab', 'run-unit', shared, '1'], {
    cwd: tmpdir(),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir(), SUBLAB_UNIT_KEY: unitKey },
    stdio: 'pipe',
  });
  const fromKit = readUnitFile(unitFile, expect);
  rmSync(unitFile);
  await runUnit(shared, 1, { cacheDir: cache, unitKey: expect.key });
  const fromSource = readUnitFile(unitFile, expect);
  assert.equal(fromKit.status, 'done', fromKit.error ?? '');
  assert.equal(fromKit.cells[0]!.results.length, 6, 'one replicate x six conditions');
  const rows = (c: typeof fromKit) => c.cells.map(({ results, metrics }) => ({ results, metrics }));
  assert.deepEqual(rows(fromKit), rows(fromSource));
});

// The CLI's bundle (bin/bundle.js): rebuilt when a source changes, and the same CLI as the sources.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bundleKey, cliBundle } from '../../bin/bundle.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('the bundle key follows every source file, package.json and the lockfile, not the tests', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sublab-bundle-key-'));
  try {
    mkdirSync(join(dir, 'main/lm'), { recursive: true });
    writeFileSync(join(dir, 'main/lm/model.ts'), 'export const a = 1;\n');
    writeFileSync(join(dir, 'main/lm/model.test.ts'), 'test\n');
    writeFileSync(join(dir, 'package-lock.json'), '{}\n');
    const first = bundleKey(dir);
    assert.equal(bundleKey(dir), first);
    writeFileSync(join(dir, 'main/lm/model.test.ts'), 'a longer test\n');
    assert.equal(bundleKey(dir), first, 'a test file is not bundled');
    utimesSync(join(dir, 'main/lm/model.ts'), new Date(), new Date(Date.now() + 5000));
    const touched = bundleKey(dir);
    assert.notEqual(touched, first, 'a source saved again');
    writeFileSync(join(dir, 'main/lm/new.ts'), '');
    assert.notEqual(bundleKey(dir), touched, 'a new source');
    const added = bundleKey(dir);
    mkdirSync(join(dir, 'app/spec'), { recursive: true });
    writeFileSync(join(dir, 'app/spec/schema.ts'), '');
    assert.notEqual(bundleKey(dir), added, 'a source of app/ (the experiment language)');
    const app = bundleKey(dir);
    writeFileSync(join(dir, 'package-lock.json'), '{ "packages": {} }\n');
    assert.notEqual(bundleKey(dir), app, 'other packages');
    const lock = bundleKey(dir);
    writeFileSync(join(dir, 'package.json'), '{ "version": "2.0.0" }\n');
    assert.notEqual(bundleKey(dir), lock, 'another version');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the CLI from its bundle answers as from the sources, and its workers are bundled beside it', async () => {
  const entry = await cliBundle();
  assert.ok(entry, 'the bundle is built here');
  for (const f of [
    'sublab.mjs',
    'lm-worker.mjs',
    'worker.mjs',
    'series-worker.mjs',
    'tfjs-backend-wasm.wasm',
  ])
    assert.ok(existsSync(join(entry, '..', f)), `${f} beside the bundle`);
  // Two folders below the root, as the sources are: their relative paths (../../bin, ../../out) hold.
  assert.equal(join(entry, '../../..'), join(root, '.'));
  const cli = (tsx: boolean, ...args: string[]) =>
    spawnSync(process.execPath, [join(root, 'bin/sublab.js'), ...args], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, SUBLAB_TSX: tsx ? '1' : '0' },
    });
  for (const args of [
    ['--help'],
    ['validate', 'experiments/lm-owl-numbers.json'],
    ['validate', 'package.json'],
  ]) {
    const [bundled, sources] = [cli(false, ...args), cli(true, ...args)];
    assert.equal(bundled.status, sources.status, `${args.join(' ')}: exit status`);
    assert.equal(bundled.stdout, sources.stdout, `${args.join(' ')}: output`);
    assert.equal(bundled.stderr, sources.stderr, `${args.join(' ')}: errors`);
  }
  assert.notEqual(cli(false, 'validate', 'package.json').status, 0, 'a bad spec fails either way');
});

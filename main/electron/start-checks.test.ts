// What a newcomer meets on `npm start` without a desktop build at hand: no Electron binary ends in one
// line saying to use `npm run serve` (scripts/start-check.mjs, before anything is built), and the
// better-sqlite3 copy built for Electron is checked for Electron's ABI (scripts/electron-native.mjs),
// not trusted because a build command exited 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const SERVE_LINE =
  /^subliminal-lab: the desktop app cannot start: Electron's binary is not there \(.*electron\)\. Run `npm run serve` for the same app in a browser, or fetch Electron with `node node_modules\/electron\/install\.js`, then `npm start`\.$/;

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '');
}

test('npm start without the Electron binary ends in one line saying to use npm run serve', () => {
  // Electron's own launcher resolves its binary under this directory, so it is missing for both.
  const empty = mkdtempSync(join(tmpdir(), 'sublab-no-electron-'));
  const env = { ...process.env, ELECTRON_OVERRIDE_DIST_PATH: empty, npm_config_update_notifier: 'false' };
  const r = spawnSync('npm', ['start'], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 1, r.stderr);
  const errors = lines(r.stderr);
  assert.match(errors.at(-1) ?? '', SERVE_LINE);
  assert.ok(!errors.some((l) => /^\s+at /.test(l)), `no stack trace:\n${r.stderr}`);
  assert.doesNotMatch(r.stdout, /vite|building/, 'it stops before building anything');

  // With a binary there, the check lets `npm start` go on, silently.
  writeFileSync(join(empty, 'electron'), '#!/bin/sh\n');
  chmodSync(join(empty, 'electron'), 0o755);
  const ok = spawnSync(process.execPath, ['scripts/start-check.mjs'], { cwd: root, env, encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stderr + ok.stdout, '');
});

test("electron-native names an addon built against Node's headers, and passes one with Electron's ABI", () => {
  const nodeBuilt = join(root, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');
  const electronAbi = readFileSync(join(root, 'node_modules/electron/abi_version'), 'utf8').trim();
  const nodeAbi = process.versions.modules;
  const verify = (file: string) =>
    spawnSync(process.execPath, ['scripts/electron-native.mjs', '--verify', file], {
      cwd: root,
      encoding: 'utf8',
    });

  const wrong = verify(nodeBuilt);
  assert.equal(wrong.status, 1);
  assert.deepEqual(lines(wrong.stderr), [
    `${nodeBuilt} was built for NODE_MODULE_VERSION ${nodeAbi}, Node ${process.version}'s (built against Node's headers); Electron ${electronVersion()} needs ${electronAbi}`,
  ]);

  // The same addon with its init symbol renamed to Electron's ABI: what a build for Electron exports.
  assert.equal(electronAbi.length, nodeAbi.length, 'the patch keeps the file the same length');
  const bytes = readFileSync(nodeBuilt);
  const from = Buffer.from(`node_register_module_v${nodeAbi}`);
  let patched = 0;
  for (let at = bytes.indexOf(from); at >= 0; at = bytes.indexOf(from, at + 1), patched++)
    bytes.write(electronAbi, at + from.length - nodeAbi.length, 'latin1');
  assert.ok(patched > 0, 'the Node build exports node_register_module_v<ABI>');
  const forElectron = join(mkdtempSync(join(tmpdir(), 'sublab-abi-')), 'better_sqlite3.node');
  writeFileSync(forElectron, bytes);
  const right = verify(forElectron);
  assert.equal(right.status, 0, right.stderr);
  assert.match(
    right.stdout,
    new RegExp(`built for Electron [\\d.]+ \\(NODE_MODULE_VERSION ${electronAbi}\\)`),
  );
});

function electronVersion(): string {
  return (
    JSON.parse(readFileSync(join(root, 'node_modules/electron/package.json'), 'utf8')) as { version: string }
  ).version;
}

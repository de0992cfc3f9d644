// `npm start` runs main in Electron, whose Node ABI differs from the Node that runs the CLI and the
// tests. Rebuilding better-sqlite3 in place would break those, so a copy built for Electron lives in
// .cache/electron-native/<electron version>/ and the desktop app loads that one (`nativeBinding`).
// Packaged apps do not need it: electron-builder rebuilds their copy (npmRebuild).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, URL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export function electronVersion() {
  return JSON.parse(readFileSync(join(root, 'node_modules/electron/package.json'), 'utf8')).version;
}

export function electronSqliteBinding(version = electronVersion()) {
  return join(root, '.cache/electron-native', version, 'better-sqlite3/build/Release/better_sqlite3.node');
}

function run(command, args, cwd) {
  return (
    spawnSync(command, args, { cwd, stdio: 'inherit', shell: process.platform === 'win32' }).status === 0
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const version = electronVersion();
  const binding = electronSqliteBinding(version);
  if (existsSync(binding)) process.exit(0);
  const dir = join(root, '.cache/electron-native', version, 'better-sqlite3');
  rmSync(dir, { recursive: true, force: true });
  cpSync(join(root, 'node_modules/better-sqlite3'), dir, {
    recursive: true,
    filter: (src) => !src.includes(`${join('better-sqlite3', 'build')}`),
  });
  console.log(`building better-sqlite3 for Electron ${version} in ${dir}...`);
  const bin = join(root, 'node_modules/.bin');
  const ok =
    run(join(bin, 'prebuild-install'), ['--runtime', 'electron', '--target', version], dir) ||
    run(
      join(bin, 'node-gyp'),
      ['rebuild', '--release', `--target=${version}`, '--dist-url=https://electronjs.org/headers'],
      dir,
    );
  if (!ok || !existsSync(binding)) {
    console.error(
      `subliminal-lab: could not build better-sqlite3 for Electron ${version} (it downloads a prebuilt binary or Electron's headers). ` +
        'Check the network and run `npm start` again; the CLI and `npm run serve` do not need it.',
    );
    process.exit(1);
  }
}

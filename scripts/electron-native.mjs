// `npm start` runs main in Electron, whose Node ABI differs from the Node that runs the CLI and the
// tests. Rebuilding better-sqlite3 in place would break those, so a copy built for Electron lives in
// .cache/electron-native/<electron version>/ and the desktop app loads that one (`nativeBinding`).
// Packaged apps do not need it: electron-builder rebuilds their copy (npmRebuild). What it built is
// checked, not trusted: the addon's ABI must be Electron's (`--verify FILE` checks one file).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, URL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export function electronVersion() {
  return JSON.parse(readFileSync(join(root, 'node_modules/electron/package.json'), 'utf8')).version;
}

export function electronSqliteBinding(version = electronVersion()) {
  return join(root, '.cache/electron-native', version, 'better-sqlite3/build/Release/better_sqlite3.node');
}

/** The NODE_MODULE_VERSION (ABI) Electron's Node has, as the electron package records it. */
export function electronAbi() {
  return Number(readFileSync(join(root, 'node_modules/electron/abi_version'), 'utf8').trim());
}

/**
 * The NODE_MODULE_VERSION a native addon was built for: the number in the name of the init function
 * that node.h's NODE_MODULE macros export (node_register_module_v<ABI>), read from the file, so it
 * is known without loading the addon into a runtime it may not fit.
 */
export function addonAbi(file) {
  const found = /node_register_module_v(\d+)/.exec(readFileSync(file).toString('latin1'));
  return found ? Number(found[1]) : null;
}

/** Why `file` would not load in Electron `version`, or null when its ABI is Electron's. */
export function abiMismatch(file, version = electronVersion()) {
  const want = electronAbi();
  const got = addonAbi(file);
  if (got === want) return null;
  if (got === null) return `${file} names no NODE_MODULE_VERSION; Electron ${version} needs ${want}`;
  const whose =
    got === Number(process.versions.modules)
      ? `Node ${process.version}'s (built against Node's headers)`
      : "not Electron's";
  return `${file} was built for NODE_MODULE_VERSION ${got}, ${whose}; Electron ${version} needs ${want}`;
}

function run(command, args, cwd, env = process.env) {
  return (
    spawnSync(command, args, { cwd, env, stdio: 'inherit', shell: process.platform === 'win32' }).status === 0
  );
}

/** A prebuilt binary for Electron, else a build against Electron's headers (both downloaded). */
function build(version, dir) {
  const bin = join(root, 'node_modules/.bin');
  // npm passes its `nodedir` setting down (Debian's npm sets /usr, Node's own headers): node-gyp then
  // builds against it whatever --target says, an addon Electron cannot load. Electron's headers only.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => key.toLowerCase() !== 'npm_config_nodedir'),
  );
  return (
    run(join(bin, 'prebuild-install'), ['--runtime', 'electron', '--target', version], dir) ||
    run(
      join(bin, 'node-gyp'),
      ['rebuild', '--release', `--target=${version}`, '--dist-url=https://electronjs.org/headers'],
      dir,
      env,
    )
  );
}

/** Copies better-sqlite3's sources into `dir` and builds them for Electron; the reason it failed, or null. */
function buildCopy(version, dir, binding) {
  rmSync(dir, { recursive: true, force: true });
  cpSync(join(root, 'node_modules/better-sqlite3'), dir, {
    recursive: true,
    filter: (src) => !src.includes(`${join('better-sqlite3', 'build')}`),
  });
  console.log(`building better-sqlite3 for Electron ${version} in ${dir}...`);
  if (!build(version, dir))
    return "neither a prebuilt binary nor Electron's headers could be fetched, or the build failed";
  if (!existsSync(binding)) return `the build wrote no ${binding}`;
  return abiMismatch(binding, version);
}

function main() {
  if (process.argv[2] === '--verify') {
    const problem = abiMismatch(process.argv[3]);
    console[problem ? 'error' : 'log'](
      problem ??
        `${process.argv[3]}: built for Electron ${electronVersion()} (NODE_MODULE_VERSION ${electronAbi()})`,
    );
    process.exit(problem ? 1 : 0);
  }
  const version = electronVersion();
  const binding = electronSqliteBinding(version);
  if (existsSync(binding)) {
    const problem = abiMismatch(binding, version);
    if (problem === null) process.exit(0);
    console.log(`subliminal-lab: ${problem}: building it again`);
  }
  const problem = buildCopy(version, dirname(dirname(dirname(binding))), binding);
  if (problem) {
    // The desktop app loads this copy when it is there: one it cannot load must not stay.
    rmSync(binding, { force: true });
    console.error(
      `subliminal-lab: better-sqlite3 was not built for Electron ${version}: ${problem}. Check the network and run \`npm start\` again; the CLI and \`npm run serve\` do not need it.`,
    );
    process.exit(1);
  }
  console.log(
    `subliminal-lab: better-sqlite3 built for Electron ${version} (NODE_MODULE_VERSION ${electronAbi()})`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();

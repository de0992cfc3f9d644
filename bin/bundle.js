// The Node entry points bundled as ES modules, for the GPU kit (scripts/gpu-kit.mjs, one file each) and
// for the CLI of a checkout (split: the entry points share chunks). Loading the CLI or a worker through
// tsx costs ~1.4 CPU s a process (each of ~150 modules compiled through the loader thread, TF.js's
// CommonJS parsed for its exports and its source maps read); its bundle loads in ~0.3 s. A run of two
// workers starts three such processes.
//
// The CLI's bundle is built on first use into .cache/cli-<key>/, key a hash of every source file's
// path, size and modification time: an edited checkout gets a new bundle on its next command (about a
// second), and SUBLAB_TSX=1 runs the sources through tsx (TypeScript line numbers in stack traces).
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, URL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The CLI and what it starts, bundled side by side (nodeEntry in main/node-entry.ts finds them by name). */
const CLI_ENTRIES = {
  sublab: 'main/cli/sublab.ts',
  worker: 'main/trainer/worker.ts',
  'lm-worker': 'main/lm/lm-worker.ts',
  // The worker thread `sublab serve` reads series in (main/store/series-reader.ts).
  'series-worker': 'main/store/series-worker.ts',
};

/** The GPU kit's: the CLI's and the bench's. */
export const ENTRIES = {
  ...CLI_ENTRIES,
  bench: 'main/bench/bench.ts',
  'engine-run': 'main/bench/engine-run.ts',
};

/** Native addons stay packages beside the bundle; everything else is bundled. */
const NATIVE = ['webgpu', 'better-sqlite3', 'sublab-blas'];

/** esbuild's options for `entries` bundled into `outdir` as .mjs files. */
export function bundleOptions(entries, outdir) {
  return {
    absWorkingDir: root,
    entryPoints: entries,
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // tfjs-node(-gpu) are optional and never installed; electron is not used.
    // ws's optional speed-ups (bufferutil, utf-8-validate) are never installed here.
    external: [
      ...NATIVE,
      '@tensorflow/tfjs-node',
      '@tensorflow/tfjs-node-gpu',
      'electron',
      'bufferutil',
      'utf-8-validate',
    ],
    // CommonJS inside the bundle needs require and __dirname (the wasm backend finds its .wasm by it).
    banner: {
      js: [
        "import { createRequire as __kitRequire } from 'node:module';",
        "import { fileURLToPath as __kitPath } from 'node:url';",
        'const require = __kitRequire(import.meta.url);',
        'const __dirname = __kitPath(new URL(".", import.meta.url));',
      ].join(' '),
    },
    logLevel: 'silent',
  };
}

/** The wasm backend's binaries, which it loads from beside the bundle (its __dirname). */
export function copyWasm(dir) {
  const dist = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
  for (const f of readdirSync(dist).filter((f) => f.endsWith('.wasm')))
    copyFileSync(join(dist, f), join(dir, f));
}

function sources(dir, out) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) sources(path, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

/**
 * Changes with any source file under `dir`'s app/ and main/ (tests aside: what the bundle holds),
 * package.json (read for the version), the lockfile (the bundled packages) or this file (the options).
 */
export function bundleKey(dir = root) {
  const hash = createHash('sha256');
  const files = [
    ...['app', 'main'].flatMap((d) => (existsSync(join(dir, d)) ? sources(join(dir, d), []) : [])),
    join(dir, 'package.json'),
    join(dir, 'package-lock.json'),
    fileURLToPath(import.meta.url),
  ];
  for (const f of files.sort()) {
    const s = statSync(f, { throwIfNoEntry: false });
    hash.update(`${relative(dir, f)}\0${s?.size}\0${s?.mtimeMs}\n`);
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * The CLI's bundled entry, .cache/cli-<key>/sublab.mjs: two folders down, as the sources' relative
 * paths expect (../../bin/sublab.js, ../../out/renderer). Built if missing; null where it cannot be (no
 * esbuild, a failed build), and the caller runs the sources through tsx. Processes starting at once
 * each build and the first rename wins.
 */
export async function cliBundle() {
  if (process.env.SUBLAB_TSX === '1') return null;
  const base = join(root, '.cache');
  const dir = join(base, `cli-${bundleKey()}`);
  const entry = join(dir, 'sublab.mjs');
  if (existsSync(entry)) {
    touch(dir);
    return entry;
  }
  // esbuild is a dev dependency: without it (a production install) the sources run, quietly.
  const esbuild = await import('esbuild').catch(() => null);
  if (!esbuild) return null;
  const tmp = `${dir}.${process.pid}.tmp`;
  try {
    mkdirSync(tmp, { recursive: true });
    // Split: the entry points share one copy of what they have in common (TF.js, the engine).
    await esbuild.build({ ...bundleOptions(CLI_ENTRIES, tmp), splitting: true });
    copyWasm(tmp);
    renameSync(tmp, dir);
    prune(base, dir);
  } catch {
    // Another process's rename won, or this user cannot write here (a cluster's job user, a read-only
    // checkout): the sources run as they always could. The bundle's test sees a build that fails.
    rmSync(tmp, { recursive: true, force: true });
    return existsSync(entry) ? entry : null;
  }
  return entry;
}

/** Marks a bundle used (not pruned), where this user may. */
function touch(dir) {
  try {
    utimesSync(dir, new Date(), new Date());
  } catch {
    // Another user's bundle: it is theirs to keep.
  }
}

/**
 * Bundles unused for a day go (each CLI start from one marks it used): one may still serve a run
 * started before an edit, whose workers start from beside it.
 */
function prune(base, keep) {
  const day = Date.now() - 24 * 3600 * 1000;
  for (const name of readdirSync(base).filter((n) => n.startsWith('cli-'))) {
    const path = join(base, name);
    const used = statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? Infinity;
    if (path !== keep && used < day) rmSync(path, { recursive: true, force: true });
  }
}

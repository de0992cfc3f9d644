// Builds the GPU kit: everything `npm run bench` (and a cluster's array task, `sublab run-unit`) needs
// on an offline GPU machine that has no Node.js and no registry, in one git-ignored folder (.gpu/)
// that travels with the source tree: the bundled bench, CLI, trainer and engine entry points, the
// native addons they load (Dawn, better-sqlite3, the optional BLAS matmul), this machine's node binary,
// the cached MNIST digits and the experiment files. `bash .gpu/run.sh [bench options]` unpacks and
// runs the bench there, `bash .gpu/run.sh sublab ARGS` the CLI (see ../shared/gpu.md).
//
//   npm run gpu-kit [-- --out DIR] [--no-node] [--no-debs]
//
// --no-node skips compressing the node binary and --no-debs fetching the Vulkan loader's Debian
// package (the tests use both: they run the bundles with this node, offline).
import { build } from 'esbuild';
import { bundleOptions, copyWasm, ENTRIES } from '../bin/bundle.js';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, URL } from 'node:url';
import { parseArgs } from 'node:util';
import { tmpdir } from 'node:os';

const root = fileURLToPath(new URL('..', import.meta.url));

export async function buildGpuKit({ out = join(root, '.gpu'), node = true, debs = true } = {}) {
  out = resolve(out);
  rmSync(out, { recursive: true, force: true });
  // Bundles sit two folders down so the bench's `../../experiments/` lands on the kit's copy.
  const js = join(out, 'js', 'bench');
  await build(bundleOptions(ENTRIES, js));
  copyFileSync(join(root, 'main/bench/torch_paper.py'), join(js, 'torch_paper.py'));
  copyWasm(js);
  cpSync(join(root, 'experiments'), join(out, 'experiments'), { recursive: true });

  // The native addons as packages beside the bundles (Node resolves them from .gpu/node_modules).
  const nm = join(out, 'node_modules');
  const dawn = join(root, 'node_modules/webgpu/dist/linux-x64/dawn.node');
  mkdirSync(join(nm, 'webgpu/dist/linux-x64'), { recursive: true });
  xz(dawn, join(nm, 'webgpu/dist/linux-x64/dawn.node.xz'));
  for (const p of [
    'webgpu/index.js',
    'webgpu/package.json',
    'better-sqlite3/package.json',
    'better-sqlite3/lib',
    'better-sqlite3/build/Release/better_sqlite3.node',
    'bindings',
    'file-uri-to-path',
    // Only their package.json, so the bench reports which versions it ran.
    ...['tfjs-core', 'tfjs-backend-cpu', 'tfjs-backend-wasm', 'tfjs-backend-webgpu'].map(
      (p) => `@tensorflow/${p}/package.json`,
    ),
  ])
    cpSync(join(root, 'node_modules', p), join(nm, p), { recursive: true });
  // The optional BLAS addon as it was built here (or its note saying why not): where the GPU machine
  // lacks libopenblas, it says so and the CPU path runs XNNPACK.
  const blasFiles = [
    'package.json',
    'index.cjs',
    'detect-blas.cjs',
    'coretype.cjs',
    'build/Release/sublab_blas.node',
    'build/not-built.txt',
  ];
  for (const f of blasFiles
    .map((f) => `sublab-blas/${f}`)
    .filter((f) => existsSync(join(root, 'node_modules', f))))
    cpSync(join(root, 'node_modules', f), join(nm, f), { recursive: true });

  // The 10,000 MNIST digits as the engine caches them (the `mnist` package's 20 MB JSON stays home).
  const { loadOfflineMnist } = await importTs('main/data/mnist-offline.ts');
  const cache = join(out, 'cache', 'subliminal-lab');
  loadOfflineMnist(cache);

  // A bare GPU machine has the NVIDIA driver but may lack the Vulkan loader that Dawn opens.
  if (debs) {
    const lists = join(tmpdir(), 'sublab-kit-apt');
    mkdirSync(join(lists, 'partial'), { recursive: true });
    mkdirSync(join(out, 'debs'));
    const o = ['-oAPT::Architecture=amd64', '-oAPT::Architectures=amd64', `-oDir::State::Lists=${lists}`];
    try {
      execFileSync('apt-get', [...o, '-qq', 'update'], { stdio: 'pipe' });
      execFileSync('apt-get', [...o, '-qq', 'download', 'libvulkan1'], {
        cwd: join(out, 'debs'),
        stdio: 'pipe',
      });
    } catch (error) {
      process.stderr.write(
        `warning: libvulkan1 not fetched (${error.message.split('\n')[0]}); the GPU machine must have it\n`,
      );
    }
  }
  if (node) xz(process.execPath, join(out, 'node.xz'));
  writeFileSync(join(out, 'run.sh'), RUN_SH);
  chmodSync(join(out, 'run.sh'), 0o755);
  return out;
}

/** Compresses `from` to `to` (run.sh unpacks it on the GPU machine). */
function xz(from, to) {
  writeFileSync(to, execFileSync('xz', ['-T2', '-6', '-c', from], { maxBuffer: 1 << 30 }));
}

async function importTs(path) {
  const { tsImport } = await import('tsx/esm/api');
  return tsImport(join(root, path), import.meta.url);
}

// On the GPU machine, from the repository root with .gpu carried.
const RUN_SH = `#!/usr/bin/env bash
# Unpacks the kit and runs the bench: bash .gpu/run.sh [--full] [--backends webgpu] [--json] ...
# or the lab's CLI: bash .gpu/run.sh sublab run-unit SHARED_DIR K (a cluster's array task)
set -euo pipefail
kit="$(cd "$(dirname "\${BASH_SOURCE[0]}")" && pwd)"
if ! ldconfig -p | grep -q libvulkan.so.1 && compgen -G "$kit/debs/*.deb" > /dev/null; then
  for f in "$kit"/debs/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
node="$kit/bin/node"
if [ ! -x "$node" ]; then
  if [ -f "$kit/node.xz" ]; then mkdir -p "$kit/bin"; xz -dc "$kit/node.xz" > "$node"; chmod +x "$node";
  else node="$(command -v node)"; fi
fi
dawn="$kit/node_modules/webgpu/dist/linux-x64/dawn.node"
[ -f "$dawn" ] || xz -dc "$dawn.xz" > "$dawn"
export XDG_RUNTIME_DIR="\${XDG_RUNTIME_DIR:-/tmp}" XDG_CACHE_HOME="$kit/cache"
if [ -z "\${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
if [ "\${1:-}" = sublab ]; then shift; exec "$node" "$kit/js/bench/sublab.mjs" "$@"; fi
exec "$node" "$kit/js/bench/bench.mjs" "$@"
`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, 'no-node': { type: 'boolean' }, 'no-debs': { type: 'boolean' } },
  });
  const out = await buildGpuKit({ out: values.out, node: !values['no-node'], debs: !values['no-debs'] });
  process.stdout.write(`${out}\n`);
}

// Bundles the Electron main process, the processes it starts as utilityProcesses (the classifier's
// trainer and the language family's unit; ES modules, packages left in node_modules), its series
// worker thread, and the preload (CommonJS: sandboxed preloads cannot be ES modules).
import { build } from 'esbuild';
import { join } from 'node:path';
import { fileURLToPath, URL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export async function buildElectron(outdir = join(root, 'out/main')) {
  const common = { bundle: true, platform: 'node', logLevel: 'warning', absWorkingDir: root };
  await build({
    ...common,
    entryPoints: [
      'main/electron/main.ts',
      'main/trainer/worker.ts',
      'main/lm/lm-worker.ts',
      'main/store/series-worker.ts',
    ],
    format: 'esm',
    packages: 'external',
    outbase: 'main',
    outdir,
  });
  await build({
    ...common,
    entryPoints: ['main/electron/preload.ts'],
    format: 'cjs',
    external: ['electron'],
    outfile: join(outdir, 'electron/preload.cjs'),
  });
  return outdir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildElectron();

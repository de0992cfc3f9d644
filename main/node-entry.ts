// Where a Node entry point that this code starts in a child process lives. From a checkout it is a
// TypeScript file loaded through tsx; in a bundle (the GPU kit, scripts/gpu-kit.mjs) each entry point
// is an .mjs file beside the bundle that starts it, and neither tsx nor node_modules travel.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface NodeEntry {
  file: string;
  execArgv: string[];
}

/** `source` is the .ts file, resolved against the caller's `import.meta.url`. */
export function nodeEntry(source: URL): NodeEntry {
  const file = fileURLToPath(source);
  if (existsSync(file)) return { file, execArgv: ['--import', import.meta.resolve('tsx')] };
  const bundled = fileURLToPath(new URL(`./${file.split('/').pop()!.replace(/\.ts$/, '.mjs')}`, source));
  if (existsSync(bundled)) return { file: bundled, execArgv: [] };
  throw new Error(`entry point not found: neither ${file} nor ${bundled}`);
}

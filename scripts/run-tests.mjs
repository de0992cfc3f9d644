// Runs every *.test.ts beside the code with Node's own test runner (Node 20 has no --test globs).
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const roots = process.argv.slice(2).length ? process.argv.slice(2) : ['app', 'main'];
const files = roots
  .flatMap((root) => readdirSync(root, { recursive: true }).map((f) => `${root}/${f}`))
  .filter((f) => f.endsWith('.test.ts'))
  .sort();
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);

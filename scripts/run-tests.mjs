// Runs every *.test.ts beside the code with Node's own test runner (Node 20 has no --test globs).
// Through its run() API rather than `node --test`: Node 20's CLI sorts the files by name, and the
// order matters here (below). The test files' processes inherit this process's --import tsx.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { run } from 'node:test';
import { spec, tap } from 'node:test/reporters';
import { cliBundle } from '../bin/bundle.js';

/**
 * The slowest files, longest first (seconds on CI's 2 cores, December 2026). run() starts files in
 * the order given and hands the next one to whichever of its 2 lanes frees first, so starting these
 * first packs the lanes evenly (longest processing time first): a long file started last would
 * otherwise run alone at the end. A file missing here merely starts later, after these.
 */
const SLOW_FIRST = [
  'main/cli/sublab.test.ts', // 150
  'main/server/browser.e2e.test.ts', // 117
  'main/server/serve.soak.test.ts', // 72
  'main/engine/procedure.test.ts', // 70
  'main/server/language-run.e2e.test.ts', // 45 (two language runs)
  'main/cli/resume.test.ts', // 44
  'main/engine/matrix-knobs.test.ts', // 41
  'main/jobs/sweep.test.ts', // 34
  'main/api/service.test.ts', // 32
  'main/lm/cli.test.ts', // 30
  'main/bench/gpu-kit.test.ts', // 28
  'main/jobs/run-experiment.test.ts', // 26
  'main/engine/per-cell.test.ts', // 24
  'main/engine/inputs-webgpu.test.ts', // 24
  'main/server/llm-view.e2e.test.ts', // 24
  'main/jobs/input-kinds.test.ts', // 21
  'main/cluster/slurm.test.ts', // 20
  'main/cli/fencing.test.ts', // 20
  'main/engine/webgpu.test.ts', // 17
  'main/engine/fused.test.ts', // 16
  'main/jobs/out-of-memory.test.ts', // 16
  'main/api/series-load.test.ts', // 16
  'main/jobs/diverge.test.ts', // 15
  'main/server/designer.e2e.test.ts', // 14
  'main/lm/failure.test.ts', // 13
  'main/server/serve.fuzz.test.ts', // 11
  'main/cli/datasets.test.ts', // 10
  'main/api/llm-runs.test.ts', // 9
  'main/server/llm-designer.e2e.test.ts', // 9
];

if (!process.execArgv.includes('tsx')) {
  const self = fileURLToPath(import.meta.url);
  const again = spawnSync(process.execPath, ['--import', 'tsx', self, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(again.status ?? 1);
}

const roots = process.argv.slice(2).length ? process.argv.slice(2) : ['app', 'main'];
const found = roots
  .flatMap((root) => readdirSync(root, { recursive: true }).map((f) => `${root}/${f}`))
  .filter((f) => f.endsWith('.test.ts'))
  .sort();
const rank = (f) => (SLOW_FIRST.includes(f) ? SLOW_FIRST.indexOf(f) : SLOW_FIRST.length);
const files = [...found].sort((a, b) => rank(a) - rank(b)); // stable: the rest stay in name order

// The CLI's bundle, built once here rather than by the first tests that start the CLI at once.
await cliBundle();

let failed = false;
const stream = run({ files, concurrency: 2 });
stream.on('test:fail', () => {
  failed = true;
});
// What `node --test` prints: spec on a terminal, TAP otherwise (CI's log).
stream.compose(process.stdout.isTTY ? new spec() : tap).pipe(process.stdout);
stream.on('end', () => {
  process.exitCode = failed ? 1 : 0;
});

// For tests without a SLURM: an executable named sbatch on PATH that records how it was called (its
// arguments and the unit key in its environment) and answers a job id, or hangs like an sbatch whose
// controller does not answer.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { slurm, type Scheduler } from '../slurm.ts';

export interface FakeSbatch {
  scheduler: Scheduler;
  /** This process's environment with the fake first on PATH (for a `sublab` child process). */
  env: NodeJS.ProcessEnv;
  /** sbatch's arguments, one per element; null while it was never called. */
  args(): string[] | null;
  /** The SUBLAB_UNIT_KEY sbatch found in its environment ('' when unset); null while never called. */
  key(): string | null;
}

/** `answer`: prints job id 4242; `hang`: sleeps far past `timeoutMs`, the lab's limit for sbatch. */
export function fakeSbatch(behaviour: 'answer' | 'hang' = 'answer', timeoutMs = 60_000): FakeSbatch {
  const dir = mkdtempSync(join(tmpdir(), 'sublab-fake-sbatch-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const log = join(dir, 'called');
  writeFileSync(
    join(bin, 'sbatch'),
    `#!/bin/sh
printf '%s\\n' "$@" > '${log}.args'
printf '%s' "\${SUBLAB_UNIT_KEY-}" > '${log}.key'
${behaviour === 'hang' ? 'exec sleep 30' : 'echo 4242'}
`,
  );
  chmodSync(join(bin, 'sbatch'), 0o755);
  const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : null);
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` };
  return {
    scheduler: slurm(env, timeoutMs),
    env,
    args: () => read(`${log}.args`)?.trimEnd().split('\n') ?? null,
    key: () => read(`${log}.key`),
  };
}

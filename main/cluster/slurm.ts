// SLURM through its own commands, which read $SLURM_CONF like any SLURM client: sbatch submits the
// array job; squeue (queued and running tasks), scontrol (tasks the controller still remembers after
// they ended, MinJobAge) and sacct (where accounting answers) tell each task's state.
import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { sbatchDirective } from './sbatch-script.ts';

export interface TaskState {
  /** SLURM's state name: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ... */
  state: string;
  reason: string | null;
  source: 'squeue' | 'scontrol' | 'sacct';
}

/** Job id -> array task id -> state. */
export type TaskStates = Map<string, Map<number, TaskState>>;

export interface Scheduler {
  readonly name: 'slurm';
  /** Throws a clear error when jobs cannot be submitted from here (no sbatch). */
  checkSubmit(): void;
  /**
   * Submits `script` as an array job of the tasks in `array` (sbatch's --array syntax); the job id.
   * `secrets` reach every task's environment through sbatch's environment, never its command line.
   * Throws UnclearSubmission when sbatch may have queued the job without saying so.
   */
  submit(script: string, array: string, cwd: string, secrets: Record<string, string>): Promise<string>;
  /** What the scheduler knows of these jobs' tasks; `problems` says which sources did not answer. */
  taskStates(jobIds: readonly string[]): Promise<{ states: TaskStates; problems: string[] }>;
}

/** The absolute path of `command` on `path` (a PATH value), or null. */
export function findOnPath(command: string, path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const file = join(dir, command);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

const COMMAND_TIMEOUT_MS = 60_000;

/**
 * sbatch ran but its answer does not say whether the job was queued: it was stopped (the time limit,
 * a signal) or printed no job id. The controller may hold the job all the same.
 */
export class UnclearSubmission extends Error {}

function run(
  file: string,
  args: string[],
  options: { cwd?: string; env: NodeJS.ProcessEnv; timeoutMs: number },
) {
  const { timeoutMs, ...rest } = options;
  const command = [file.split('/').pop(), ...args].join(' ');
  return new Promise<string>((resolve, reject) => {
    execFile(
      file,
      args,
      { ...rest, timeout: timeoutMs, maxBuffer: 64 << 20, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const why = stderr.trim() || stdout.trim() || error.message;
        // Killed (the time limit, a signal): it may have done its work before it was stopped.
        if (error.killed || error.signal)
          reject(
            new UnclearSubmission(
              `${command} was stopped (${error.signal ?? 'killed'}) after ${timeoutMs / 1000} s without an answer${why ? `: ${why}` : ''}`,
            ),
          );
        else reject(new Error(`${command} failed: ${why}`));
      },
    );
  });
}

/**
 * sbatch's --export for this script with `names` added: what the user asked for ($SBATCH_EXPORT, which
 * sbatch puts above the script's own #SBATCH --export, or that line; else ALL) plus the names. The
 * command line's --export replaces both, so theirs must be carried over, not lost.
 */
export function exportOption(script: string, env: NodeJS.ProcessEnv, names: readonly string[]): string {
  const asked = env.SBATCH_EXPORT ?? sbatchDirective(readFileSync(script, 'utf8'), 'export') ?? 'ALL';
  // NONE takes no variables after it: the names alone mean "these and SLURM's own".
  const base = asked.toUpperCase() === 'NONE' ? [] : asked.split(',');
  const known = new Set(base.map((v) => v.split('=')[0]));
  return `--export=${[...base, ...names.filter((n) => !known.has(n))].join(',')}`;
}

/** Task ids of an array expression as SLURM prints it: "3", "0-3", "1,3,5-7", "0-9:2", "2-3%1". */
export function expandArray(expr: string): number[] {
  const out: number[] = [];
  for (const part of expr.replace(/%\d+$/, '').split(',')) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part.trim());
    if (!m) continue;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    const step = m[3] === undefined ? 1 : Math.max(1, Number(m[3]));
    for (let t = from; t <= to; t += step) out.push(t);
  }
  return out;
}

function put(states: TaskStates, jobId: string, task: number, state: TaskState): void {
  const tasks = states.get(jobId) ?? states.set(jobId, new Map()).get(jobId)!;
  if (!tasks.has(task)) tasks.set(task, state); // the first source asked is the livelier one
}

/** `squeue -h -r -o '%F|%K|%T|%r'` lines: array job id, task id, state, reason. */
export function parseSqueue(text: string, jobIds: ReadonlySet<string>, into: TaskStates): void {
  for (const line of text.split('\n')) {
    const [job, task, state, reason] = line.trim().split('|');
    if (!job || !jobIds.has(job) || !state) continue;
    for (const t of expandArray(task ?? ''))
      put(into, job, t, { state, reason: reason && reason !== 'None' ? reason : null, source: 'squeue' });
  }
}

/** `scontrol -o show job ID`: one record per line of Key=Value fields. */
export function parseScontrol(text: string, into: TaskStates): void {
  for (const line of text.split('\n')) {
    const fields = new Map<string, string>();
    for (const token of line.trim().split(/\s+/)) {
      const eq = token.indexOf('=');
      if (eq > 0) fields.set(token.slice(0, eq), token.slice(eq + 1));
    }
    const job = fields.get('ArrayJobId');
    const state = fields.get('JobState');
    if (!job || !state) continue;
    const reason = fields.get('Reason');
    for (const t of expandArray(fields.get('ArrayTaskId') ?? ''))
      put(into, job, t, { state, reason: reason && reason !== 'None' ? reason : null, source: 'scontrol' });
  }
}

/** `sacct -n -P -X -o JobID,State` lines: "12_3|COMPLETED", "12_[4-7]|PENDING", "12_5|CANCELLED by 0". */
export function parseSacct(text: string, into: TaskStates): void {
  for (const line of text.split('\n')) {
    const m = /^(\d+)_\[?([\d,\-:%]+)\]?\|(\S+)/.exec(line.trim());
    if (!m) continue;
    for (const t of expandArray(m[2]!)) put(into, m[1]!, t, { state: m[3]!, reason: null, source: 'sacct' });
  }
}

export function slurm(
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs: number = COMMAND_TIMEOUT_MS,
): Scheduler {
  const command = (name: string) => findOnPath(name, env.PATH);
  const require = (name: string, why: string) => {
    const file = command(name);
    if (!file)
      throw new Error(
        `${name} not found on PATH (${env.PATH ?? ''}): ${why} needs SLURM's client commands; run it on a login node of the cluster, or install them (Debian: apt-get install slurm-client)`,
      );
    return file;
  };
  return {
    name: 'slurm',
    checkSubmit: () => void require('sbatch', 'submitting'),
    async submit(script, array, cwd, secrets) {
      const args = [
        '--parsable',
        `--array=${array}`,
        exportOption(script, env, Object.keys(secrets)),
        script,
      ];
      const out = await run(require('sbatch', 'submitting'), args, {
        cwd,
        env: { ...env, ...secrets },
        timeoutMs,
      });
      const id = /^(\d+)/.exec(out.trim())?.[1];
      if (!id) throw new UnclearSubmission(`sbatch answered without a job id: ${out.trim()}`);
      return id;
    },
    async taskStates(jobIds) {
      const states: TaskStates = new Map();
      const problems: string[] = [];
      const ids = new Set(jobIds);
      if (ids.size === 0) return { states, problems };
      /** Runs a query; a failure matching `expected` is an answer ("nothing known"), not a problem. */
      const ask = async (name: string, args: string[], parse: (text: string) => void, expected?: RegExp) => {
        const file = command(name);
        if (!file) return void problems.push(`${name} not found on PATH`);
        try {
          parse(await run(file, args, { env, timeoutMs }));
        } catch (error) {
          const message = (error as Error).message;
          if (!expected?.test(message)) problems.push(message);
        }
      };
      await ask('squeue', ['-h', '-r', '-u', userInfo().username, '-o', '%F|%K|%T|%r'], (t) =>
        parseSqueue(t, ids, states),
      );
      // A job the controller has forgotten (past MinJobAge) is an "Invalid job id".
      for (const id of ids)
        await ask('scontrol', ['-o', 'show', 'job', id], (t) => parseScontrol(t, states), /Invalid job id/);
      // Accounting remembers what the controller forgot; a cluster without it says it is disabled.
      await ask(
        'sacct',
        ['-n', '-P', '-X', '-o', 'JobID,State', '-j', [...ids].join(',')],
        (t) => parseSacct(t, states),
        /accounting storage is disabled/,
      );
      return { states, problems };
    },
  };
}

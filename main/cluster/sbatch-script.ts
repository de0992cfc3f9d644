// The array job script `sublab submit` writes beside the units: plain bash with #SBATCH lines, meant
// to be read (and edited, say to load a module) before a resubmission, which uses it as it is.
import type { ClusterOptions } from '../store/clusters.ts';

/** A word for bash: single-quoted unless it is plainly safe. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The value of the last `#SBATCH --NAME=VALUE` (or `--NAME VALUE`) line of a script, unquoted; or undefined. */
export function sbatchDirective(script: string, name: string): string | undefined {
  let value: string | undefined;
  for (const m of script.matchAll(new RegExp(`^#SBATCH\\s+--${name}(?:=|\\s+)"?([^"\\n]*?)"?\\s*$`, 'gm')))
    value = m[1];
  return value;
}

/** A value on an #SBATCH line (sbatch splits those lines at spaces unless quoted). */
function directiveValue(value: string): string {
  return /[\s"']/.test(value) ? `"${value.replaceAll('"', '\\"')}"` : value;
}

/** sbatch's --array value for these tasks, at most `max` running at once. */
export function arraySpec(units: readonly number[], max?: number): string {
  const sorted = [...units].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return `${parts.join(',')}${max ? `%${max}` : ''}`;
}

/** The first control character (C0 or DEL) in `value`, or null. */
function controlCharacter(value: string): string | null {
  for (const c of value) {
    const code = c.charCodeAt(0);
    if (code < 0x20 || code === 0x7f) return c;
  }
  return null;
}

/**
 * Refuses a value that is not one line of printable characters. A newline in an #SBATCH value ends
 * the directive and starts a line bash runs on every node (sbatch stops reading directives there, so
 * those after it are silently dropped); a CR, a NUL or another control character has no place in a
 * SLURM option or a path either.
 */
export function checkOneLine(option: string, value: string): void {
  const c = controlCharacter(value);
  if (c !== null)
    throw new Error(
      `${option} ${JSON.stringify(value)}: contains a control character (U+${c.charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}); a SLURM option or a path must be one line of printable characters`,
    );
}

/** Checks the extra sbatch options (`--sbatch-arg`): each one option, on one line. */
export function checkSbatchArgs(args: readonly string[]): void {
  for (const arg of args) {
    checkOneLine('--sbatch-arg', arg);
    if (!arg.startsWith('-'))
      throw new Error(`--sbatch-arg ${JSON.stringify(arg)}: expected an sbatch option (starting with -)`);
  }
}

/** Everything of a submission that reaches the script or sbatch, checked before anything is written. */
export function checkScriptInputs(input: {
  dir: string;
  options: ClusterOptions;
  command?: string | undefined;
}): void {
  checkOneLine('--dir', input.dir);
  if (input.options.partition !== undefined) checkOneLine('--partition', input.options.partition);
  if (input.options.time !== undefined) checkOneLine('--time', input.options.time);
  if (input.options.group !== undefined) checkOneLine('--group', input.options.group);
  if (input.command !== undefined) checkOneLine('--node-command', input.command);
  checkSbatchArgs(input.options.sbatchArgs);
}

/** A name for a comment line: control characters (a newline would end the comment) as spaces. */
function printable(text: string): string {
  return [...text].map((c) => (controlCharacter(c) === null ? c : ' ')).join('');
}

export interface ScriptInput {
  experimentId: number;
  /** SLURM's name for the job: what `squeue --name` and `scancel --name` find it by. */
  jobName: string;
  name: string;
  dir: string;
  units: number;
  options: ClusterOptions;
  /** The shell words that start the lab's CLI on a node (node + bin/sublab.js, or the GPU kit's run.sh). */
  command: string;
}

/** The job name of a submission: the experiment and the start of its token, so two stores' jobs differ. */
export function jobName(experimentId: number, token: string): string {
  return `sublab-${experimentId}-${token.slice(0, 8)}`;
}

export function sbatchScript(input: ScriptInput): string {
  const { experimentId: id, dir, options } = input;
  // Again here, whoever called: no value may end its directive early.
  checkScriptInputs(input);
  checkOneLine('the job name', input.jobName);
  const sbatch = [
    `--job-name=${input.jobName}`,
    `--array=${arraySpec(
      Array.from({ length: input.units }, (_, i) => i),
      options.arrayMax,
    )}`,
    '--ntasks=1',
    `--output=${directiveValue(`${dir}/logs/%A_%a.out`)}`,
    ...(options.partition ? [`--partition=${directiveValue(options.partition)}`] : []),
    ...(options.gpusPerTask ? [`--gpus-per-task=${options.gpusPerTask}`] : []),
    ...(options.time ? [`--time=${directiveValue(options.time)}`] : []),
    ...options.sbatchArgs,
  ];
  return `#!/bin/bash
# Subliminal Lab: experiment ${id} (${printable(input.name)}) as a SLURM array job, one task per
# unit (${input.units} units; a unit is a group of cells sharing a teacher x a shard of its replicates).
# Written by \`sublab submit\` on ${new Date().toISOString()}. Task K trains unit K of experiment.json and
# publishes units/K.sqlite when it ends. \`sublab collect ${id}\` merges the finished units into the
# lab's store; \`sublab submit --resume ${id}\` resubmits failed or missing ones with this script as it
# is then (so edit it first if, say, a task ran out of time), --array set to those units.
${sbatch.map((a) => `#SBATCH ${a}`).join('\n')}
set -euo pipefail
echo "sublab: unit $SLURM_ARRAY_TASK_ID of experiment ${id}, job \${SLURM_ARRAY_JOB_ID}_$SLURM_ARRAY_TASK_ID on $(hostname)"
exec ${input.command} run-unit ${shellQuote(dir)} "$SLURM_ARRAY_TASK_ID"
`;
}

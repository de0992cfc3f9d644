// The array job script `sublab submit` writes beside the units: plain bash with #SBATCH lines, meant
// to be read (and edited, say to load a module) before a resubmission, which uses it as it is.
import type { ClusterOptions } from '../store/clusters.ts';

/** A word for bash: single-quoted unless it is plainly safe. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
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

/** Checks the extra sbatch options (`--sbatch-arg`): each one option, on one line. */
export function checkSbatchArgs(args: readonly string[]): void {
  for (const arg of args) {
    if (!arg.startsWith('-'))
      throw new Error(`--sbatch-arg ${JSON.stringify(arg)}: expected an sbatch option (starting with -)`);
    if (/[\r\n]/.test(arg))
      throw new Error(`--sbatch-arg ${JSON.stringify(arg)}: an option must not span lines`);
  }
}

export interface ScriptInput {
  experimentId: number;
  name: string;
  dir: string;
  units: number;
  options: ClusterOptions;
  /** The shell words that start the lab's CLI on a node (node + bin/sublab.js, or the GPU kit's run.sh). */
  command: string;
}

export function sbatchScript(input: ScriptInput): string {
  const { experimentId: id, dir, options } = input;
  const sbatch = [
    `--job-name=sublab-${id}`,
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
# Subliminal Lab: experiment ${id} (${input.name.replaceAll('\n', ' ')}) as a SLURM array job, one task per
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

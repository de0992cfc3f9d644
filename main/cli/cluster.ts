// The cluster commands: `submit` hands an experiment to SLURM as an array job, `run-unit` is what
// each array task runs on its node, `collect` brings finished units into the local store.
import Table from 'cli-table3';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { validateSpec } from '../../app/spec/validate.ts';
import { BACKENDS } from '../../app/protocol.ts';
import type { ClusterReport } from '../../app/api.ts';
import { collectExperiment } from '../cluster/collect.ts';
import { runUnit } from '../cluster/run-unit.ts';
import { checkOneLine } from '../cluster/sbatch-script.ts';
import { parseUnitKey, UNIT_KEY_ENV } from '../cluster/unit-seal.ts';
import { resubmitExperiment, submitExperiment, type Submitted } from '../cluster/submit.ts';
import { resolveChoice } from '../engine/backend.ts';
import type { RunEvent } from '../jobs/run-experiment.ts';
import {
  backendOption,
  CliError,
  collect,
  dbOption,
  experimentId,
  openStore,
  positiveInt,
  readSpec,
  specErrors,
} from './common.ts';
import { defaultCacheDir } from './paths.ts';

interface SubmitOpts {
  slurm?: boolean;
  dir?: string;
  resume?: number;
  partition?: string;
  gpusPerTask?: number;
  time?: string;
  arrayMax?: number;
  sbatchArg: string[];
  group?: string;
  shards: number;
  backend?: string;
  replicates?: number;
  set: string[];
  nodeCommand?: string;
  db?: string;
  json?: boolean;
}

/** A value that reaches an #SBATCH line or the script, refused while parsing when it is not one line. */
const oneLine = (option: string) => (value: string) => {
  try {
    checkOneLine(option, value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return value;
};

/**
 * The submission's key, which sbatch put in this task's environment; taken out of the environment so
 * the trainer processes this task starts do not inherit it.
 */
function unitKeyFromEnv(): Buffer {
  const text = process.env[UNIT_KEY_ENV];
  delete process.env[UNIT_KEY_ENV];
  try {
    return parseUnitKey(text, `$${UNIT_KEY_ENV}`);
  } catch (error) {
    throw new CliError(
      `${(error as Error).message}: run-unit seals the unit file with the submission's key, which \`sublab submit\` hands to its tasks through sbatch (it is in the submitter's store, never in the shared directory); run units through SLURM, or \`sublab resume ID\` on the submitting machine once the job has ended`,
    );
  }
}

function printSubmitted(s: Submitted, json: boolean, resumed: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(s)}\n`);
    return;
  }
  process.stdout.write(
    `experiment ${s.experimentId}: ${resumed ? 'resubmitted' : 'submitted'} unit(s) ${s.units.join(', ')} to SLURM as job ${s.jobId}\n` +
      `  shared directory: ${s.dir}\n  script: ${s.script}\n  then: sublab collect ${s.experimentId}\n`,
  );
}

async function submitAction(file: string | undefined, opts: SubmitOpts): Promise<void> {
  if (opts.resume !== undefined) {
    if (file) throw new CliError('submit --resume ID takes no spec: it resubmits the stored experiment');
    const store = openStore(opts.db);
    try {
      printSubmitted(await resubmitExperiment(store, opts.resume), opts.json ?? false, true);
    } finally {
      store.close();
    }
    return;
  }
  if (!file) throw new CliError('submit needs a spec file, or --resume ID');
  if (!opts.slurm) throw new CliError('submit needs --slurm (SLURM is the scheduler the lab submits to)');
  if (!opts.dir)
    throw new CliError('submit --slurm needs --dir SHARED_DIR, a directory every node can read and write');
  const parsed = readSpec(file, opts.set);
  if (!parsed.ok) throw new CliError(specErrors(opts.set.length ? `${file} with --set` : file, parsed));
  let spec = parsed.spec;
  if (opts.replicates !== undefined) {
    const overridden = validateSpec({ ...spec, replicates: opts.replicates });
    if (!overridden.ok)
      throw new CliError(specErrors(`${file} with --replicates ${opts.replicates}`, overridden));
    spec = overridden.spec;
  }
  const store = openStore(opts.db);
  try {
    const submitted = await submitExperiment(store, {
      spec,
      dir: opts.dir,
      backend: resolveChoice(opts.backend),
      shards: opts.shards,
      options: {
        ...(opts.partition ? { partition: opts.partition } : {}),
        ...(opts.gpusPerTask ? { gpusPerTask: opts.gpusPerTask } : {}),
        ...(opts.time ? { time: opts.time } : {}),
        ...(opts.arrayMax ? { arrayMax: opts.arrayMax } : {}),
        ...(opts.group ? { group: opts.group } : {}),
        sbatchArgs: opts.sbatchArg,
      },
      ...(opts.nodeCommand ? { command: opts.nodeCommand } : {}),
    });
    printSubmitted(submitted, opts.json ?? false, false);
  } finally {
    store.close();
  }
}

export function reportText(r: ClusterReport): string {
  const table = new Table({
    head: ['unit', 'cells', 'replicates', 'state', 'task', 'detail'],
    ...(process.stdout.isTTY ? {} : { style: { head: [], border: [] } }),
  });
  const span = (xs: number[]) => (xs.length > 2 ? `${xs[0]}-${xs.at(-1)}` : xs.join(','));
  for (const u of r.units)
    table.push([
      u.index,
      u.cells.join(','),
      span(u.replicates),
      `${u.state}${u.collected ? '' : u.state === 'finished' ? ' (not collected)' : ''}`,
      u.task ?? '-',
      (u.detail ?? '').slice(0, 160),
    ]);
  const c = r.counts;
  const lines = [
    table.toString(),
    `experiment ${r.experimentId}: ${r.units.length} units: ${c.finished} finished, ${c.running} running, ${c.pending} pending, ${c.failed} failed, ${c.missing} missing`,
    r.merged.length ? `merged unit(s) ${r.merged.join(', ')} into the store` : 'nothing new to merge',
    `status: ${r.status}${r.error ? ` (${r.error})` : ''}`,
    ...r.schedulerProblems.map((p) => `warning: SLURM did not answer: ${p}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** Cancels the unit's run on SLURM's SIGTERM (scancel, time limit) or a Ctrl-C; a second signal kills it. */
function cancelOnSignals() {
  const cancel = new AbortController();
  const kill = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`${signal}: ${cancel.signal.aborted ? 'stopping now' : 'cancelling the unit'}\n`);
    (cancel.signal.aborted ? kill : cancel).abort();
  };
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, onSignal);
  return {
    signal: cancel.signal,
    kill: kill.signal,
    off: () => process.off('SIGINT', onSignal).off('SIGTERM', onSignal),
  };
}

/** A task's log: one line per phase of the unit, not a progress bar (nobody watches a log live). */
function logEvent(event: RunEvent, seen: Set<string>): void {
  const line = (text: string) => process.stdout.write(`${new Date().toISOString()} ${text}\n`);
  if (event.type === 'backend' && !seen.has('backend')) {
    seen.add('backend');
    line(`backend ${event.backend}`);
  } else if (event.type === 'phase' && !seen.has(event.phase)) {
    seen.add(event.phase);
    line(`phase ${event.phase}: ${event.totalSteps} steps`);
  } else if (event.type === 'cell-end')
    line(`cell ${event.cell.index}: ${event.status}${event.error ? `: ${event.error}` : ''}`);
}

async function runUnitAction(dir: string, index: number, opts: { backend?: string; cacheDir?: string }) {
  const unitKey = unitKeyFromEnv();
  const control = cancelOnSignals();
  const seen = new Set<string>();
  try {
    const outcome = await runUnit(resolve(dir), index, {
      cacheDir: opts.cacheDir ?? defaultCacheDir(),
      unitKey,
      ...(opts.backend ? { backend: resolveChoice(opts.backend) } : {}),
      signal: control.signal,
      kill: control.kill,
      onEvent: (event) => logEvent(event, seen),
    });
    if (outcome.alreadyDone)
      process.stdout.write(`unit ${index} was already published whole in ${outcome.file}; nothing to do\n`);
    else
      process.stdout.write(
        `unit ${index} ${outcome.status} in ${outcome.wallSeconds.toFixed(1)} s; wrote ${outcome.file}\n`,
      );
    if (outcome.status !== 'done')
      throw new CliError(`unit ${index} ${outcome.status}: ${outcome.error ?? 'no error given'}`);
  } finally {
    control.off();
  }
}

export function addClusterCommands(program: Command): void {
  program
    .command('submit')
    .description(
      'submit an experiment to SLURM as an array job (one task per unit), or resubmit its failed units',
    )
    .argument('[spec]', 'experiment spec (JSON)')
    .option('--slurm', 'submit to SLURM (with sbatch)')
    .option(
      '--dir <shared-dir>',
      'a new or empty directory every node reads and writes (spec, script, unit files, logs); only you may write it',
      oneLine('--dir'),
    )
    .option(
      '--group <name>',
      'let this group read the shared directory (mode 0750; default 0700: only you)',
      oneLine('--group'),
    )
    .option('--resume <id>', 'resubmit the failed or missing units of a cluster experiment', experimentId)
    .option('--partition <name>', 'SLURM partition', oneLine('--partition'))
    .option(
      '--gpus-per-task <n>',
      'GPUs for each task (SLURM gives each task its own)',
      positiveInt('--gpus-per-task'),
    )
    .option('--time <limit>', "each task's time limit, in sbatch's format (e.g. 2:00:00)", oneLine('--time'))
    .option('--array-max <n>', 'at most this many tasks running at once', positiveInt('--array-max'))
    .option(
      '--sbatch-arg <option>',
      'another sbatch option, e.g. --sbatch-arg=--mem=8G (repeatable)',
      (value: string, previous: string[]) => collect(oneLine('--sbatch-arg')(value), previous),
      [],
    )
    .option(
      '--shards <n>',
      'replicate shards per group of cells, one task each (default 1; more if memory needs)',
      positiveInt('--shards'),
      1,
    )
    .addOption(
      new Option(
        '--backend <name>',
        'backend of every task (default: auto on each node, or $SUBLAB_BACKEND)',
      ).choices(['auto', ...BACKENDS]),
    )
    .option('--replicates <n>', "override the spec's number of replicates", positiveInt('--replicates'))
    .option('--set <path=value>', 'override a spec field (repeatable)', collect, [])
    .option(
      '--node-command <words>',
      "how a node starts the lab's CLI (default: this node and this checkout's bin/sublab.js)",
    )
    .addOption(dbOption())
    .option('--json', 'print only {experimentId, jobId, units, dir, script}')
    .action(submitAction);

  program
    .command('run-unit')
    .description(
      'train one unit of a submission on this node (what each array task runs); writes DIR/units/K.sqlite',
    )
    .argument('<dir>', 'the shared directory of the submission')
    .argument('<unit>', 'unit index (the array task id)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('unit must be an index >= 0');
      return n;
    })
    .addOption(backendOption())
    .option(
      '--cache-dir <dir>',
      'dataset cache directory (default: the user cache directory, or $SUBLAB_CACHE_DIR)',
    )
    .action(runUnitAction);

  program
    .command('collect')
    .description("merge a cluster experiment's finished units into the store and report every unit's state")
    .argument('<id>', 'experiment id', experimentId)
    .addOption(dbOption())
    .option('--json', 'print the report as JSON')
    .action(async (id: number, opts: { db?: string; json?: boolean }) => {
      const store = openStore(opts.db);
      try {
        const r = await collectExperiment(store, id);
        process.stdout.write(opts.json ? `${JSON.stringify(r)}\n` : reportText(r));
      } finally {
        store.close();
      }
    });
}

// Handing an experiment to SLURM: the experiment is stored as a plan of units (as a local run's
// would be), the shared directory gets the spec, the unit list and the array job script, and sbatch
// gets one array task per unit. Everything is checked before the store is touched, and a refusal
// (sbatch missing or refusing, the directory unwritable) leaves the store and the directory as they were.
// An sbatch that may have queued the job without saying so leaves both in place (see UnclearSubmission).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expandMatrix } from '../../app/matrix.ts';
import type { BackendChoice } from '../../app/protocol.ts';
import type { ExperimentSpec } from '../../app/spec/schema.ts';
import { checkFit, staticLimits } from '../engine/limits.ts';
import { planExperiment } from '../jobs/run-experiment.ts';
import { planShards } from '../../app/shards.ts';
import { addCluster, addClusterJob, clusterOf, type ClusterOptions } from '../store/clusters.ts';
import type { RunStore } from '../store/store.ts';
import { clusterStatus } from './collect.ts';
import { replaceFile } from './private-files.ts';
import {
  checkPrivate,
  checkPrivateDir,
  fileModeIn,
  manifestText,
  newManifest,
  prepareSharedDir,
  sharedPaths,
} from './shared-dir.ts';
import {
  arraySpec,
  checkScriptInputs,
  jobName,
  sbatchDirective,
  sbatchScript,
  shellQuote,
} from './sbatch-script.ts';
import { slurm, UnclearSubmission, type Scheduler } from './slurm.ts';
import { newUnitKey, UNIT_KEY_ENV } from './unit-seal.ts';

export interface SubmitInput {
  spec: ExperimentSpec;
  dir: string;
  backend: BackendChoice;
  /** Replicate shards per group of cells (one array task each); more where memory needs them. */
  shards: number;
  options: ClusterOptions;
  /** The shell words that start the lab's CLI on a node; default: this node binary and this checkout. */
  command?: string;
}

export interface Submitted {
  experimentId: number;
  jobId: string;
  /** The units this job runs (its array task ids). */
  units: number[];
  dir: string;
  script: string;
}

/** How a node starts this checkout's CLI: the same node binary and bin/sublab.js, by absolute path. */
export function defaultNodeCommand(): string {
  const entry = fileURLToPath(new URL('../../bin/sublab.js', import.meta.url));
  return `${shellQuote(process.execPath)} ${shellQuote(entry)}`;
}

/** The plan for a cluster: each task runs alone on its allocation, so memory is checked for one trainer. */
function clusterPlan(spec: ExperimentSpec, backend: BackendChoice, shards: number) {
  const fit = checkFit(spec, staticLimits(backend), 1);
  if (!fit.ok) throw new Error(fit.error);
  return planExperiment(expandMatrix(spec), planShards(spec.replicates, shards, fit.maxReplicatesPerTrainer));
}

/** A stored experiment that waits for its tasks: running, owned by no local process, no heartbeat. */
function markOnCluster(store: RunStore, id: number): void {
  store.db
    .prepare(
      "UPDATE experiments SET status = 'running', started_at = coalesce(started_at, ?), finished_at = NULL, error = NULL, owner_pid = NULL, owner_host = NULL, heartbeat_at = NULL WHERE id = ?",
    )
    .run(new Date().toISOString(), id);
}

export interface Prepared {
  experimentId: number;
  units: number[];
  dir: string;
  script: string;
  /** SLURM's name for the job (what squeue --name and scancel --name find). */
  jobName: string;
  /** The submission's key (hex), kept in the store: sbatch hands it to the tasks (see unit-seal.ts). */
  unitKey: string;
  /** Removes the experiment from the store and what was written into the directory. */
  undo: () => void;
}

/**
 * A submission up to sbatch: the experiment stored as a plan of units waiting for its tasks, and
 * the shared directory holding the manifest and the script. Refusals come before the store is touched.
 */
export function prepareSubmission(store: RunStore, input: SubmitInput): Prepared {
  checkScriptInputs(input);
  const plan = clusterPlan(input.spec, input.backend, input.shards);
  const shared = prepareSharedDir(input.dir, input.options.group);
  const paths = sharedPaths(shared.dir);
  const token = randomUUID();
  const unitKey = newUnitKey();
  let experimentId: number | undefined;
  const undo = () => {
    if (experimentId !== undefined)
      store.db.prepare('DELETE FROM experiments WHERE id = ?').run(experimentId);
    shared.undo();
  };
  try {
    experimentId = store.db.transaction(() => {
      const id = store.createExperiment(input.spec, expandMatrix(input.spec));
      store.planUnits(id, plan);
      markOnCluster(store, id);
      addCluster(store, {
        experimentId: id,
        scheduler: 'slurm',
        dir: shared.dir,
        token,
        unitKey,
        options: input.options,
        createdAt: new Date().toISOString(),
      });
      return id;
    })();
    const specHash = store.getExperiment(experimentId)!.specHash;
    const manifest = newManifest({
      token,
      experimentId,
      name: input.spec.name,
      specHash,
      backend: input.backend,
      spec: input.spec,
      units: plan,
      store: store.path,
    });
    const mode = fileModeIn(shared.dir);
    replaceFile(paths.manifest, { text: manifestText(manifest) }, mode);
    const script = sbatchScript({
      experimentId,
      jobName: jobName(experimentId, token),
      name: input.spec.name,
      dir: shared.dir,
      units: plan.length,
      options: input.options,
      command: input.command ?? defaultNodeCommand(),
    });
    replaceFile(paths.script, { text: script }, mode & 0o040 ? 0o750 : 0o700); // the files' readers may run it
  } catch (error) {
    undo();
    throw error;
  }
  return {
    experimentId,
    units: plan.map((u) => u.index),
    dir: shared.dir,
    script: paths.script,
    jobName: jobName(experimentId, token),
    unitKey,
    undo,
  };
}

/** What to do when sbatch may have queued the job without saying so: the files stay, as the job may need them. */
function unclear(error: UnclearSubmission, id: number, name: string, dir: string): Error {
  return new Error(
    `${error.message}\nsbatch may have queued experiment ${id}'s job all the same, so nothing was removed: ` +
      `the experiment stays in the store and ${dir} keeps its files. See whether the job is there with ` +
      `\`squeue --me --name=${name}\`. If it is, either cancel it (\`scancel --me --name=${name}\`) and submit ` +
      `its units again with \`sublab submit --resume ${id}\`, or let it run and \`sublab collect ${id}\` when it ends. ` +
      `If it is not, \`sublab submit --resume ${id}\`.`,
    { cause: error },
  );
}

/**
 * Prepares the submission and submits it with sbatch. A refusal leaves store and directory as they
 * were; an sbatch that may have queued the job all the same leaves both, and says how to look.
 */
export async function submitExperiment(
  store: RunStore,
  input: SubmitInput,
  scheduler: Scheduler = slurm(),
): Promise<Submitted> {
  const prepared = prepareSubmission(store, input);
  const { experimentId, units, dir, script } = prepared;
  let jobId: string;
  try {
    scheduler.checkSubmit();
    const array = arraySpec(units, input.options.arrayMax);
    jobId = await scheduler.submit(script, array, dir, { [UNIT_KEY_ENV]: prepared.unitKey });
  } catch (error) {
    if (error instanceof UnclearSubmission) throw unclear(error, experimentId, prepared.jobName, dir);
    prepared.undo();
    throw error;
  }
  addClusterJob(store, experimentId, { jobId, units, submittedAt: new Date().toISOString() });
  return { experimentId, jobId, units, dir, script };
}

/** The key of a cluster experiment; one submitted before unit keys gets one now (its new tasks seal). */
function unitKeyOf(store: RunStore, id: number): string {
  const stored = clusterOf(store, id)!.unitKey;
  if (stored) return stored;
  const key = newUnitKey();
  store.db.prepare('UPDATE clusters SET unit_key = ? WHERE experiment_id = ?').run(key, id);
  return key;
}

/**
 * Resubmits the units of a cluster experiment that failed or went missing (never those pending,
 * running or finished), with the script in the shared directory as it is now.
 */
export async function resubmitExperiment(
  store: RunStore,
  id: number,
  scheduler: Scheduler = slurm(),
): Promise<Submitted> {
  scheduler.checkSubmit();
  const status = await clusterStatus(store, id, scheduler);
  if (status.schedulerProblems.length > 0)
    throw new Error(
      `cannot tell which units of experiment ${id} still run, so none is resubmitted: ${status.schedulerProblems.join('; ')}`,
    );
  const again = status.units.filter((u) => u.state === 'failed' || u.state === 'missing').map((u) => u.index);
  if (again.length === 0) {
    const c = status.counts;
    throw new Error(
      `experiment ${id} has no failed or missing unit to resubmit (${c.finished} finished, ${c.running} running, ${c.pending} pending)`,
    );
  }
  const cluster = clusterOf(store, id)!;
  const script = sharedPaths(cluster.dir).script;
  // sbatch runs the script as it is now: nobody but the user may have changed it.
  checkPrivateDir(cluster.dir);
  checkPrivate(script, 'the array script', 'file');
  const array = arraySpec(again, cluster.options.arrayMax);
  let jobId: string;
  try {
    jobId = await scheduler.submit(script, array, cluster.dir, { [UNIT_KEY_ENV]: unitKeyOf(store, id) });
  } catch (error) {
    if (error instanceof UnclearSubmission) {
      const name = sbatchDirective(readFileSync(script, 'utf8'), 'job-name') ?? jobName(id, cluster.token);
      throw unclear(error, id, name, cluster.dir);
    }
    throw error;
  }
  store.db.transaction(() => {
    addClusterJob(store, id, { jobId, units: again, submittedAt: new Date().toISOString() });
    markOnCluster(store, id);
  })();
  return { experimentId: id, jobId, units: again, dir: cluster.dir, script };
}

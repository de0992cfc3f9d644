// Handing an experiment to SLURM: the experiment is stored as a plan of units (as a local run's
// would be), the shared directory gets the spec, the unit list and the array job script, and sbatch
// gets one array task per unit. Everything is checked before the store is touched, and a refusal
// (sbatch missing or refusing, the directory unwritable) leaves the store and the directory as they were.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expandMatrix } from '../../app/matrix.ts';
import type { BackendChoice } from '../../app/protocol.ts';
import type { ExperimentSpec } from '../../app/spec/schema.ts';
import { checkFit, staticLimits } from '../engine/limits.ts';
import { planExperiment } from '../jobs/run-experiment.ts';
import { planShards } from '../jobs/shards.ts';
import { addCluster, addClusterJob, clusterOf, type ClusterOptions } from '../store/clusters.ts';
import type { RunStore } from '../store/store.ts';
import { clusterStatus } from './collect.ts';
import { manifestText, newManifest, prepareSharedDir, sharedPaths } from './shared-dir.ts';
import { arraySpec, checkSbatchArgs, sbatchScript, shellQuote } from './sbatch-script.ts';
import { slurm, type Scheduler } from './slurm.ts';

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
  /** Removes the experiment from the store and what was written into the directory. */
  undo: () => void;
}

/**
 * A submission up to sbatch: the experiment stored as a plan of units waiting for its tasks, and
 * the shared directory holding the manifest and the script. Refusals come before the store is touched.
 */
export function prepareSubmission(store: RunStore, input: SubmitInput): Prepared {
  checkSbatchArgs(input.options.sbatchArgs);
  const plan = clusterPlan(input.spec, input.backend, input.shards);
  const shared = prepareSharedDir(input.dir);
  const paths = sharedPaths(shared.dir);
  const token = randomUUID();
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
    writeFileSync(paths.manifest, manifestText(manifest));
    const script = sbatchScript({
      experimentId,
      name: input.spec.name,
      dir: shared.dir,
      units: plan.length,
      options: input.options,
      command: input.command ?? defaultNodeCommand(),
    });
    writeFileSync(paths.script, script, { mode: 0o755 });
  } catch (error) {
    undo();
    throw error;
  }
  return { experimentId, units: plan.map((u) => u.index), dir: shared.dir, script: paths.script, undo };
}

/** Prepares the submission and submits it with sbatch; any failure leaves store and directory as they were. */
export async function submitExperiment(
  store: RunStore,
  input: SubmitInput,
  scheduler: Scheduler = slurm(),
): Promise<Submitted> {
  const prepared = prepareSubmission(store, input);
  const { experimentId, units, dir, script } = prepared;
  try {
    scheduler.checkSubmit();
    const jobId = await scheduler.submit(script, arraySpec(units, input.options.arrayMax), dir);
    addClusterJob(store, experimentId, { jobId, units, submittedAt: new Date().toISOString() });
    return { experimentId, jobId, units, dir, script };
  } catch (error) {
    prepared.undo();
    throw error;
  }
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
  const jobId = await scheduler.submit(script, arraySpec(again, cluster.options.arrayMax), cluster.dir);
  store.db.transaction(() => {
    addClusterJob(store, id, { jobId, units: again, submittedAt: new Date().toISOString() });
    markOnCluster(store, id);
  })();
  return { experimentId: id, jobId, units: again, dir: cluster.dir, script };
}

// One array task on a node: trains one unit of a submission into a private SQLite file in the node's
// temporary directory, then publishes it into the shared directory with a rename. The shared file
// system so only ever sees whole files, each written once by one writer: SQLite's locks and WAL are
// not to be trusted over NFS, a rename is atomic.
import { copyFileSync, existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackendChoice } from '../../app/protocol.ts';
import { runPlanned, type RunOptions, type RunOutcome } from '../jobs/run-experiment.ts';
import { addCluster } from '../store/clusters.ts';
import { RunStore } from '../store/store.ts';
import { readManifest, sharedPaths, type Manifest } from './shared-dir.ts';
import { readUnitFile } from './unit-file.ts';

export interface RunUnitOptions extends Omit<RunOptions, 'backend' | 'workers'> {
  /** Default: the backend the submission asked for. */
  backend?: BackendChoice;
}

export interface UnitRunOutcome extends RunOutcome {
  file: string;
  /** The unit had already been published whole (a requeued task): nothing was trained. */
  alreadyDone?: true;
}

/** Which task this is, as SLURM tells it (for the file's notes and the log). */
function slurmTask(): string {
  const job = process.env.SLURM_ARRAY_JOB_ID ?? process.env.SLURM_JOB_ID;
  const task = process.env.SLURM_ARRAY_TASK_ID;
  return job ? `SLURM job ${job}${task ? `_${task}` : ''}` : 'no SLURM job';
}

function alreadyDone(file: string, manifest: Manifest, index: number): boolean {
  if (!existsSync(file)) return false;
  try {
    const expect = {
      token: manifest.token,
      experimentId: manifest.experimentId,
      specHash: manifest.specHash,
    };
    return readUnitFile(file, { ...expect, unit: manifest.units[index]! }).status === 'done';
  } catch {
    return false; // foreign or damaged: this task replaces it
  }
}

/** Copies the finished file beside its place, then renames it there: readers see all of it or none. */
function publish(local: string, target: string): void {
  const partial = `${target}.partial-${hostname()}-${process.pid}`;
  try {
    copyFileSync(local, partial);
    renameSync(partial, target);
  } catch (error) {
    rmSync(partial, { force: true });
    throw new Error(
      `cannot publish the unit into ${target}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      { cause: error },
    );
  }
}

export async function runUnit(dir: string, index: number, options: RunUnitOptions): Promise<UnitRunOutcome> {
  const manifest = readManifest(dir);
  const unit = manifest.units[index];
  if (!unit)
    throw new Error(
      `${sharedPaths(dir).manifest} has units 0..${manifest.units.length - 1}, no unit ${index}`,
    );
  const target = sharedPaths(dir).unit(index);
  if (alreadyDone(target, manifest, index))
    return {
      experimentId: manifest.experimentId,
      status: 'done',
      backend: null,
      wallSeconds: 0,
      workers: 0,
      file: target,
      alreadyDone: true,
    };
  const work = mkdtempSync(join(tmpdir(), `sublab-unit-${index}-`));
  try {
    const local = join(work, 'unit.sqlite');
    const store = new RunStore(local);
    let outcome: RunOutcome;
    try {
      outcome = await runPlanned(store, manifest.spec, [unit], {
        ...options,
        backend: options.backend ?? manifest.backend,
        workers: 1,
      });
      addCluster(store, {
        experimentId: outcome.experimentId,
        scheduler: 'slurm',
        dir,
        token: manifest.token,
        options: { sbatchArgs: [] },
        createdAt: new Date().toISOString(),
      });
      store.updateExperiment(outcome.experimentId, {
        notes: `unit ${index} of experiment ${manifest.experimentId} (${manifest.name}), ${slurmTask()} on ${hostname()}`,
      });
      // One self-contained file: the write-ahead log folded in and gone.
      store.db.pragma('journal_mode = DELETE');
    } finally {
      store.close();
    }
    publish(local, target);
    return { ...outcome, file: target };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

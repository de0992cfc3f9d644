// One array task on a node: trains one unit of a submission into a private SQLite file in the node's
// temporary directory, then publishes it into the shared directory with a rename. The shared file
// system so only ever sees whole files, each written once by one writer: SQLite's locks and WAL are
// not to be trusted over NFS, a rename is atomic. The task seals the file with the submission's key,
// which it gets from SLURM and never from the shared directory (see unit-seal.ts).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackendChoice } from '../../app/protocol.ts';
import { runPlanned, type RunOptions, type RunOutcome } from '../jobs/run-experiment.ts';
import { addCluster, setUnitSeal } from '../store/clusters.ts';
import { RunStore } from '../store/store.ts';
import { replaceFile } from './private-files.ts';
import { checkPrivateDir, fileModeIn, readManifest, sharedPaths, type Manifest } from './shared-dir.ts';
import { readUnitFile, unitContent } from './unit-file.ts';
import { unitSeal } from './unit-seal.ts';

export interface RunUnitOptions extends Omit<RunOptions, 'backend' | 'workers'> {
  /** Default: the backend the submission asked for. */
  backend?: BackendChoice;
  /** The submission's key (from $SUBLAB_UNIT_KEY, which sbatch passes on): the unit file is sealed with it. */
  unitKey: Buffer;
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

/** What the unit file of unit `index` must be: this submission's, this unit's, sealed with `key`. */
function expectation(manifest: Manifest, index: number, key: Buffer) {
  const { token, experimentId, specHash } = manifest;
  return { token, experimentId, specHash, unit: manifest.units[index]!, key };
}

function alreadyDone(file: string, manifest: Manifest, index: number, key: Buffer): boolean {
  if (!existsSync(file)) return false;
  try {
    return readUnitFile(file, expectation(manifest, index, key)).status === 'done';
  } catch {
    return false; // foreign or damaged: this task replaces it
  }
}

/** Copies the finished file beside its place (a new file), then renames it there: readers see all of it or none. */
function publish(local: string, target: string, mode: number): void {
  try {
    replaceFile(target, { copyOf: local }, mode);
  } catch (error) {
    throw new Error(
      `cannot publish the unit into ${target}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      { cause: error },
    );
  }
}

/** Seals the task's own unit file: its content as collect will read it, under the submission's key. */
function seal(store: RunStore, id: number, local: string, manifest: Manifest, index: number, key: Buffer) {
  const expect = expectation(manifest, index, key);
  setUnitSeal(store, id, unitSeal(key, expect, unitContent(store, local, expect)));
}

export async function runUnit(dir: string, index: number, options: RunUnitOptions): Promise<UnitRunOutcome> {
  const { unitKey: key, ...runOptions } = options;
  checkPrivateDir(dir);
  checkPrivateDir(sharedPaths(dir).units, 'the folder');
  const manifest = readManifest(dir);
  const unit = manifest.units[index];
  if (!unit)
    throw new Error(
      `${sharedPaths(dir).manifest} has units 0..${manifest.units.length - 1}, no unit ${index}`,
    );
  const target = sharedPaths(dir).unit(index);
  if (alreadyDone(target, manifest, index, key))
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
        ...runOptions,
        backend: options.backend ?? manifest.backend,
        workers: 1,
      });
      addCluster(store, {
        experimentId: outcome.experimentId,
        scheduler: 'slurm',
        dir,
        token: manifest.token,
        unitKey: null, // the key never leaves the submitter's store and the task's memory
        options: { sbatchArgs: [] },
        createdAt: new Date().toISOString(),
      });
      store.updateExperiment(outcome.experimentId, {
        notes: `unit ${index} of experiment ${manifest.experimentId} (${manifest.name}), ${slurmTask()} on ${hostname()}`,
      });
      seal(store, outcome.experimentId, local, manifest, index, key);
      // One self-contained file: the write-ahead log folded in and gone.
      store.db.pragma('journal_mode = DELETE');
    } finally {
      store.close();
    }
    publish(local, target, fileModeIn(sharedPaths(dir).units));
    return { ...outcome, file: target };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

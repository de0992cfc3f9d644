// The rows of cluster submissions (migration 5): which experiments were handed to a scheduler, where
// their shared directory is, under which token, and which jobs were submitted for which units. Since
// migration 7 the submitter's row also holds the key that authenticates the unit files (never written
// to the shared directory), and a unit file's row holds the unit's seal made with it.
import type { RunStore } from './store.ts';

/** What `sublab submit` was told about the scheduler; a resubmission uses the same. */
export interface ClusterOptions {
  partition?: string;
  gpusPerTask?: number;
  time?: string;
  arrayMax?: number;
  sbatchArgs: string[];
  /** The group that may read the shared directory (mode 0750); none: only the submitting user (0700). */
  group?: string;
}

export interface ClusterRow {
  experimentId: number;
  scheduler: 'slurm';
  /** The shared directory (absolute) holding the spec, the unit list, the script and the unit files. */
  dir: string;
  /** Names this submission; every unit file its tasks write carries it. */
  token: string;
  /**
   * In the submitter's store: the key (hex) its tasks seal their unit files with; null in a unit file,
   * and for submissions made before unit files were sealed.
   */
  unitKey: string | null;
  options: ClusterOptions;
  createdAt: string;
}

export interface ClusterJob {
  jobId: string;
  /** The unit indices this job's array tasks run (task id = unit index). */
  units: number[];
  submittedAt: string;
}

interface RawCluster {
  experiment_id: number;
  scheduler: 'slurm';
  dir: string;
  token: string;
  unit_key: string | null;
  options_json: string;
  created_at: string;
}

export function clusterOf(store: RunStore, experimentId: number): ClusterRow | undefined {
  const r = store.db.prepare('SELECT * FROM clusters WHERE experiment_id = ?').get(experimentId) as
    RawCluster | undefined;
  return r
    ? {
        experimentId: r.experiment_id,
        scheduler: r.scheduler,
        dir: r.dir,
        token: r.token,
        unitKey: r.unit_key,
        options: JSON.parse(r.options_json) as ClusterOptions,
        createdAt: r.created_at,
      }
    : undefined;
}

/** Ids of the experiments that run on a cluster. */
export function clusterExperimentIds(store: RunStore): Set<number> {
  const rows = store.db.prepare('SELECT experiment_id FROM clusters').all() as { experiment_id: number }[];
  return new Set(rows.map((r) => r.experiment_id));
}

export function addCluster(store: RunStore, row: ClusterRow): void {
  store.db
    .prepare(
      'INSERT INTO clusters (experiment_id, scheduler, dir, token, unit_key, options_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    )
    .run(
      row.experimentId,
      row.scheduler,
      row.dir,
      row.token,
      row.unitKey,
      JSON.stringify(row.options),
      row.createdAt,
    );
}

/** A unit file's seal (see main/cluster/unit-seal.ts), or null when it has none. */
export function unitSealOf(store: RunStore, experimentId: number): string | null {
  const r = store.db.prepare('SELECT unit_mac FROM clusters WHERE experiment_id = ?').get(experimentId) as
    { unit_mac: string | null } | undefined;
  return r?.unit_mac ?? null;
}

export function setUnitSeal(store: RunStore, experimentId: number, seal: string): void {
  store.db.prepare('UPDATE clusters SET unit_mac = ? WHERE experiment_id = ?').run(seal, experimentId);
}

export function clusterJobs(store: RunStore, experimentId: number): ClusterJob[] {
  const rows = store.db
    .prepare(
      'SELECT job_id, units_json, submitted_at FROM cluster_jobs WHERE experiment_id = ? ORDER BY submitted_at, rowid',
    )
    .all(experimentId) as { job_id: string; units_json: string; submitted_at: string }[];
  return rows.map((r) => ({
    jobId: r.job_id,
    units: JSON.parse(r.units_json) as number[],
    submittedAt: r.submitted_at,
  }));
}

export function addClusterJob(store: RunStore, experimentId: number, job: ClusterJob): void {
  store.db
    .prepare('INSERT INTO cluster_jobs (experiment_id, job_id, units_json, submitted_at) VALUES (?, ?, ?, ?)')
    .run(experimentId, job.jobId, JSON.stringify(job.units), job.submittedAt);
}

// The rows of cluster submissions (migration 5): which experiments were handed to a scheduler, where
// their shared directory is, under which token, and which jobs were submitted for which units.
import type { RunStore } from './store.ts';

/** What `sublab submit` was told about the scheduler; a resubmission uses the same. */
export interface ClusterOptions {
  partition?: string;
  gpusPerTask?: number;
  time?: string;
  arrayMax?: number;
  sbatchArgs: string[];
}

export interface ClusterRow {
  experimentId: number;
  scheduler: 'slurm';
  /** The shared directory (absolute) holding the spec, the unit list, the script and the unit files. */
  dir: string;
  /** Names this submission; every unit file its tasks write carries it. */
  token: string;
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
      'INSERT INTO clusters (experiment_id, scheduler, dir, token, options_json, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    )
    .run(row.experimentId, row.scheduler, row.dir, row.token, JSON.stringify(row.options), row.createdAt);
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

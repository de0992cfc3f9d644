// Where a cluster experiment's units stand, and bringing the finished ones home. A unit is finished
// when its task published a whole unit file for this submission; otherwise the scheduler says whether
// it is pending, running or ended without one. Collecting merges finished units into the local store
// (each with its done mark, in one transaction) and is idempotent: a merged unit is never read again,
// and the transaction itself skips units another collect merged since they were read, so two collects
// at once merge each unit once.
import {
  CLUSTER_UNIT_STATES,
  type ClusterReport,
  type ClusterUnit as UnitReport,
  type ClusterUnitState as UnitState,
} from '../../app/api.ts';
import type { BackendName, PhaseTiming } from '../../app/protocol.ts';
import { clusterJobs, clusterOf, type ClusterJob, type ClusterRow } from '../store/clusters.ts';
import type { ExperimentRow, RunStore, UnitRow } from '../store/store.ts';
import { lexists } from './private-files.ts';
import { readManifest, sharedPaths } from './shared-dir.ts';
import { slurm, type Scheduler, type TaskState, type TaskStates } from './slurm.ts';
import { BadUnitFile, readUnitFile, type UnitFileContent } from './unit-file.ts';

const RUNNING = new Set([
  'RUNNING',
  'CONFIGURING',
  'COMPLETING',
  'STAGE_OUT',
  'SIGNALING',
  'RESIZING',
  'SUSPENDED',
]);
const PENDING = new Set(['PENDING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESV_DEL_HOLD']);

interface Inspected {
  row: ExperimentRow;
  cluster: ClusterRow;
  units: UnitReport[];
  files: Map<number, UnitFileContent>;
  schedulerProblems: string[];
  badFiles: string[];
}

/** Refused while a local runner owns the experiment: its rows are that runner's to write. */
function refuseLocalRun(store: RunStore, id: number): void {
  const row = store.getExperiment(id)!;
  if (row.status === 'running' && row.heartbeatAt !== null)
    throw new Error(
      `experiment ${id} is being resumed on this machine (process ${row.ownerPid ?? '?'} on ${row.ownerHost ?? '?'}); wait for it to end`,
    );
}

/** The cluster experiment `id`, refused when it is not one or is being resumed locally right now. */
function clusterExperiment(store: RunStore, id: number): { row: ExperimentRow; cluster: ClusterRow } {
  store.recoverInterrupted();
  const row = store.getExperiment(id);
  if (!row) throw new Error(`no experiment with id ${id} in ${store.path}`);
  const cluster = clusterOf(store, id);
  if (!cluster) throw new Error(`experiment ${id} was not submitted to a cluster (see \`sublab submit\`)`);
  refuseLocalRun(store, id);
  // Once every unit is home the directory may be gone: nothing is read from it any more.
  if (store.units(id).every((u) => u.status === 'done')) return { row, cluster };
  const manifest = readManifest(cluster.dir);
  if (manifest.token !== cluster.token)
    throw new Error(
      `${sharedPaths(cluster.dir).manifest} belongs to another submission (experiment ${manifest.experimentId} from ${manifest.submittedFrom.host}), not experiment ${id}'s`,
    );
  return { row, cluster };
}

/** The job that last ran each unit. */
function latestJobs(jobs: readonly ClusterJob[]): Map<number, string> {
  const latest = new Map<number, string>();
  for (const job of jobs) for (const u of job.units) latest.set(u, job.jobId);
  return latest;
}

function describe(t: TaskState): string {
  return `${t.state}${t.reason ? ` (${t.reason})` : ''}`;
}

/** A unit not yet collected: its file (if any) and its task's state decide. */
function unitState(
  unit: UnitRow,
  file: { content?: UnitFileContent; bad?: string },
  task: string | null,
  live: TaskState | undefined,
  schedulerAnswered: boolean,
): Pick<UnitReport, 'state' | 'detail'> {
  if (file.content?.status === 'done') return { state: 'finished', detail: null };
  // A resubmitted task on its way replaces whatever its predecessor left.
  if (live && PENDING.has(live.state)) return { state: 'pending', detail: describe(live) };
  if (live && RUNNING.has(live.state)) return { state: 'running', detail: describe(live) };
  if (file.bad) return { state: 'failed', detail: file.bad };
  if (file.content) return { state: 'failed', detail: `${file.content.status}: ${file.content.error}` };
  if (live && live.state === 'COMPLETED')
    return {
      state: 'failed',
      detail: `task ${task} completed without publishing units/${unit.index}.sqlite; see its log in logs/`,
    };
  if (live) return { state: 'failed', detail: `task ${task} ended ${describe(live)}` };
  if (task && !schedulerAnswered)
    return {
      state: 'missing',
      detail: `no unit file yet; SLURM did not answer, so whether task ${task} still runs is unknown`,
    };
  return {
    state: 'missing',
    detail: task
      ? `no unit file, and SLURM no longer knows task ${task} (cancelled before it started, or forgotten)`
      : 'never submitted',
  };
}

async function inspect(store: RunStore, id: number, scheduler: Scheduler): Promise<Inspected> {
  const { row, cluster } = clusterExperiment(store, id);
  const paths = sharedPaths(cluster.dir);
  const jobs = clusterJobs(store, id);
  const latest = latestJobs(jobs);
  const files = new Map<number, UnitFileContent>();
  const bad = new Map<number, string>();
  const stored = store.units(id);
  const key = cluster.unitKey === null ? null : Buffer.from(cluster.unitKey, 'hex');
  for (const unit of stored) {
    // lexists: a link planted there is to be refused by name, not passed over.
    if (unit.status === 'done' || !lexists(paths.unit(unit.index))) continue;
    try {
      const expect = { token: cluster.token, experimentId: id, specHash: row.specHash, unit, key };
      files.set(unit.index, readUnitFile(paths.unit(unit.index), expect));
    } catch (error) {
      if (!(error instanceof BadUnitFile)) throw error;
      bad.set(unit.index, error.message);
    }
  }
  const open = stored.filter((u) => u.status !== 'done' && files.get(u.index)?.status !== 'done');
  let states: TaskStates = new Map();
  let schedulerProblems: string[] = [];
  if (open.length > 0) {
    const asked = await scheduler.taskStates([
      ...new Set(open.map((u) => latest.get(u.index)).filter((j) => j !== undefined)),
    ]);
    states = asked.states;
    schedulerProblems = asked.problems;
  }
  const units = stored.map((unit): UnitReport => {
    const jobId = latest.get(unit.index);
    const task = jobId ? `${jobId}_${unit.index}` : null;
    const base = {
      index: unit.index,
      group: unit.group,
      cells: unit.cells,
      replicates: unit.replicates,
      task,
    };
    if (unit.status === 'done') return { ...base, state: 'finished', collected: true, detail: null };
    const live = jobId ? states.get(jobId)?.get(unit.index) : undefined;
    const file = { content: files.get(unit.index), bad: bad.get(unit.index) };
    return {
      ...base,
      collected: false,
      ...unitState(unit, file, task, live, schedulerProblems.length === 0),
    };
  });
  // A bad file whose unit is running again will be replaced: it blocks nothing.
  const badFiles = units
    .filter((u) => bad.has(u.index) && u.state === 'failed')
    .map((u) => bad.get(u.index)!);
  return { row, cluster, units, files, schedulerProblems, badFiles };
}

function report(store: RunStore, inspected: Inspected, merged: number[]): ClusterReport {
  const { row, cluster, units } = inspected;
  const now = store.getExperiment(row.id)!;
  // A unit merged since it was inspected (by this collect, or by another at the same time) is in.
  const inStore = new Set(
    store
      .units(row.id)
      .filter((u) => u.status === 'done')
      .map((u) => u.index),
  );
  const counts = Object.fromEntries(CLUSTER_UNIT_STATES.map((s) => [s, 0])) as Record<UnitState, number>;
  for (const u of units) counts[u.state]++;
  return {
    experimentId: row.id,
    status: now.status,
    error: now.error,
    dir: cluster.dir,
    jobs: clusterJobs(store, row.id),
    units: units.map((u) => (inStore.has(u.index) ? { ...u, state: 'finished', collected: true } : u)),
    counts,
    merged,
    schedulerProblems: inspected.schedulerProblems,
    badFiles: inspected.badFiles,
  };
}

/** Where each unit stands; reads, never writes. */
export async function clusterStatus(
  store: RunStore,
  id: number,
  scheduler: Scheduler = slurm(),
): Promise<ClusterReport> {
  return report(store, await inspect(store, id, scheduler), []);
}

/** Phases ran side by side on separate nodes: a phase took the longest unit's time and trained them all. */
function addTimings(a: PhaseTiming[] | null, b: PhaseTiming[] | null): PhaseTiming[] | null {
  if (!a || !b || a.length !== b.length) return a ?? b;
  return a.map((t, i) => ({
    phase: t.phase,
    seconds: Math.max(t.seconds, b[i]!.seconds),
    modelSamples: t.modelSamples + b[i]!.modelSamples,
  }));
}

/**
 * Merges every finished, not yet collected unit into the store and updates the experiment: done when
 * every unit is, failed when none is left pending or running but some are not finished. A bad unit
 * file stops the whole collect before anything is written.
 */
export async function collectExperiment(
  store: RunStore,
  id: number,
  scheduler: Scheduler = slurm(),
): Promise<ClusterReport> {
  const inspected = await inspect(store, id, scheduler);
  if (inspected.badFiles.length > 0)
    throw new Error(
      `cannot collect experiment ${id}; nothing was merged:\n${inspected.badFiles.map((m) => `  ${m}`).join('\n')}\n` +
        `\`sublab submit --resume ${id}\` runs those units again (their files are replaced), or delete the files`,
    );
  // IMMEDIATE: the units still to merge are chosen under the write lock, so a collect running at the
  // same time either merged a unit before (skipped here) or waits until this one has.
  const merged = store.db
    .transaction(() => {
      refuseLocalRun(store, id);
      const done = new Set(
        store
          .units(id)
          .filter((u) => u.status === 'done')
          .map((u) => u.index),
      );
      const toMerge = inspected.units.filter((u) => u.state === 'finished' && !done.has(u.index));
      checkBackends(inspected, store.getExperiment(id)!.backend, toMerge);
      mergeUnits(store, inspected, toMerge);
      const indices = toMerge.map((u) => u.index);
      settle(store, inspected, indices);
      return indices;
    })
    .immediate();
  return report(store, inspected, merged);
}

/** Each unit's rows with its done mark, and its cells' timings so far. */
function mergeUnits(store: RunStore, inspected: Inspected, toMerge: readonly UnitReport[]): void {
  const id = inspected.row.id;
  for (const u of toMerge) {
    const content = inspected.files.get(u.index)!;
    store.importUnit(id, {
      index: u.index,
      startedAt: content.startedAt,
      finishedAt: content.finishedAt,
      cells: content.cells,
    });
    for (const cell of content.cells) {
      const row = store.cells(id).find((c) => c.index === cell.index)!;
      store.cellInProgress(row.id, addTimings(row.timings, cell.timings));
    }
  }
}

/** Every unit of an experiment must have trained on one backend, or its numbers are not one run's. */
function checkBackends(inspected: Inspected, stored: string | null, toMerge: readonly UnitReport[]): void {
  let backend = stored;
  for (const u of toMerge) {
    const content = inspected.files.get(u.index)!;
    if (backend === null) backend = content.backend;
    else if (content.backend !== backend)
      throw new Error(
        `cannot collect experiment ${inspected.row.id}; nothing was merged: unit ${u.index} trained on ${content.backend}, the others on ${backend}, so its numbers would not be this experiment's; ` +
          `delete ${sharedPaths(inspected.cluster.dir).unit(u.index)} and resubmit it (\`sublab submit --resume ${inspected.row.id}\`) on nodes with ${backend}`,
      );
  }
}

/** After merging: cells of fully merged groups are done; the experiment is done, failed or still running. */
function settle(store: RunStore, inspected: Inspected, merged: number[]): void {
  const row = store.getExperiment(inspected.row.id)!; // as it is now, not as inspected
  const units = store.units(row.id);
  const cells = store.cells(row.id);
  for (const cell of cells) {
    const own = units.filter((u) => u.cells.includes(cell.index));
    if (cell.status !== 'done' && own.every((u) => u.status === 'done'))
      store.finishCell(cell.id, 'done', { ...(cell.timings ? { timings: cell.timings } : {}) });
  }
  const first = merged.map((i) => inspected.files.get(i)!)[0];
  const fields = first ? { backend: first.backend, versions: first.versions } : {};
  if (first?.backend) store.setBackend(row.id, first.backend as BackendName);
  if (units.every((u) => u.status === 'done')) {
    if (row.status === 'done') return;
    const last = Math.max(...units.map((u) => Date.parse(u.finishedAt ?? '') || Date.now()));
    const wallSeconds = row.startedAt ? Math.max(0, (last - Date.parse(row.startedAt)) / 1000) : undefined;
    store.finishExperiment(row.id, 'done', {
      ...fields,
      ...(wallSeconds !== undefined ? { wallSeconds } : {}),
      error: null,
    });
    return;
  }
  const open = inspected.units.filter((u) => u.state === 'pending' || u.state === 'running');
  const unfinished = inspected.units.filter((u) => u.state === 'failed' || u.state === 'missing');
  if (open.length === 0 && unfinished.length > 0 && inspected.schedulerProblems.length === 0) {
    const error = `${unfinished.map((u) => `unit ${u.index} ${u.state}: ${u.detail}`).join('; ')}; \`sublab submit --resume ${row.id}\` resubmits them`;
    if (row.status !== 'failed' || row.error !== error || merged.length > 0)
      store.finishExperiment(row.id, 'failed', { ...fields, error });
  }
}

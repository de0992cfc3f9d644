// The API handler table with real handlers, a real SQLite store and real training: what both
// transports (Electron IPC, browser-mode WebSocket) call, including payloads that must be refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApiEvent, ExperimentDetail, JobState, SeriesPage } from '../../app/api.ts';
import { loadSeries } from '../../app/series.ts';
import { API_METHODS, ApiError } from '../../app/api.ts';
import { expandMatrix } from '../../app/matrix.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import { tinyClassifierSpec } from '../../app/testing/tiny-spec.ts';
import { RunStore } from '../store/store.ts';
import { FINISHED_JOBS_KEPT, LabService } from './service.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-service-'));
const spec = {
  version: 1,
  name: 'service',
  tags: ['t1'],
  dataset: { name: 'mnist', trainSize: 1500, testLimit: 300 },
  model: { hidden: [32] },
  teacher: { epochs: 2, batchSize: 100 },
  student: { epochs: 1, batchSize: 100, inputs: { kind: 'uniform', count: 1000 } },
  replicates: 2,
  lossEvery: 1,
};

function lab(name: string) {
  const store = new RunStore(join(dir, `${name}.sqlite`));
  const service = new LabService({
    store,
    backend: 'wasm',
    cacheDir: join(dir, 'cache'),
    mode: 'browser',
    workers: 1,
  });
  return { store, service };
}

function until(service: LabService, done: (jobs: JobState[]) => boolean): Promise<JobState[]> {
  return new Promise((resolve) => {
    const off = service.onEvent((e) => {
      if (e.type === 'jobs' && done(e.jobs)) {
        off();
        resolve(e.jobs);
      }
    });
  });
}

test('every method of the contract has a handler', () => {
  const { service, store } = lab('table');
  assert.deepEqual(Object.keys(service.handlers).sort(), [...API_METHODS].sort());
  store.close();
});

test('invalid payloads are refused with a message naming the method and field', async () => {
  const { service, store } = lab('invalid');
  const refused = async (method: string, input: unknown, pattern: RegExp) =>
    assert.rejects(service.call(method, input), (e: Error) => {
      assert.match(e.message, pattern);
      return true;
    });
  await refused('fs.readFile', { path: '/etc/passwd' }, /unknown API method "fs.readFile"/);
  await refused('experiments.get', { id: 'one' }, /invalid input for experiments.get: id: .*number/);
  await refused('experiments.get', { id: -3 }, /experiments.get: id/);
  await refused('experiments.get', { id: 1, extra: true }, /Unrecognized key.*extra/i);
  await refused('experiments.list', { anything: 1 }, /invalid input for experiments.list/);
  await refused('experiments.update', { id: 1, tags: [''] }, /tags/);
  await refused('experiments.get', { id: 99 }, /no experiment with id 99/);
  await refused('runs.cancel', { jobId: 5 }, /no job 5/);
  await refused('cluster.collect', { id: 'one' }, /invalid input for cluster.collect: id: .*number/);
  await refused('cluster.status', { id: 1, dir: '/etc' }, /Unrecognized key.*dir/i);
  await refused('cluster.collect', { id: 99 }, /no experiment with id 99/);
  const local = store.createExperiment(mustValidate(spec), expandMatrix(mustValidate(spec)));
  await refused('cluster.status', { id: local }, /experiment \d+ was not submitted to a cluster/);
  store.db.prepare('DELETE FROM experiments WHERE id = ?').run(local);
  await refused(
    'runs.start',
    { spec: { ...spec, replicates: 1 } },
    /invalid experiment spec: replicates: .*2/,
  );
  await refused('runs.start', { spec: { ...spec, teacher: { epochs: 0 } } }, /teacher.epochs/);
  // wasm's heap cannot hold one replicate of 16 layers of 65,536 at a batch of 2^20
  const huge = {
    ...spec,
    model: { hidden: Array.from({ length: 16 }, () => 65536) },
    student: { ...spec.student, batchSize: 1 << 20 },
  };
  await assert.rejects(service.call('runs.start', { spec: huge }), (e: Error) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.method, 'runs.start');
    assert.match(e.message, /does not fit in memory: one replicate needs [\d.]+ TiB per trainer/);
    assert.match(
      e.message,
      /wasm allows [\d.]+ GiB of tensors \(its heap less a margin; needs [\d.]+ TiB\); free RAM [\d.]+ [MG]iB/,
    );
    return true;
  });
  assert.deepEqual(await service.call('experiments.list', null), []);
  assert.deepEqual(await service.call('runs.queue', null), []);
  await service.close();
  store.close();
});

test('a run through the service: queue, throttled live events, results, library edits, re-run match', async () => {
  const { service, store } = lab('run');
  const events: { at: number; event: ApiEvent }[] = [];
  service.onEvent((event) => events.push({ at: Date.now(), event }));
  const finished = until(service, (jobs) => jobs.length === 1 && jobs[0]!.status === 'done');
  const job = (await service.call('runs.start', { spec })) as JobState;
  assert.ok(['queued', 'running'].includes(job.status));
  assert.equal(job.cells, 1);
  const [done] = await finished;
  assert.equal(done!.status, 'done', done!.error ?? '');
  const id = done!.experimentId!;
  assert.ok(
    done!.progress.every((p) => p.step === p.totalSteps),
    JSON.stringify(done!.progress),
  );
  // The cell's teacher row (data loading, then the teacher) and its students' row.
  assert.deepEqual(
    done!.progress.map((p) => `${p.phase} ${p.cells.join(',')}`),
    ['teacher 0', 'students 0'],
  );

  // Pushes are coalesced: at most one of each kind per 100 ms (10 Hz).
  const jobsEvents = events.filter((e) => e.event.type === 'jobs').map((e) => e.at);
  for (let i = 1; i < jobsEvents.length; i++) assert.ok(jobsEvents[i]! - jobsEvents[i - 1]! >= 95);
  // The job's ETA has a value from its first push while running, and none once it ended.
  const running = events
    .flatMap((e) => (e.event.type === 'jobs' ? e.event.jobs : []))
    .filter((j) => j.status === 'running');
  assert.ok(running.length > 0);
  assert.ok(
    running.every((j) => Number.isFinite(j.etaSeconds) && j.etaSeconds! >= 0),
    JSON.stringify(running.map((j) => j.etaSeconds)),
  );
  // One story: the job's time left is what its rows say, added up (one cell: its teacher row and
  // its students' row), and every row says one from the moment the runner plans them.
  const withRows = running.filter((j) => j.progress.length > 0);
  assert.ok(withRows.length > 0);
  for (const j of withRows) {
    assert.ok(
      j.progress.every((p) => Number.isFinite(p.etaSeconds)),
      JSON.stringify(j.progress),
    );
    const sum = j.progress.reduce((total, p) => total + p.etaSeconds!, 0);
    assert.ok(Math.abs(j.etaSeconds! - sum) < 1e-6, `headline ${j.etaSeconds} vs rows ${sum}`);
  }
  assert.equal(done!.etaSeconds, null);
  const metrics = events.flatMap((e) => (e.event.type === 'metrics' ? e.event.batches : []));
  assert.ok(metrics.some((b) => b.experimentId === id && b.rows.some((r) => r.name === 'loss')));

  const detail = (await service.call('experiments.get', { id })) as ExperimentDetail;
  assert.equal(detail.results.length, 2 * 6);
  assert.equal(detail.cellDetails[0]!.conditions['teacher']!.n, 2);
  // The machine and software of the run, recorded as it started, for the report.
  assert.deepEqual(
    detail.environments?.map((e) => [e.attempt, e.backend, e.cores]),
    [['start', detail.backend, availableParallelism()]],
  );
  assert.ok(
    detail.startedAt! <= detail.environments![0]!.recordedAt && detail.finishedAt! > detail.startedAt!,
  );
  const seriesOf = (request: { id: number; perSeed?: boolean }) =>
    loadSeries(request, (input) => service.call('experiments.series', input) as Promise<SeriesPage>);
  const series = await seriesOf({ id });
  const teacherLoss = series.find((s) => s.condition === 'teacher' && s.name === 'loss')!;
  assert.ok(teacherLoss.n.every((n) => n === 2));
  assert.ok(!('perSeed' in teacherLoss), 'seeds only when asked for');
  // Each seed's line on request, on the same steps, averaging to the mean.
  const seeded = await seriesOf({ id, perSeed: true });
  const seededLoss = seeded.find((s) => s.condition === 'teacher' && s.name === 'loss')!;
  assert.deepEqual(
    seededLoss.perSeed!.map((l) => [l.replicate, l.values.length]),
    [
      [0, seededLoss.steps.length],
      [1, seededLoss.steps.length],
    ],
  );
  const [a, b] = seededLoss.perSeed!;
  seededLoss.mean.forEach((m, k) => assert.ok(Math.abs((a!.values[k]! + b!.values[k]!) / 2 - m) < 1e-9));

  await service.call('experiments.update', { id, notes: 'baseline', tags: ['paper', 'small'] });
  const [item] = (await service.call('experiments.list', null)) as { notes: string; tags: string[] }[];
  assert.equal(item!.notes, 'baseline');
  assert.deepEqual(item!.tags, ['paper', 'small']);

  const rerunDone = until(service, (jobs) => jobs.length === 2 && jobs[1]!.status === 'done');
  await service.call('runs.start', { spec: null, rerunOf: id });
  const rerun = (await rerunDone)[1]!;
  assert.equal(rerun.rerunOf, id);
  assert.deepEqual(rerun.comparison, { match: true, compared: 12, maxAbsDiff: 0, missing: 0 });
  assert.match(
    store.getExperiment(rerun.experimentId!)!.notes,
    new RegExp(`Re-run of #${id}: every result matches`),
  );

  await service.call('experiments.delete', { id });
  assert.equal(store.getExperiment(id), undefined);
  assert.equal(
    (store.db.prepare('SELECT count(*) AS n FROM cells WHERE experiment_id = ?').get(id) as { n: number }).n,
    0,
  );
  await service.close();
  store.close();
});

test('cancel stops a running job and the experiment is stored as cancelled', async () => {
  const { service, store } = lab('cancel');
  const started = until(
    service,
    (jobs) => jobs[0]?.progress.some((p) => p.phase === 'teacher' && p.step > 2) ?? false,
  );
  const job = (await service.call('runs.start', {
    spec: { ...spec, teacher: { epochs: 20, batchSize: 50 } },
  })) as JobState;
  await started;
  const ended = until(service, (jobs) => jobs[0]!.status === 'cancelled');
  await service.call('runs.cancel', { jobId: job.jobId });
  const [state] = await ended;
  assert.equal(store.getExperiment(state!.experimentId!)!.status, 'cancelled');
  await service.close();
  store.close();
});

test('a re-run validates the stored spec and runs on the stored backend, or says that it cannot', async () => {
  const { service, store } = lab('rerun-backend');
  const first = until(service, (jobs) => jobs[0]?.status === 'done');
  // Which backend a re-run takes does not depend on the size: the smallest spec that trains.
  await service.call('runs.start', { spec: tinyClassifierSpec('rerun-backend', { teacher: 1, student: 1 }) });
  const id = (await first)[0]!.experimentId!;
  assert.equal(store.getExperiment(id)!.backend, 'wasm');

  // Stored on cpu while this lab defaults to wasm: the re-run uses cpu, as its source did.
  store.db.prepare("UPDATE experiments SET backend = 'cpu' WHERE id = ?").run(id);
  store.db.prepare("UPDATE cells SET backend = 'cpu' WHERE experiment_id = ?").run(id);
  const onCpu = until(service, (jobs) => jobs[1]?.status === 'done');
  await service.call('runs.start', { spec: null, rerunOf: id });
  const cpuRun = (await onCpu)[1]!;
  assert.equal(cpuRun.backend, 'cpu');
  assert.equal(cpuRun.notice, null);

  // A backend this machine cannot start: the re-run says so and falls back to the lab's.
  store.db.prepare("UPDATE experiments SET backend = 'tensorflow' WHERE id = ?").run(id);
  const fallback = until(service, (jobs) => jobs[2]?.status === 'done');
  await service.call('runs.start', { spec: null, rerunOf: id });
  const wasmRun = (await fallback)[2]!;
  assert.equal(wasmRun.backend, 'wasm');
  assert.match(wasmRun.notice ?? '', /ran on tensorflow, which is not available here .*uses wasm/);
  assert.match(store.getExperiment(wasmRun.experimentId!)!.notes, /Note: experiment #\d+ ran on tensorflow/);

  // A stored spec the schema no longer accepts is refused before anything is queued.
  const broken = { ...store.getExperiment(id)!.spec, replicates: 1 };
  store.db.prepare('UPDATE experiments SET spec_json = ? WHERE id = ?').run(JSON.stringify(broken), id);
  await assert.rejects(
    service.call('runs.start', { spec: null, rerunOf: id }),
    new RegExp(`experiment #${id}'s stored spec no longer validates: replicates: .*Duplicate it`),
  );
  assert.equal(((await service.call('runs.queue', null)) as JobState[]).length, 3);
  await service.close();
  store.close();
});

test('runs.resume queues a resume of a cancelled run, which finishes it; a done run is refused', async () => {
  const { service, store } = lab('resume');
  const cancelled = until(service, (jobs) => jobs[0]!.status === 'cancelled');
  const first = (await service.call('runs.start', { spec })) as JobState;
  const sawStudents = until(service, (jobs) => jobs[0]!.progress.some((p) => p.phase === 'students'));
  await sawStudents;
  await service.call('runs.cancel', { jobId: first.jobId });
  const [stopped] = await cancelled;
  const id = stopped!.experimentId!;
  assert.equal(store.getExperiment(id)!.status, 'cancelled');
  assert.equal(store.units(id)[0]!.status, 'cancelled');

  const resumed = until(service, (jobs) => jobs.length === 2 && ['done', 'failed'].includes(jobs[1]!.status));
  const job = (await service.call('runs.resume', { id })) as JobState;
  assert.equal(job.resumeOf, id);
  await assert.rejects(service.call('runs.resume', { id }), /already queued to resume/);
  const [, end] = await resumed;
  assert.equal(end!.status, 'done', end!.error ?? '');
  assert.equal(end!.experimentId, id, 'the resume finishes the same experiment');
  assert.equal(store.getExperiment(id)!.status, 'done');
  assert.deepEqual(
    store.units(id).map((u) => u.status),
    ['done'],
  );
  assert.equal(store.results(store.cells(id)[0]!.id).length, 6 * 2);
  await assert.rejects(
    service.call('runs.resume', { id }),
    /experiment \d+ is already done; nothing to resume/,
  );
  await service.close();
  store.close();
});

/** A job that trains long enough for others to wait behind it (cancelled by the test). */
const longSpec = { ...spec, teacher: { epochs: 20, batchSize: 50 } };

test("a queued re-run's source cannot be deleted; deleted by another process, the re-run still ends done", async () => {
  const { service, store } = lab('rerun-delete');
  // The source is only read for its spec and backend, and is deleted before it is compared: a stored
  // row stands for a finished run, and the re-run is what trains.
  const id = store.createExperiment(mustValidate(spec), expandMatrix(mustValidate(spec)));
  store.db.prepare("UPDATE experiments SET status = 'done', backend = 'wasm' WHERE id = ?").run(id);
  const blocker = (await service.call('runs.start', { spec: longSpec })) as JobState;
  const rerun = (await service.call('runs.start', { spec: null, rerunOf: id })) as JobState;
  assert.equal(rerun.status, 'queued');
  await assert.rejects(
    service.call('experiments.delete', { id }),
    new RegExp(
      `experiment #${id} cannot be deleted: job ${rerun.jobId} \\(queued\\) re-runs it and compares its results against it; cancel that job or let it finish, then delete`,
    ),
  );
  assert.ok(store.getExperiment(id), 'nothing was deleted');

  // Another process sharing the store deletes it all the same: the re-run's results stand, uncompared.
  const other = new RunStore(store.path);
  other.deleteExperiment(id);
  other.close();
  const ended = until(service, (jobs) => ['done', 'failed'].includes(jobs[1]?.status ?? ''));
  await service.call('runs.cancel', { jobId: blocker.jobId });
  const end = (await ended)[1]!;
  assert.equal(end.status, 'done', end.error ?? '');
  assert.equal(store.getExperiment(end.experimentId!)!.status, 'done');
  assert.equal(end.comparison, null);
  assert.match(end.notice ?? '', new RegExp(`experiment #${id} was deleted before this re-run finished`));
  assert.match(store.getExperiment(end.experimentId!)!.notes, /deleted before it finished: not compared/);
  await service.call('experiments.delete', { id: end.experimentId! });
  await service.close();
  store.close();
});

test(`the queue keeps the last ${FINISHED_JOBS_KEPT} finished jobs, by when they finished, and every queued or running one`, async () => {
  const { service, store } = lab('prune');
  const long = (await service.call('runs.start', { spec: longSpec })) as JobState;
  const ids: number[] = [];
  for (let i = 0; i < FINISHED_JOBS_KEPT + 5; i++) {
    const job = (await service.call('runs.start', { spec })) as JobState;
    ids.push(job.jobId);
    await service.call('runs.cancel', { jobId: job.jobId });
  }
  const held = () =>
    (service.call('runs.queue', null) as Promise<JobState[]>).then((q) => q.map((j) => j.jobId));
  assert.deepEqual(await held(), [long.jobId, ...ids.slice(5)], 'the running job and the last 50 cancelled');
  const ended = until(service, (jobs) => jobs.every((j) => j.status === 'cancelled'));
  await service.call('runs.cancel', { jobId: long.jobId });
  const pushed = await ended;
  // The long job finished last: it stays, the oldest cancelled one goes.
  assert.deepEqual(
    pushed.map((j) => j.jobId),
    [long.jobId, ...ids.slice(6)],
  );
  assert.deepEqual(await held(), [long.jobId, ...ids.slice(6)]);
  await service.close();
  store.close();
});

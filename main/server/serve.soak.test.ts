// A soak of `sublab serve` (a real server process): 50 WebSocket clients call experiments.list,
// experiments.series and runs.queue for SUBLAB_SOAK_SECONDS (default 60) while tiny jobs train one
// after another. No call fails, every job trained under load gives exactly the results and curves of
// the same spec trained before the load, and the server's memory stays under a stated bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CompareResult, JobState, SeriesData, SeriesPage } from '../../app/api.ts';
import { loadSeries } from '../../app/series.ts';
import { tinyClassifierSpec } from '../../app/testing/tiny-spec.ts';
import { RunStore } from '../store/store.ts';
import { syntheticExperiment } from '../store/testing/synthetic-metrics.ts';
import { SocketClient as Client, startServe } from './testing/serve-process.ts';

const root = new URL('../../', import.meta.url).pathname;
const SOAK_SECONDS = Number(process.env['SUBLAB_SOAK_SECONDS'] ?? 60);
const CLIENTS = 50;
/** Each client waits this long between its calls (one at a time): a page polling, not a flood. */
const PAUSE_MS = 20;
const MIB = 1024 * 1024;
/**
 * What the serve process (its series worker thread included; trainers are processes of their own)
 * may grow under the soak over its size after a first job (about 200 MiB). Measured: up to 170 MiB at
 * the top of V8's collection sawtooth, falling back to about 60 MiB after it, over 60 and 120 s.
 */
const MAX_SERVE_RSS_GROWTH = 256 * MIB;

const spec = tinyClassifierSpec('trained under a soak');

/** An experiment's series, every page of it, through `client`; `pages` hears each page asked for. */
function series(
  client: Client,
  input: { id: number; cell?: number; perSeed?: boolean },
  pages?: () => void,
): Promise<SeriesData[]> {
  return loadSeries(input, async (i) => {
    pages?.();
    return client.call<SeriesPage>('experiments.series', i);
  });
}

function rssOf(pid: number): number {
  if (process.platform === 'linux') {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return Number(kb) * 1024;
  }
  return (
    Number(
      execFileSync('ps', ['-o', 'rss=', '-p', String(pid)])
        .toString()
        .trim(),
    ) * 1024
  );
}

/** Trains the spec through `client`; `onExperiment` hears its experiment's id as soon as it has one. */
async function trainToEnd(client: Client, onExperiment: (id: number) => void = () => {}): Promise<number> {
  const job = await client.call<JobState>('runs.start', { spec });
  for (;;) {
    const state = (await client.call<JobState[]>('runs.queue', null)).find((j) => j.jobId === job.jobId)!;
    if (state.experimentId !== null) onExperiment(state.experimentId);
    if (state.status !== 'queued' && state.status !== 'running') {
      assert.equal(state.status, 'done', state.error ?? '');
      return state.experimentId!;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

const METHODS = ['experiments.list', 'experiments.series', 'runs.queue'] as const;
type Counts = Record<(typeof METHODS)[number], number>;

/**
 * One client's loop until `done()`: the list, series (an experiment's means, or one cell's seeds, of
 * the stored experiment, the unloaded run or the job training now), the queue. A failed call ends
 * the loop and is reported.
 */
async function soakClient(client: Client, k: number, targets: () => number[], done: () => boolean) {
  const counts: Counts = { 'experiments.list': 0, 'experiments.series': 0, 'runs.queue': 0 };
  const page = () => counts['experiments.series']++;
  try {
    for (let i = k; !done(); i++) {
      const ids = targets();
      const id = ids[(i >> 2) % ids.length]!;
      const method = METHODS[i % 3]!;
      if (method === 'experiments.series')
        await series(client, i % 2 ? { id } : { id, cell: (i >> 1) % 2, perSeed: true }, page);
      else {
        await client.call(method, null);
        counts[method]++;
      }
      await new Promise((r) => setTimeout(r, PAUSE_MS));
    }
    return { counts, error: null };
  } catch (error) {
    return { counts, error: (error as Error).message };
  }
}

test(
  `sublab serve under ${CLIENTS} clients for ${SOAK_SECONDS} s while jobs train: no error, the same results, bounded memory`,
  { timeout: (SOAK_SECONDS + 240) * 1000 },
  async (t) => {
    assert.ok(
      existsSync(join(root, 'out/renderer/index.html')),
      'sublab serve needs the built UI: run npm run build:renderer first',
    );
    const dir = mkdtempSync(join(tmpdir(), 'sublab-soak-'));
    const db = join(dir, 'runs.sqlite');
    // A stored experiment whose series take several groups and, with the seeds, some hundred kB.
    const store = new RunStore(db);
    const stored = syntheticExperiment(store, 'stored curves', {
      cells: 2,
      conditions: ['teacher', 'student', 'cross_init'],
      names: ['loss', 'test_accuracy'],
      steps: 200,
      replicates: 20,
    });
    store.close();
    const serve = await startServe(
      db,
      { ...process.env, SUBLAB_CACHE_DIR: join(dir, 'cache') },
      ['--backend', 'cpu', '--workers', '1'],
      true,
    );
    const clients: Client[] = [];
    try {
      const control = await Client.open(serve.port, serve.token);
      const unloaded = await trainToEnd(control);
      const baselineRss = rssOf(serve.child.pid!);

      clients.push(
        ...(await Promise.all(Array.from({ length: CLIENTS }, () => Client.open(serve.port, serve.token)))),
      );
      const started = Date.now();
      const deadline = started + SOAK_SECONDS * 1000;
      let peakRss = baselineRss;
      const trace: number[] = [];
      const sampler = setInterval(() => {
        const rss = rssOf(serve.child.pid!);
        peakRss = Math.max(peakRss, rss);
        if (trace.length * 5000 <= Date.now() - started) trace.push(+(rss / MIB).toFixed(0));
      }, 250);
      const loaded: number[] = [];
      let training: number | null = null;
      let soaking = true;
      const soak = Promise.all(
        clients.map((c, k) =>
          soakClient(
            c,
            k,
            () => [stored, unloaded, ...(training ? [training] : [])],
            () => !soaking,
          ),
        ),
      );
      // Jobs back to back until the deadline; the clients stop when the last one is done.
      try {
        while (Date.now() < deadline) loaded.push(await trainToEnd(control, (id) => (training = id)));
      } finally {
        soaking = false;
      }
      const ended = await soak;
      clearInterval(sampler);
      peakRss = Math.max(peakRss, rssOf(serve.child.pid!));

      const total: Counts = { 'experiments.list': 0, 'experiments.series': 0, 'runs.queue': 0 };
      for (const { counts } of ended) for (const m of METHODS) total[m] += counts[m];
      t.diagnostic(
        JSON.stringify({
          soakSeconds: SOAK_SECONDS,
          jobsUnderLoad: loaded.length,
          calls: total,
          baselineRssMiB: +(baselineRss / MIB).toFixed(1),
          peakRssMiB: +(peakRss / MIB).toFixed(1),
          rssEvery5sMiB: trace,
        }),
      );
      assert.deepEqual(
        ended.flatMap((e) => (e.error ? [e.error] : [])),
        [],
      );
      assert.ok(loaded.length >= 1 && Object.values(total).every((n) => n >= CLIENTS), JSON.stringify(total));
      const reference = await series(control, { id: unloaded });
      for (const id of loaded) {
        const same = await control.call<CompareResult>('experiments.compare', { a: unloaded, b: id });
        assert.ok(same.match && same.compared === 12, `#${id} vs #${unloaded}: ${JSON.stringify(same)}`);
        assert.deepEqual(await series(control, { id }), reference, `the curves of #${id}`);
      }
      assert.ok(
        peakRss - baselineRss <= MAX_SERVE_RSS_GROWTH,
        `sublab serve grew from ${(baselineRss / MIB).toFixed(0)} to ${(peakRss / MIB).toFixed(0)} MiB`,
      );
    } finally {
      for (const c of clients) c.ws.close();
      serve.child.kill('SIGINT');
      await new Promise((done) => serve.child.once('exit', done));
    }
  },
);

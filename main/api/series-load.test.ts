// experiments.series against a store of 2 M metric rows while a real job trains: every reply stays
// under its byte cap, the process grows by a bounded amount, and the thread that runs jobs keeps
// beating the job's heartbeat on time (the series are read in a worker thread, page by page).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobState } from '../../app/api.ts';
import { tinyClassifierSpec } from '../../app/testing/tiny-spec.ts';
import { MAX_SERIES_REPLY_BYTES } from '../store/series-query.ts';
import { HEARTBEAT_INTERVAL_MS, RunStore } from '../store/store.ts';
import { metricRowCount, syntheticExperiment } from '../store/testing/synthetic-metrics.ts';
import { LabService } from './service.ts';

const MIB = 1024 * 1024;
/** A heartbeat may come this much later than its interval (a busy 2-core CI machine), no more. */
const HEARTBEAT_SLACK_MS = 1500;
/** What reading every page may add to the process (RSS, worker thread included) over its baseline. */
const MAX_RSS_GROWTH = 256 * MIB;
/** ... and to main's JavaScript heap. */
const MAX_HEAP_GROWTH = 128 * MIB;

const SHAPE = {
  cells: 4,
  conditions: ['reference', 'teacher', 'student', 'cross_init', 'cross_init_all_logits'],
  names: ['loss', 'test_accuracy'],
  steps: 1000,
  replicates: 50,
};

// Trains until it is cancelled once the reads are done, so it runs through all of them.
const trainingSpec = tinyClassifierSpec('trains beside the reads', { teacher: 10_000, student: 100 });

async function until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Every distinct heartbeat the runner writes as the store holds it, main's peak memory, and the
 * longest main went without running a timer (sampled every 20 ms, and once more when stopped).
 */
function watch(store: RunStore, experimentId: number) {
  const beats: number[] = [];
  const peak = { rss: 0, heap: 0 };
  let last = Date.now();
  let stallMs = 0;
  const sample = () => {
    const now = Date.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
    const at = store.getExperiment(experimentId)?.heartbeatAt;
    if (at && at !== beats.at(-1)) beats.push(at);
    const m = process.memoryUsage();
    peak.rss = Math.max(peak.rss, m.rss);
    peak.heap = Math.max(peak.heap, m.heapUsed);
  };
  const timer = setInterval(sample, 20);
  return {
    beats,
    peak,
    sample,
    stop: () => {
      sample();
      clearInterval(timer);
      return { stallMs, stoppedAt: last };
    },
  };
}

test(
  'experiments.series on 2 M metric rows: replies under the cap, bounded memory, and the heartbeat of a running job on time',
  { timeout: 240_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'sublab-series-load-'));
    const store = new RunStore(join(dir, 'runs.sqlite'));
    const big = syntheticExperiment(store, 'two million rows', SHAPE);
    const rows = store.db.prepare('SELECT count(*) FROM metrics').pluck().get() as number;
    assert.equal(rows, metricRowCount(SHAPE));
    assert.equal(rows, 2_000_000);
    const service = new LabService({
      store,
      backend: 'cpu',
      cacheDir: join(dir, 'cache'),
      mode: 'browser',
      workers: 1,
    });
    try {
      const job = (await service.call('runs.start', { spec: trainingSpec })) as JobState;
      const queue = () =>
        (service.handlers['runs.queue'](null) as JobState[]).find((j) => j.jobId === job.jobId)!;
      const experimentId = await until(() => queue().experimentId ?? undefined, 60_000, 'the job');
      await until(() => store.getExperiment(experimentId)?.heartbeatAt ?? undefined, 30_000, 'a heartbeat');

      global.gc?.();
      const base = process.memoryUsage();
      const watching = watch(store, experimentId);
      const replies: number[] = [];
      const errors: string[] = [];
      const started = Date.now();
      // The whole experiment's means, then each cell's seeds: what Results and Replay ask for.
      const requests = [{ id: big }, ...[0, 1, 2, 3].map((cell) => ({ id: big, cell, perSeed: true }))];
      let groups = 0;
      for (const request of requests) {
        let from: unknown;
        for (let page = 0; page < 100; page++) {
          try {
            const reply = (await service.call('experiments.series', {
              ...request,
              ...(from ? { from } : {}),
            })) as {
              series?: unknown[];
              next?: unknown;
            };
            watching.sample();
            replies.push(Buffer.byteLength(JSON.stringify(reply)));
            groups += reply.series?.length ?? 0;
            from = reply.next;
          } catch (error) {
            errors.push((error as Error).message);
            from = undefined;
          }
          if (!from) break;
        }
      }
      const readSeconds = (Date.now() - started) / 1000;
      const { stallMs, stoppedAt } = watching.stop();
      const stillRunning = queue().status === 'running';
      await service.call('runs.cancel', { jobId: job.jobId });

      // From the last beat before the reads to the end of them: no beat may come late, nor be missing.
      const window = [
        ...watching.beats.filter((b) => b >= started - HEARTBEAT_INTERVAL_MS - HEARTBEAT_SLACK_MS),
        stoppedAt,
      ];
      const gaps = window.slice(1).map((b, i) => b - window[i]!);
      const report = {
        readSeconds,
        replies: replies.length,
        largestReplyMiB: Math.max(...replies) / MIB,
        rssGrowthMiB: (watching.peak.rss - base.rss) / MIB,
        heapGrowthMiB: (watching.peak.heap - base.heapUsed) / MIB,
        heartbeatGapsMs: gaps,
        mainStallMs: stallMs,
      };
      t.diagnostic(JSON.stringify(report));
      assert.ok(stillRunning, 'the job outlasted the reads, so every heartbeat above was due');
      assert.ok(
        Math.max(...gaps) <= HEARTBEAT_INTERVAL_MS + HEARTBEAT_SLACK_MS,
        `a heartbeat came ${Math.max(...gaps)} ms after the one before (interval ${HEARTBEAT_INTERVAL_MS} ms): ${JSON.stringify(report)}`,
      );
      assert.ok(stallMs <= HEARTBEAT_SLACK_MS, `main ran no timer for ${stallMs} ms`);
      assert.ok(watching.peak.rss - base.rss <= MAX_RSS_GROWTH, JSON.stringify(report));
      assert.ok(watching.peak.heap - base.heapUsed <= MAX_HEAP_GROWTH, JSON.stringify(report));
      assert.deepEqual(errors, []);
      assert.ok(Math.max(...replies) <= MAX_SERIES_REPLY_BYTES, JSON.stringify(report));
      assert.equal(groups, SHAPE.cells * SHAPE.conditions.length * SHAPE.names.length * 2);
      assert.ok(replies.length > requests.length, 'the seeds of a cell (10 MB) take more than one page');
    } finally {
      await service.close();
      store.close();
    }
  },
);

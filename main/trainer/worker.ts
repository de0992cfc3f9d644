// Trainer process entry: trains one cell and streams progress, metrics and results to its parent.
// It runs in its own process so that a driver crash or out-of-memory here fails one job, never the
// app or the run store (only the parent writes SQLite).
import * as tf from '@tensorflow/tfjs-core';
import type { FromTrainer, MetricRow, Phase, ToTrainer, TrainJob } from '../../app/protocol.ts';
import { parentChannel } from '../child.ts';
import { initBackend } from '../engine/backend.ts';
import { describeAbort, watchWasmAllocations } from '../engine/out-of-memory.ts';
import { layoutFor } from '../engine/ops.ts';
import { runGroup } from '../engine/procedure.ts';
import { cellSettings } from '../../app/matrix.ts';
import { loadDataset, studentImageLoader } from '../data/load.ts';

class Cancelled extends Error {}

const PROGRESS_INTERVAL_MS = 100;
const METRICS_INTERVAL_MS = 250;

let cancelled = false;
let started = false;
/** Where training was when it stopped, for an out-of-memory message. */
let position: { phase: Phase; step: number; totalSteps: number } = { phase: 'data', step: 0, totalSteps: 1 };

const parent = parentChannel<ToTrainer, FromTrainer>();
const send = parent.send;
const exit = parent.exit;

// Metric rows go out in batches; whatever is pending is sent before any final message.
let pending = new Map<number, MetricRow[]>();
let lastMetrics = performance.now();
async function flush(): Promise<void> {
  const batches = pending;
  pending = new Map();
  lastMetrics = performance.now();
  for (const [cell, rows] of batches) await send({ type: 'metrics', cell, rows });
}

async function run(job: TrainJob): Promise<void> {
  const backend = await initBackend(job.backend);
  watchWasmAllocations();
  await send({ type: 'ready', backend: backend.name, versions: backend.versions });
  await send({ type: 'phase', phase: 'data', totalSteps: 1 });
  // A group's cells share their dataset (it is part of the teacher key): the first cell's settings.
  const { dataset } = cellSettings(job.spec, job.cells[0]!);
  const data = loadDataset(dataset, job.cacheDir, job.datasetDir);
  const studentImages = studentImageLoader(dataset, job.cacheDir, job.datasetDir);

  let lastProgress = 0;
  const outcome = await runGroup({
    spec: job.spec,
    cells: job.cells,
    data,
    layout: layoutFor(tf.getBackend()),
    ...(job.replicates ? { shard: job.replicates } : {}),
    studentImages,
    hooks: {
      phase: (phase: Phase, totalSteps: number) => {
        position = { phase, step: 0, totalSteps };
        void flush();
        void send({ type: 'phase', phase, totalSteps });
      },
      progress: (phase, step, totalSteps) => {
        position = { phase, step, totalSteps };
        const t = performance.now();
        if (t - lastProgress >= PROGRESS_INTERVAL_MS || step === totalSteps) {
          lastProgress = t;
          void send({ type: 'progress', phase, step, totalSteps });
        }
      },
      metrics: (cell, rows) => {
        const list = pending.get(cell) ?? pending.set(cell, []).get(cell)!;
        list.push(...rows);
        if (performance.now() - lastMetrics >= METRICS_INTERVAL_MS) void flush();
      },
      checkpoint: async () => {
        // Synchronous backends never yield; this lets a cancel message in between steps.
        await new Promise((resolve) => setImmediate(resolve));
        if (cancelled) throw new Cancelled();
      },
    },
  });
  await flush();
  for (const [cell, rows] of outcome.results) await send({ type: 'results', cell, rows });
  await send({ type: 'done', timings: outcome.timings });
}

parent.onMessage((message) => {
  if (message.type === 'cancel') {
    cancelled = true;
    return;
  }
  if (message.type === 'probe') {
    initBackend(message.backend)
      .then((info) =>
        send({
          type: 'ready',
          backend: info.name,
          versions: info.versions,
          ...(info.limits ? { limits: info.limits } : {}),
        }),
      )
      .then(() => exit(0))
      .catch(async (error: unknown) => {
        await send({ type: 'error', message: (error as Error).message });
        exit(1);
      });
    return;
  }
  if (message.type !== 'start' || started) return;
  started = true;
  run(message.job)
    .then(() => exit(0))
    .catch(async (error: unknown) => {
      await flush();
      if (error instanceof Cancelled) {
        await send({ type: 'cancelled' });
        exit(0);
      }
      const e = error instanceof Error ? error : new Error(String(error));
      const oom = describeAbort(e, message.job, position);
      await send({
        type: 'error',
        message: oom?.message ?? e.message,
        ...(e.stack ? { stack: e.stack } : {}),
        ...(oom ? { outOfMemory: { replicates: oom.replicates } } : {}),
      });
      exit(1);
    });
});

// The parent went away (crashed or was killed): nobody can record our results, so stop.
process.on('disconnect', () => exit(2));

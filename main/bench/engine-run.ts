// One backend's share of `npm run bench`, in its own process (a TF.js backend is process-global,
// and a backend that crashes must not take the bench down). Prints one JSON object.
import * as tf from '@tensorflow/tfjs-core';
import { expandMatrix } from '../../app/matrix.ts';
import type { BackendName } from '../../app/protocol.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import { summarizeKept } from '../../app/stats.ts';
import { loadDataset } from '../data/load.ts';
import { initBackend } from '../engine/backend.ts';
import { layoutFor } from '../engine/ops.ts';
import { runCell } from '../engine/procedure.ts';

const [backend, specJson, cacheDir, shardJson] = process.argv.slice(2) as [
  BackendName,
  string,
  string,
  string?,
];
try {
  const info = await initBackend(backend);
  const spec = mustValidate(JSON.parse(specJson));
  const data = loadDataset(spec.dataset, cacheDir);
  const started = performance.now();
  const outcome = await runCell({
    spec,
    cell: expandMatrix(spec)[0]!,
    data,
    layout: layoutFor(tf.getBackend()),
    hooks: { phase: () => {}, progress: () => {}, metrics: () => {}, checkpoint: async () => {} },
    ...(shardJson ? { shard: JSON.parse(shardJson) as number[] } : {}),
    // The bench sets SUBLAB_FUSED=0 to measure the unfused WebGPU path beside the fused one.
    ...(process.env.SUBLAB_FUSED === '0' ? { fused: false } : {}),
  });

  const accuracy: Record<string, number> = {};
  for (const r of outcome.results) accuracy[r.condition] ??= 0;
  for (const c of Object.keys(accuracy)) {
    accuracy[c] = summarizeKept(outcome.results.filter((r) => r.condition === c).map((r) => r.accuracy)).mean;
  }
  process.stdout.write(
    JSON.stringify({
      ok: true,
      backend: info.name,
      versions: info.versions,
      timings: outcome.timings,
      accuracy,
      wallSeconds: (performance.now() - started) / 1000,
    }),
  );
} catch (error) {
  process.stdout.write(
    JSON.stringify({ ok: false, backend, error: (error as Error).message.replace(/\s*\n\s*/g, '; ') }),
  );
}
process.exit(0);

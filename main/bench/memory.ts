// Checks the memory estimate (app/memory.ts) against one trainer's real peak: trains the first
// group of a spec in this process on a backend and prints one JSON line with the estimate beside
// the measured peak tensor bytes (tf.profile's peakBytes) and the process's peak resident set above
// its baseline after the backend started (Linux /proc/self/status VmHWM - VmRSS).
//   node --import tsx main/bench/memory.ts SPEC.json [cpu|wasm] [cacheDir]
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { estimateTrainerMemory } from '../../app/memory.ts';
import { expandMatrix, groupCells } from '../../app/matrix.ts';
import type { BackendName } from '../../app/protocol.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import { loadDataset, studentImageLoader } from '../data/load.ts';
import { initBackend } from '../engine/backend.ts';
import { layoutFor } from '../engine/ops.ts';
import { runGroup } from '../engine/procedure.ts';
import { defaultCacheDir } from '../cli/paths.ts';

function status(field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  if (!line) throw new Error(`no ${field} in /proc/self/status (Linux only)`);
  return Number(line.split(/\s+/)[1]) * 1024;
}

const [file, backend = 'cpu', cacheDir = defaultCacheDir()] = process.argv.slice(2) as [
  string,
  BackendName?,
  string?,
];
if (!file) throw new Error('usage: memory.ts SPEC.json [cpu|wasm] [cacheDir]');
const spec = mustValidate(JSON.parse(readFileSync(file, 'utf8')));
await initBackend(backend);
const baseline = status('VmRSS');
const data = loadDataset(spec.dataset, cacheDir);
const studentImages = studentImageLoader(spec.dataset, cacheDir);
const cells = groupCells(expandMatrix(spec))[0]!;
const started = performance.now();
// tf.profile's function must return tensors: the outcome is not needed, only the peak.
const profile = await tf.profile(async () => {
  await runGroup({
    spec,
    cells,
    data,
    layout: layoutFor(tf.getBackend()),
    studentImages,
    hooks: { phase: () => {}, progress: () => {}, metrics: () => {}, checkpoint: async () => {} },
  });
  return [];
});
const estimate = estimateTrainerMemory(spec, spec.replicates);
const MiB = (x: number) => Math.round((x / 2 ** 20) * 10) / 10;
process.stdout.write(
  `${JSON.stringify({
    spec: spec.name,
    backend,
    replicates: spec.replicates,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    estimateMiB: Object.fromEntries(
      (
        ['parameters', 'optimizer', 'gradients', 'activations', 'data', 'inputs', 'total', 'tensors'] as const
      ).map((k) => [k, MiB(estimate[k])]),
    ),
    measuredMiB: {
      peakTensors: MiB(profile.peakBytes),
      peakRssAboveBaseline: MiB(status('VmHWM') - baseline),
    },
  })}\n`,
);

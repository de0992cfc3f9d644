// `npm run bench -- --full`: the paper's whole experiment (experiments/paper-mnist.json) through
// our real run path (trainer processes, run store) on the best backend, and the same experiment in
// PyTorch on the same machine, in the same run: wall times, accuracies and the ratio ours / PyTorch.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackendChoice } from '../../app/protocol.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import { probeBackend, runExperiment } from '../jobs/run-experiment.ts';
import { summarizeExperiment } from '../jobs/summary.ts';
import { RunStore } from '../store/store.ts';
import { peerEnv } from './peer-env.ts';

export interface FullResult {
  backend: string;
  replicates: number;
  ours: { wallSeconds: number; accuracy: Record<string, number> };
  pytorch: { wallSeconds: number; accuracy: Record<string, number> } | { error: string };
  ratio: number | null;
}

export async function fullBench(options: {
  backend: BackendChoice;
  replicates?: number;
  cacheDir: string;
  python: string;
  /** Why the peer cannot run (peer-check.ts): then it is not started, and this is its error. */
  peerMissing: string | null;
  torchScript: string;
  torchData: string;
  log: (line: string) => void;
}): Promise<FullResult> {
  const specFile = new URL('../../experiments/paper-mnist.json', import.meta.url);
  const backend = await probeBackend(options.backend, {});
  // N=100 as in the paper on a GPU; the N=8 on the CPU backends.
  const replicates = options.replicates ?? (backend === 'wasm' || backend === 'cpu' ? 8 : 100);
  const spec = mustValidate({ ...JSON.parse(readFileSync(specFile, 'utf8')), replicates });

  options.log(`ours: paper-mnist.json, N=${replicates}, ${backend}...`);
  const store = new RunStore(join(mkdtempSync(join(tmpdir(), 'sublab-full-')), 'bench.sqlite'));
  const outcome = await runExperiment(store, spec, { backend, cacheDir: options.cacheDir });
  if (outcome.status !== 'done') throw new Error(`our run ${outcome.status}: ${outcome.error ?? ''}`);
  const summary = summarizeExperiment(store, outcome.experimentId);
  store.close();
  const ours = {
    wallSeconds: outcome.wallSeconds,
    accuracy: Object.fromEntries(Object.entries(summary.cells[0]!.conditions).map(([c, s]) => [c, s.mean])),
  };

  if (options.peerMissing)
    return { backend, replicates, ours, pytorch: { error: options.peerMissing }, ratio: null };
  options.log(`pytorch: the same experiment, N=${replicates}...`);
  const started = performance.now();
  const r = spawnSync(
    options.python,
    [
      options.torchScript,
      '--data',
      options.torchData,
      '--replicates',
      String(replicates),
      '--teacher-epochs',
      String(spec.teacher.epochs),
      '--student-epochs',
      String(spec.student.epochs),
      '--noise',
      String(spec.student.inputs.count),
      '--batch',
      String(spec.teacher.batchSize),
      '--threads',
      String(availableParallelism()),
    ],
    { encoding: 'utf8', env: peerEnv() },
  );
  const torchWall = (performance.now() - started) / 1000;
  const pytorch: FullResult['pytorch'] =
    r.status === 0
      ? {
          wallSeconds: torchWall,
          accuracy: (JSON.parse(r.stdout) as { accuracy: Record<string, number> }).accuracy,
        }
      : { error: (r.stderr || String(r.error ?? 'failed')).trim().split('\n').slice(-1)[0]! };
  return {
    backend,
    replicates,
    ours,
    pytorch,
    ratio: 'wallSeconds' in pytorch ? ours.wallSeconds / pytorch.wallSeconds : null,
  };
}

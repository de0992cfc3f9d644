// Checks the memory estimate (app/memory.ts) against one trainer's real peak: trains the first
// group of a spec on a backend, once per stack size, each in a fresh process (the wasm heap only
// grows), and prints one JSON line per size with the estimate beside what was measured: the peak
// tensor bytes (as tf.profile counts them), on wasm the heap's final size (it never shrinks, and grows
// to at most the request + 96 MiB, so it bounds the allocator's high-water mark from above), and the
// process's peak resident set above its baseline after the backend started (Linux VmHWM - VmRSS).
//   node --import tsx main/bench/memory.ts SPEC.json [--backend wasm] [--replicates 1,4,8] [--short]
// --short keeps every shape (batch sizes, widths, test set, analysis) but trains one teacher epoch
// and two student steps: the peak of a run is that of its first steps, evaluation and analysis.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { estimateTrainerMemory } from '../../app/memory.ts';
import { expandMatrix, groupCells } from '../../app/matrix.ts';
import type { BackendName } from '../../app/protocol.ts';
import type { ExperimentSpec } from '../../app/spec/schema.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import { loadDataset, studentImageLoader } from '../data/load.ts';
import { initBackend, wasmHeapBytes } from '../engine/backend.ts';
import { layoutFor } from '../engine/ops.ts';
import { runGroup } from '../engine/procedure.ts';
import { defaultCacheDir } from '../cli/paths.ts';

export interface MemoryMeasurement {
  replicates: number;
  backend: string;
  seconds: number;
  /** The estimate's tensor bytes and total, for the replicates measured. */
  estimateTensors: number;
  estimateTotal: number;
  peakTensors: number;
  /** Per part of the run (a phase, then what follows each step): peak tensor bytes and wasm heap after it. */
  byPart: Record<string, { peakTensors: number; heap: number }>;
  /** wasm only: the heap's size after the run. */
  wasmHeap: number | null;
  peakRssAboveBaseline: number;
}

function procStatus(field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  if (!line) throw new Error(`no ${field} in /proc/self/status (Linux only)`);
  return Number(line.split(/\s+/)[1]) * 1024;
}

/** The spec at its shapes with the least training that still reaches every peak: see --short. */
export function shortened(spec: ExperimentSpec): ExperimentSpec {
  return mustValidate({
    ...spec,
    teacher: { ...spec.teacher, epochs: 1 },
    student: {
      ...spec.student,
      epochs: 1,
      inputs: {
        ...spec.student.inputs,
        count: Math.min(spec.student.inputs.count, 2 * spec.student.batchSize),
      },
    },
  });
}

/**
 * The peak of TF.js's tensor bytes, per labelled part of a run. tf.profile keeps a record of every
 * kernel (millions in a run, which its final Math.max(...) cannot spread); this sink for the same
 * records keeps only the maxima.
 */
function peakTracker() {
  interface Engine {
    state: { profiling: boolean; activeProfile: { kernels: unknown } };
  }
  const state = (tf.engine() as unknown as Engine).state;
  const parts = new Map<string, { peakTensors: number; heap: number }>();
  let current = 'data';
  let peak = 0;
  const close = () => {
    const part = parts.get(current) ?? { peakTensors: 0, heap: 0 };
    parts.set(current, { ...part, heap: wasmHeapBytes() });
  };
  state.activeProfile.kernels = {
    push: ({ totalBytesSnapshot: bytes }: { totalBytesSnapshot: number }) => {
      peak = Math.max(peak, bytes);
      const part = parts.get(current) ?? { peakTensors: 0, heap: 0 };
      if (bytes > part.peakTensors) parts.set(current, { ...part, peakTensors: bytes });
    },
  };
  state.profiling = true;
  return {
    label(next: string) {
      close();
      current = next;
    },
    peak: () => peak,
    parts: () => Object.fromEntries(parts),
    stop() {
      close();
      state.profiling = false;
    },
  };
}

/** Trains the first `replicates` of the spec's first group in this process, as one trainer's shard. */
export async function measureInProcess(
  spec: ExperimentSpec,
  replicates: number,
  backend: BackendName,
  cacheDir: string,
): Promise<MemoryMeasurement> {
  await initBackend(backend);
  const baseline = procStatus('VmRSS');
  const data = loadDataset(spec.dataset, cacheDir);
  const studentImages = studentImageLoader(spec.dataset, cacheDir);
  const cells = groupCells(expandMatrix(spec))[0]!;
  const started = performance.now();
  const peaks = peakTracker();
  try {
    await runGroup({
      spec,
      cells,
      data,
      layout: layoutFor(tf.getBackend()),
      shard: Array.from({ length: replicates }, (_, r) => r),
      studentImages,
      hooks: {
        phase: (phase) => peaks.label(phase),
        progress: (phase, step) => peaks.label(`${phase} after step ${step}`),
        metrics: () => {},
        checkpoint: async () => {},
      },
    });
  } finally {
    peaks.stop();
  }
  const estimate = estimateTrainerMemory(spec, replicates);
  return {
    replicates,
    backend,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    estimateTensors: estimate.tensors,
    estimateTotal: estimate.total,
    peakTensors: peaks.peak(),
    byPart: peaks.parts(),
    wasmHeap: tf.getBackend() === 'wasm' ? wasmHeapBytes() : null,
    peakRssAboveBaseline: procStatus('VmHWM') - baseline,
  };
}

const MiB = (x: number | null) => (x === null ? null : Math.round((x / 2 ** 20) * 10) / 10);

function listOf(value: string): number[] {
  const list = value.split(',').map(Number);
  if (list.some((n) => !Number.isInteger(n) || n < 1))
    throw new InvalidArgumentError('expected comma-separated integers >= 1');
  return list;
}

async function main(): Promise<void> {
  const program = new Command()
    .argument('<spec>', 'experiment spec (JSON)')
    .option('--backend <name>', 'cpu or wasm', 'wasm')
    .option(
      '--replicates <list>',
      'stack sizes to measure, each in its own process (default: the spec)',
      listOf,
    )
    .option('--short', 'one teacher epoch and two student steps, at the same shapes')
    .option('--cache-dir <dir>', 'dataset cache directory', defaultCacheDir())
    .option('--child <replicates>', 'measure one size in this process (used by the parent)', Number)
    .parse();
  const [file] = program.args as [string];
  const opts = program.opts<{
    backend: BackendName;
    replicates?: number[];
    short?: boolean;
    cacheDir: string;
    child?: number;
  }>();
  // The parent hands each child its sized spec through the environment.
  const text = file === '-' ? (process.env.SUBLAB_BENCH_SPEC ?? '') : readFileSync(file, 'utf8');
  const spec = mustValidate(JSON.parse(text));
  if (opts.child) {
    // Caught here: the wasm glue's own uncaughtException handler would rethrow it as `undefined`.
    try {
      const measured = await measureInProcess(spec, opts.child, opts.backend, opts.cacheDir);
      process.stdout.write(`${JSON.stringify(measured)}\n`);
    } catch (error) {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    }
    return;
  }
  const sized = opts.short ? shortened(spec) : spec;
  for (const replicates of opts.replicates ?? [spec.replicates]) {
    if (replicates > spec.replicates) throw new Error(`at most the spec's ${spec.replicates} replicates`);
    const child = spawnSync(
      process.execPath,
      [
        ...process.execArgv,
        fileURLToPath(import.meta.url),
        '-',
        '--child',
        String(replicates),
        '--backend',
        opts.backend,
        '--cache-dir',
        opts.cacheDir,
      ],
      {
        input: '',
        encoding: 'utf8',
        env: { ...process.env, SUBLAB_BENCH_SPEC: JSON.stringify(sized) },
        maxBuffer: 2 ** 24,
      },
    );
    if (child.status !== 0) {
      process.stdout.write(
        `${JSON.stringify({ replicates, failed: child.stderr.trim().split('\n').slice(-3).join(' ') })}\n`,
      );
      continue;
    }
    const m = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as MemoryMeasurement;
    process.stdout.write(
      `${JSON.stringify({
        replicates: m.replicates,
        backend: m.backend,
        seconds: m.seconds,
        estimateMiB: { tensors: MiB(m.estimateTensors), total: MiB(m.estimateTotal) },
        measuredMiB: {
          peakTensors: MiB(m.peakTensors),
          wasmHeap: MiB(m.wasmHeap),
          peakRssAboveBaseline: MiB(m.peakRssAboveBaseline),
        },
        byPartMiB: Object.fromEntries(
          Object.entries(m.byPart).map(([k, v]) => [k, [MiB(v.peakTensors), MiB(v.heap)]]),
        ),
      })}\n`,
    );
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();

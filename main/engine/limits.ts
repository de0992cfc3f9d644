// What one trainer process may use, and whether a spec fits it: the memory check that refuses a
// spec before anything is stored, instead of letting a trainer die of out-of-memory mid-run.
import { availableParallelism, freemem, totalmem } from 'node:os';
import {
  estimateTrainerMemory,
  formatBytes,
  maxReplicatesWithin,
  type MemoryEstimate,
} from '../../app/memory.ts';
import type { BackendChoice, DeviceLimits } from '../../app/protocol.ts';
import type { ExperimentSpec } from '../../app/spec/schema.ts';
import { planShards } from '../jobs/shards.ts';
import { forkTrainer, probeTrainer, type ProbeAnswer, type TrainerSpawner } from '../trainer/spawn.ts';

/**
 * @tensorflow/tfjs-backend-wasm 4.22's Emscripten heap cannot grow past getHeapMax() =
 * 4294901760 bytes (65,535 pages of 64 KiB; wasm-out/tfjs-backend-wasm*.js), i.e. 4 GiB less
 * 64 KiB: every tensor of a wasm trainer lives there. JS arrays (datasets, host copies) do not.
 */
export const WASM_HEAP_MAX_BYTES = 4294901760;

/**
 * What a wasm trainer's heap holds besides the estimated tensors: the runtime, XNNPACK's packed
 * weights and scratch, allocator overhead and fragmentation. Measured at the paper's shapes
 * (main/bench/memory.ts, README "Memory"): the heap ended at most 91 MiB above the peak tensor bytes,
 * its last growth step included; this leaves room beyond that.
 */
export const WASM_HEAP_MARGIN_BYTES = 256 * 2 ** 20;

/** The tensor bytes a wasm trainer may hold: its heap's maximum less the margin. */
export const WASM_TENSOR_BYTES = WASM_HEAP_MAX_BYTES - WASM_HEAP_MARGIN_BYTES;

export interface TrainerLimits {
  backend: BackendChoice;
  /** The machine's free and total RAM (os.freemem / os.totalmem) when the check ran. */
  freeMemoryBytes: number;
  totalMemoryBytes: number;
  /** Bytes of tensors one trainer can hold: wasm's heap less a margin; null where only RAM bounds it or it is unknown. */
  tensorBytes: number | null;
  /** The largest single buffer (WebGPU's maxBufferSize / maxStorageBufferBindingSize); null if none. */
  maxBufferBytes: number | null;
}

/**
 * What is known without starting a backend. WebGPU reports no device memory, so on `webgpu` only
 * the buffer limits (from the adapter, see withDeviceLimits) and the host's RAM are checked.
 */
export function staticLimits(
  backend: BackendChoice,
  memory = { free: freemem(), total: totalmem() },
): TrainerLimits {
  return {
    backend,
    freeMemoryBytes: memory.free,
    totalMemoryBytes: memory.total,
    tensorBytes: backend === 'wasm' ? WASM_TENSOR_BYTES : null,
    maxBufferBytes: null,
  };
}

/** Limits plus a WebGPU adapter's, as a trainer's probe reports them. */
export function withDeviceLimits(limits: TrainerLimits, device: DeviceLimits | undefined): TrainerLimits {
  const sizes = [device?.maxBufferSize, device?.maxStorageBufferBindingSize].filter(
    (x): x is number => typeof x === 'number' && x > 0,
  );
  return sizes.length ? { ...limits, maxBufferBytes: Math.min(...sizes) } : limits;
}

export type FitResult =
  | { ok: true; maxReplicatesPerTrainer: number; shards: number[][]; estimate: MemoryEstimate }
  | { ok: false; error: string; estimate: MemoryEstimate };

/** Trainers run side by side (one per worker), so each gets its share of the free RAM. */
function ramPerTrainer(limits: TrainerLimits, workers: number): number {
  return limits.freeMemoryBytes / Math.max(1, workers);
}

function fits(e: MemoryEstimate, limits: TrainerLimits, workers: number): boolean {
  return (
    e.total <= ramPerTrainer(limits, workers) &&
    (limits.tensorBytes === null || e.tensors <= limits.tensorBytes) &&
    (limits.maxBufferBytes === null || e.largestTensor <= limits.maxBufferBytes)
  );
}

/** "needs 37.2 GiB per trainer (activations 30.1 GiB: ...); wasm allows 4 GiB; free RAM 20.3 GiB. Lower ..." */
function fitError(spec: ExperimentSpec, e: MemoryEstimate, limits: TrainerLimits, workers: number): string {
  const parts = (['activations', 'parameters', 'optimizer', 'gradients', 'data', 'inputs'] as const)
    .map((k) => ({ k, bytes: e[k] }))
    .sort((a, b) => b.bytes - a.bytes);
  const top = parts[0]!;
  const available: string[] = [];
  if (limits.tensorBytes !== null)
    available.push(
      `${limits.backend} allows ${formatBytes(limits.tensorBytes)} of tensors (its heap less a margin; needs ${formatBytes(e.tensors)})`,
    );
  if (limits.maxBufferBytes !== null)
    available.push(
      `the GPU's largest buffer is ${formatBytes(limits.maxBufferBytes)} (largest tensor ${formatBytes(e.largestTensor)})`,
    );
  const share =
    workers > 1 ? ` (${formatBytes(ramPerTrainer(limits, workers))} for each of ${workers} trainers)` : '';
  available.push(`free RAM ${formatBytes(limits.freeMemoryBytes)}${share}`);
  return (
    `experiment "${spec.name}" does not fit in memory: one replicate needs ${formatBytes(e.total)} per trainer ` +
    `(${top.k} ${formatBytes(top.bytes)}: ${e.why[top.k]}; an estimate); ${available.join('; ')}. ` +
    'Lower student.batchSize, teacher.batchSize or model.hidden, use fewer cells or fewer workers.'
  );
}

/**
 * Whether the spec fits a trainer under `limits` with `workers` trainers side by side; if the
 * replicates do not fit `workers` trainers, more (smaller) shards, as long as one replicate fits.
 * `maxShard`: at most this many replicates per trainer whatever the estimate says (the user's cap,
 * after a trainer ran out of memory all the same).
 */
export function checkFit(
  spec: ExperimentSpec,
  limits: TrainerLimits,
  workers: number,
  maxShard = Infinity,
): FitResult {
  const fused = limits.backend === 'webgpu';
  const cap = Math.min(spec.replicates, maxShard);
  const maxPer = maxReplicatesWithin(spec, cap, (e) => fits(e, limits, workers), { fused });
  if (maxPer === 0) {
    const estimate = estimateTrainerMemory(spec, 1, { fused });
    return { ok: false, error: fitError(spec, estimate, limits, workers), estimate };
  }
  const shards = planShards(spec.replicates, workers, maxPer);
  const largest = Math.max(...shards.map((s) => s.length));
  return {
    ok: true,
    maxReplicatesPerTrainer: maxPer,
    shards,
    estimate: estimateTrainerMemory(spec, largest, { fused }),
  };
}

/** The run's shards under this machine's static limits for `backend`; throws the fit error. */
export function fitShards(
  spec: ExperimentSpec,
  backend: BackendChoice,
  workers: number,
  maxShard = Infinity,
): number[][] {
  const fit = checkFit(spec, staticLimits(backend), workers, maxShard);
  if (!fit.ok) throw new Error(fit.error);
  return fit.shards;
}

/**
 * Trainers side by side when the user sets none, as runExperiment picks them: one per core on the
 * CPU backends, one on a GPU. `auto` is not resolved here (that needs a probe): counted as one.
 */
export function defaultWorkers(backend: BackendChoice): number {
  return backend === 'wasm' || backend === 'cpu' ? availableParallelism() : 1;
}

/**
 * Resolves `auto` and reads the WebGPU adapter's limits through a short-lived trainer (the only
 * process that starts backends); cpu and wasm need no probe.
 */
export function probeLimits(
  choice: BackendChoice,
  spawn: TrainerSpawner = forkTrainer,
): Promise<ProbeAnswer> {
  if (choice === 'cpu' || choice === 'wasm') return Promise.resolve({ backend: choice });
  return probeTrainer(choice, spawn);
}

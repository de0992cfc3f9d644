// Whether a spec fits one trainer process under a machine's limits, and the shards a run is cut into:
// the plan the runner follows (main/engine/limits.ts reads the limits of this machine) and the one
// the Designer shows, from the same function. No Node, no DOM.
import { estimateTrainerMemory, formatBytes, maxReplicatesWithin, type MemoryEstimate } from './memory.ts';
import type { BackendChoice } from './protocol.ts';
import type { ExperimentSpec } from './spec/schema.ts';
import { planShards } from './shards.ts';

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
 * The limits known without starting a backend, from the free and total RAM. WebGPU reports no
 * device memory, so on `webgpu` only the host's RAM is checked (main/engine/limits.ts
 * withDeviceLimits adds the adapter's buffer limits).
 */
export function limitsWithoutProbe(
  backend: BackendChoice,
  memory: { free: number; total: number },
): TrainerLimits {
  return {
    backend,
    freeMemoryBytes: memory.free,
    totalMemoryBytes: memory.total,
    tensorBytes: backend === 'wasm' ? WASM_TENSOR_BYTES : null,
    maxBufferBytes: null,
  };
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

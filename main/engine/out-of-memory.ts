// What a trainer reports when its backend runs out of memory. On wasm a failed allocation ends in
// Emscripten's abort(), whose whole message is "Aborted(). Build with -sASSERTIONS for more info.",
// or in "memory access out of bounds" where TF.js used the null pointer malloc returned: this names
// the cause and the sizes, so the runner can say what to change.
import * as tf from '@tensorflow/tfjs-core';
import { STUDENT_CONDITIONS } from '../../app/conditions.ts';
import { estimateTrainerMemory, formatBytes } from '../../app/memory.ts';
import type { Phase, TrainJob } from '../../app/protocol.ts';
import { wasmHeapBytes } from './backend.ts';
import { WASM_HEAP_MAX_BYTES } from './limits.ts';

/** The size of the last allocation TF.js's side of the wasm backend asked for and did not get. */
let failedAllocation: number | null = null;

/**
 * Watches the wasm backend's allocations made from JS (every tensor TF.js creates): malloc returns 0
 * when the heap cannot grow, and the kernel that writes there then fails with "memory access out of
 * bounds". Allocations inside the C++ kernels fail with abort() instead ("Aborted()").
 */
export function watchWasmAllocations(): void {
  if (tf.getBackend() !== 'wasm') return;
  const wasm = (tf.backend() as unknown as { wasm: WasmHeap }).wasm;
  // Emscripten's _malloc replaces itself with the real export on its first call: resolve it first.
  wasm._free(wasm._malloc(1));
  const malloc = wasm._malloc;
  wasm._malloc = (bytes: number) => {
    const at = malloc(bytes);
    if (at === 0 && bytes > 0) failedAllocation = bytes;
    return at;
  };
}

interface WasmHeap {
  _malloc(bytes: number): number;
  _free(at: number): void;
}

export interface OutOfMemory {
  message: string;
  /** Replicates the trainer held: a smaller shard than this is needed. */
  replicates: number;
}

/** The models a trainer holds: per replicate a teacher and 4 students per cell. */
function modelCount(job: TrainJob, replicates: number): number {
  return replicates * (1 + STUDENT_CONDITIONS.length * job.cells.length);
}

/** The out-of-memory description of `error`, or null when it is some other failure. */
export function describeAbort(
  error: Error,
  job: TrainJob,
  at: { phase: Phase; step: number; totalSteps: number },
  heapBytes = wasmHeapBytes(),
): OutOfMemory | null {
  if (tf.getBackend() !== 'wasm') return null;
  if (failedAllocation === null && !error.message.startsWith('Aborted(')) return null;
  const replicates = job.replicates?.length ?? job.spec.replicates;
  const estimate = estimateTrainerMemory(job.spec, replicates);
  const where =
    at.phase === 'data'
      ? 'before training'
      : `in the ${at.phase} phase after ${at.step} of ${at.totalSteps} steps`;
  const failed =
    failedAllocation === null ? '' : `, an allocation of ${formatBytes(failedAllocation)} failed,`;
  return {
    replicates,
    message:
      `wasm heap exhausted: ${replicates} replicates (${modelCount(job, replicates)} models) in one trainer, ` +
      `heap ${formatBytes(heapBytes)} of ${formatBytes(WASM_HEAP_MAX_BYTES)}${failed} ${where} ` +
      `(estimated ${formatBytes(estimate.tensors)} of tensors)`,
  };
}

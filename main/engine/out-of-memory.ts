// What a trainer reports when its backend runs out of memory. On wasm a failed allocation ends in
// Emscripten's abort(), whose whole message is "Aborted(). Build with -sASSERTIONS for more info.":
// this names the cause and the size that caused it, so the runner can say what to change.
import * as tf from '@tensorflow/tfjs-core';
import { STUDENT_CONDITIONS } from '../../app/conditions.ts';
import { estimateTrainerMemory, formatBytes } from '../../app/memory.ts';
import type { Phase, TrainJob } from '../../app/protocol.ts';
import { wasmHeapBytes } from './backend.ts';
import { WASM_HEAP_MAX_BYTES } from './limits.ts';

/**
 * An abort with the heap at least this full is taken as exhaustion: the allocation that failed may
 * have been large (a stack's activations are hundreds of MiB), so the heap need not be at its max.
 */
const EXHAUSTED_FRACTION = 0.75;

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
  heapBytes: number = wasmHeapBytes(),
): OutOfMemory | null {
  if (tf.getBackend() !== 'wasm' || !error.message.startsWith('Aborted(')) return null;
  if (heapBytes < EXHAUSTED_FRACTION * WASM_HEAP_MAX_BYTES) return null;
  const replicates = job.replicates?.length ?? job.spec.replicates;
  const estimate = estimateTrainerMemory(job.spec, replicates);
  const where =
    at.phase === 'data' ? 'before training' : `at ${at.phase} step ${at.step} of ${at.totalSteps}`;
  return {
    replicates,
    message:
      `wasm heap exhausted: ${replicates} replicates (${modelCount(job, replicates)} models) in one trainer, ` +
      `heap ${formatBytes(heapBytes)} of ${formatBytes(WASM_HEAP_MAX_BYTES)} ${where} ` +
      `(estimated ${formatBytes(estimate.tensors)} of tensors)`,
  };
}

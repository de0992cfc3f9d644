// What one trainer process may use, and whether a spec fits it: the memory check that refuses a
// spec before anything is stored, instead of letting a trainer die of out-of-memory mid-run. The
// check itself is app/fit.ts, shared with the Designer; this reads the limits of this machine.
import { availableParallelism, freemem, totalmem } from 'node:os';
import { checkFit, limitsWithoutProbe, type TrainerLimits } from '../../app/fit.ts';
import type { BackendChoice, DeviceLimits } from '../../app/protocol.ts';
import type { ExperimentSpec } from '../../app/spec/schema.ts';
import { forkTrainer, probeTrainer, type ProbeAnswer, type TrainerSpawner } from '../trainer/spawn.ts';

export {
  checkFit,
  WASM_HEAP_MARGIN_BYTES,
  WASM_HEAP_MAX_BYTES,
  WASM_TENSOR_BYTES,
  type FitResult,
  type TrainerLimits,
} from '../../app/fit.ts';

/** What is known of this machine without starting a backend (app/fit.ts limitsWithoutProbe). */
export function staticLimits(
  backend: BackendChoice,
  memory = { free: freemem(), total: totalmem() },
): TrainerLimits {
  return limitsWithoutProbe(backend, memory);
}

/** Limits plus a WebGPU adapter's, as a trainer's probe reports them. */
export function withDeviceLimits(limits: TrainerLimits, device: DeviceLimits | undefined): TrainerLimits {
  const sizes = [device?.maxBufferSize, device?.maxStorageBufferBindingSize].filter(
    (x): x is number => typeof x === 'number' && x > 0,
  );
  return sizes.length ? { ...limits, maxBufferBytes: Math.min(...sizes) } : limits;
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

// Messages between the job runner (parent) and a trainer process. Plain JSON, so the same protocol
// works over child_process IPC and Electron's utilityProcess.
import type { Cell } from './matrix.ts';
import type { Condition } from './conditions.ts';
import type { ExperimentSpec } from './spec/schema.ts';

export const BACKENDS = ['webgpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type BackendChoice = BackendName | 'auto';

export type Phase = 'data' | 'teacher' | 'students';

export interface TrainJob {
  spec: ExperimentSpec;
  /** Cells sharing a trait, trained together (one teacher, stacked students). */
  cells: Cell[];
  backend: BackendChoice;
  cacheDir: string;
  /** Where downloaded datasets are (default: the user's data directory, or $SUBLAB_DATASETS_DIR). */
  datasetDir?: string;
  /** Replicate indices this trainer trains (a shard of the cell); all of them when absent. */
  replicates?: number[];
}

export interface MetricRow {
  condition: Condition;
  replicate: number;
  step: number;
  /** loss, test_accuracy, trait_rate, rejection_rate, cosine_layer0, cosine_layer1, ... */
  name: string;
  value: number;
}

/** Why a model was marked diverged (see main/engine/divergence.ts for when it is checked). */
export type DivergenceReason = 'non-finite loss' | 'non-finite parameters' | 'teacher diverged';

/** Where a model's loss or parameters were first seen non-finite: a result, not a failure. */
export interface Divergence {
  phase: Exclude<Phase, 'data'>;
  /** The step of that phase (1-based; 0 for a measurement before training). */
  step: number;
  reason: DivergenceReason;
}

export interface ResultRow {
  condition: Condition;
  replicate: number;
  seed: number;
  /** Null when the model diverged. */
  accuracy: number | null;
  /** The trait's rate (preference or trigger success) on its probe set; null for `skill` or a diverged model. */
  traitScore: number | null;
  /** Set when the model diverged: it then has no accuracy or trait score. */
  diverged: Divergence | null;
}

export interface PhaseTiming {
  phase: Phase;
  seconds: number;
  /** Model-samples trained (models x samples seen), for throughput. */
  modelSamples: number;
}

export type ToTrainer =
  | { type: 'start'; job: TrainJob }
  /** Start the backend, answer `ready` and exit: resolves `auto` once for a whole run. */
  | { type: 'probe'; backend: BackendChoice }
  | { type: 'cancel' };

/** What a WebGPU adapter allows (GPUSupportedLimits); WebGPU reports no device memory size. */
export interface DeviceLimits {
  maxBufferSize?: number;
  maxStorageBufferBindingSize?: number;
}

export type FromTrainer =
  | { type: 'ready'; backend: BackendName; versions: Record<string, string>; limits?: DeviceLimits }
  | { type: 'phase'; phase: Phase; totalSteps: number }
  | { type: 'progress'; phase: Phase; step: number; totalSteps: number }
  | { type: 'metrics'; cell: number; rows: MetricRow[] }
  | { type: 'results'; cell: number; rows: ResultRow[] }
  | { type: 'done'; timings: PhaseTiming[] }
  | { type: 'cancelled' }
  /** `outOfMemory`: the backend ran out of memory with this many replicates in the trainer. */
  | { type: 'error'; message: string; stack?: string; outOfMemory?: { replicates: number } };

// What every phase of a group's run shares: the group's settings, its cells and shard, the data and
// the test sets, the hooks, and where results, timings and disposables are collected.
import type { Cell } from '../../../app/matrix.ts';
import type { MetricRow, Phase, PhaseTiming, ResultRow } from '../../../app/protocol.ts';
import type { ExperimentSpec, Trait } from '../../../app/spec/schema.ts';
import type { Dataset } from '../../data/dataset.ts';
import type { TestSet } from '../evaluate.ts';
import type { Layout } from '../ops.ts';
import type { ModelArch } from '../stacked-model.ts';

export interface GroupHooks {
  phase(phase: Phase, totalSteps: number): void;
  progress(phase: Phase, step: number, totalSteps: number): void;
  /** Metric rows of one cell (by its matrix index). */
  metrics(cellIndex: number, rows: MetricRow[]): void;
  /** Awaited between steps: lets cancel messages in, and is where a caller may throw to stop. */
  checkpoint(): Promise<void>;
}

export interface GroupContext {
  /** The group's shared settings (its first cell's): everything the teacher phase reads. */
  spec: ExperimentSpec;
  cells: readonly Cell[];
  /** Cells per (trait, filter, architecture) of the experiment: its sweep combinations (1 if none). */
  sweepCombos: number;
  data: Dataset;
  layout: Layout;
  hooks: GroupHooks;
  /** Whether the written-out WebGPU steps and device noise are used where they apply. */
  fused: boolean;
  /** Replicate indices trained here; model r of a block is replicate shard[r]. */
  shard: readonly number[];
  S: number;
  seeds: readonly number[];
  classes: number;
  /** Logits per model: classes + auxiliary. */
  L: number;
  teacherArch: ModelArch;
  trait: Trait;
  /** The class a trait pushes towards (preference, backdoor), else null. */
  target: number | null;
  test: TestSet;
  probeSet: TestSet | null;
  results: Map<number, ResultRow[]>;
  timings: PhaseTiming[];
  disposables: { dispose(): void }[];
}

/** Whether step n (1-based) of a phase of `total` steps records its loss. */
export function logsAt(lossEvery: number, n: number, total: number): boolean {
  return n % lossEvery === 0 || n === total;
}

export const stepsPerEpoch = (count: number, batch: number) => Math.ceil(count / batch);

/** Positions start..start+size of each replicate's epoch order, replicate-major: [S * size]. */
export function batchIndices(orders: readonly Uint32Array[], start: number, size: number): Uint32Array {
  const out = new Uint32Array(orders.length * size);
  orders.forEach((order, s) => out.set(order.subarray(start, start + size), s * size));
  return out;
}

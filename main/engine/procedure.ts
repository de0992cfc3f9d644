// The procedure for a group of matrix cells sharing a teacher, all its replicates (or a shard of
// them) at once, in phases (./phases):
//   teacher.ts: reference = the untrained inits; teacher = CE on class logits from that init, plus
//     its trait (backdoor poisoning during training, preference fine-tuning after it);
//   stacks.ts: each cell's four students in stacks of 4S models per cell, distilled from the
//     teacher's outputs through the cell's filter: [student (filter, the cell's architecture
//     relation) | student_all_logits | cross_init (filter, another replicate's init) |
//     cross_init_all_logits];
//   students.ts: their training; collect.ts: measurements, metric rows and results.
// The optimizer and the student's loss are strategies chosen once per stack (recipe.ts).
import * as tf from '@tensorflow/tfjs-core';
import { cellSettings, type Cell } from '../../app/matrix.ts';
import { sweepCombinations, teacherKey } from '../../app/spec/sweeps.ts';
import type { PhaseTiming, ResultRow } from '../../app/protocol.ts';
import type { ExperimentSpec } from '../../app/spec/schema.ts';
import type { Dataset } from '../data/dataset.ts';
import { TestSet } from './evaluate.ts';
import type { Layout } from './ops.ts';
import { modelArch } from './phases/arch.ts';
import type { GroupContext, GroupHooks } from './phases/context.ts';
import { planStudents } from './phases/stacks.ts';
import { trainStudents, type StudentImages } from './phases/students.ts';
import { trainTeacher } from './phases/teacher.ts';
import { traitProbe, traitTarget } from './traits.ts';
import { traitForClasses } from '../data/classes.ts';

export type { GroupHooks } from './phases/context.ts';

export type CellHooks = Omit<GroupHooks, 'metrics'> & { metrics(rows: MetricRowList): void };
type MetricRowList = Parameters<GroupHooks['metrics']>[1];

/**
 * Cells that share their teacher settings (app/spec/sweeps.ts teacherKey) share a teacher; students
 * of one architecture and recipe share a stack.
 */
export interface GroupRun {
  spec: ExperimentSpec;
  cells: Cell[];
  data: Dataset;
  layout: Layout;
  hooks: GroupHooks;
  /** Replicate indices to train (a shard); all of them by default. */
  shard?: readonly number[];
  /**
   * Images for `student.inputs.kind = "images"` from another dataset than the group's, per cell's
   * inputs (the worker loads them); undefined means the group's own training images.
   */
  studentImages?: StudentImages;
  /**
   * Student steps of ReLU MLPs in the batched layout through FusedKlTrainer (fused-step.ts), and
   * uniform noise made on the device (noise-kernel.ts). Default: on WebGPU, where they pay.
   */
  fused?: boolean;
}

export type CellRun = Omit<GroupRun, 'cells' | 'hooks'> & { cell: Cell; hooks: CellHooks };

export interface GroupOutcome {
  /** Per cell index. */
  results: Map<number, ResultRow[]>;
  timings: PhaseTiming[];
  /** Per cell index: replicate r's cross-init students start from replicate crossInitOf[r]'s init. */
  crossInitOf: Map<number, number[]>;
}

export interface CellOutcome {
  results: ResultRow[];
  timings: PhaseTiming[];
  crossInitOf: number[];
}

/** One cell on its own (a group of one). */
export async function runCell(run: CellRun): Promise<CellOutcome> {
  const { cell, hooks, ...rest } = run;
  const out = await runGroup({
    ...rest,
    cells: [cell],
    hooks: { ...hooks, metrics: (_, rows) => hooks.metrics(rows) },
  });
  return {
    results: out.results.get(cell.index)!,
    timings: out.timings,
    crossInitOf: out.crossInitOf.get(cell.index)!,
  };
}

/** The context every phase shares; its test sets are disposed with the run's disposables. */
function groupContext(run: GroupRun, spec: ExperimentSpec): GroupContext {
  // The experiment's sweeps (the group's settings have its cell's values set and no sweeps).
  const sweepCombos = sweepCombinations(run.spec.matrix.sweeps).length;
  const { cells, data } = run;
  const first = cells[0]!;
  const shard = run.shard ?? first.seeds.map((_, r) => r);
  const classes = data.classes;
  const L = classes + spec.model.auxLogits;
  const test = new TestSet(data.test, data.pixels, classes);
  // Targets renumbered into the class subset, when the dataset has one.
  const trait = traitForClasses(first.trait, spec.dataset.classes);
  const probeSet = traitProbe(trait, data.test, spec.seed, classes);
  return {
    spec,
    cells,
    sweepCombos,
    data,
    layout: run.layout,
    hooks: run.hooks,
    fused: run.fused ?? tf.getBackend() === 'webgpu',
    shard,
    S: shard.length,
    seeds: shard.map((r) => first.seeds[r]!),
    classes,
    L,
    teacherArch: modelArch(spec.model, data.pixels, L),
    trait,
    target: traitTarget(trait),
    test,
    probeSet,
    results: new Map(cells.map((c) => [c.index, []])),
    timings: [],
    disposables: [test, ...(probeSet ? [probeSet] : [])],
  };
}

/**
 * Trains replicates `shard` of a group of cells sharing a teacher. Every replicate's numbers depend
 * only on its own seed (and, for cross-init, on the seed of the replicate whose init it borrows),
 * and every cell's only on its own settings, so a cell gives exactly the same results alone, in a
 * group, or split into shards across processes.
 */
export async function runGroup(run: GroupRun): Promise<GroupOutcome> {
  const { spec, cells } = run;
  // Each cell's own settings (its sweep values set); the teacher phase reads the group's shared
  // ones, which every cell of a group must have: equal teacher keys.
  const settings = new Map(cells.map((c) => [c.index, cellSettings(spec, c)]));
  const group = settings.get(cells[0]!.index)!;
  const key = teacherKey(group);
  const other = cells.find((c) => teacherKey(settings.get(c.index)!) !== key);
  if (other)
    throw new Error(`a group of cells must share its teacher settings; cell ${other.index} does not`);
  const ctx = groupContext(run, group);
  try {
    const teacher = await trainTeacher(ctx);
    const schedules = planStudents(ctx, teacher, (cell) => settings.get(cell.index)!);
    await trainStudents(ctx, teacher, schedules, run.studentImages);
    const crossInitOf = new Map(schedules.flatMap((s) => s.plans).map((p) => [p.cell.index, p.crossInitOf]));
    return { results: ctx.results, timings: ctx.timings, crossInitOf };
  } finally {
    for (const d of ctx.disposables) d.dispose();
  }
}

// Stack planning: each cell's students (4 conditions x S replicates) get an architecture, an init
// and a filter mask; cells whose students share an architecture and a student recipe train in one
// stack, and stacks that see the same inputs (inputs, batch size, epochs) step together on one
// batch, a "schedule". Without sweeps every cell has the same recipe: one schedule.
import type * as tf from '@tensorflow/tfjs-core';
import { keptLogits, mixSeed, type Cell } from '../../../app/matrix.ts';
import type { ExperimentSpec } from '../../../app/spec/schema.ts';
import { stableJson } from '../../../app/spec/sweeps.ts';
import { DivergenceMarks } from '../divergence.ts';
import { FusedKlTrainer, fusedStepApplies } from '../fused-step.ts';
import { logitMask } from '../losses.ts';
import { makeOptimizer, makeStudentLoss, type ParamOptimizer, type StudentLoss } from '../recipe.ts';
import { Rng, STREAM, streamRng } from '../rng.ts';
import {
  concatParams,
  sameArch,
  selectModels,
  StackedModel,
  type ModelArch,
  type StackedParams,
} from '../stacked-model.ts';
import type { Activation, AnalysisSpec } from '../../../app/spec/schema.ts';
import type { GroupContext } from './context.ts';
import { modelArch } from './arch.ts';
import { studentInits } from '../student-init.ts';
import { adamArgs, type TrainedTeacher } from './teacher.ts';

/** One cell's students. */
export interface Plan {
  cell: Cell;
  /** The cell's own settings: its student recipe, inputs and probe. */
  settings: ExperimentSpec;
  /** Replicate r's cross-init students start from replicate crossInitOf[r]'s init. */
  crossInitOf: number[];
  studentArch: ModelArch;
  activation: Activation;
  keptF: number[];
  /** [own, own, other, other] per replicate: the four conditions' inits. */
  init: StackedParams;
  maskF: tf.Tensor3D;
  filterRngs: Rng[];
  /** Text channels, shuffles and detectors are sequential logic: done on the host. */
  onHost: boolean;
  /** Per replicate: samples the filter rejected this epoch. */
  rejected: Float64Array;
}

export interface Stack {
  plans: Plan[];
  model: StackedModel;
  init: StackedParams;
  mask: tf.Tensor3D;
  opt: ParamOptimizer;
  loss: StudentLoss;
  fused: FusedKlTrainer | null;
  /** Probe every this many steps; 0 when off or when student and teacher spaces differ. */
  probeEvery: number;
  /** The representation analysis (CKA, linear probe) of this stack's students. */
  analysis: AnalysisSpec;
  marks: DivergenceMarks;
}

/** Stacks that step together on the same student inputs. */
export interface Schedule {
  /** The shared input settings: student inputs, batch size, epochs. */
  student: ExperimentSpec['student'];
  stacks: Stack[];
  plans: Plan[];
}

function planCell(ctx: GroupContext, cell: Cell, settings: ExperimentSpec, teacherInit: StackedParams): Plan {
  const { S, shard, seeds, data, L } = ctx;
  const arch = cell.architecture;
  // The derangement is over the whole cell, so it is the same however the cell is sharded. It is
  // keyed by the cell's (trait, filter, architecture) position, not its sweep values (the innermost
  // axes of expandMatrix): the cells of a sweep share their cross-init pairing, and a swept cell
  // equals the un-swept spec with its values set. Without sweeps the position is the cell index.
  const crossInitOf = Array.from(
    new Rng(mixSeed(settings.seed, 0x5eed + Math.floor(cell.index / ctx.sweepCombos))).derangement(
      cell.seeds.length,
    ),
  );
  const borrowedSeeds = shard.map((r) => cell.seeds[crossInitOf[r]!]!);
  const studentArch =
    arch.kind === 'shape'
      ? modelArch({ family: 'mlp', hidden: arch.hidden, channels: 0 }, data.pixels, L)
      : arch.kind === 'family'
        ? modelArch(arch, data.pixels, L)
        : ctx.teacherArch;
  const { own, other } = studentInits({
    relation: arch,
    studentArch,
    teacherInit,
    seeds,
    borrowedSeeds,
    classes: ctx.classes,
  });
  const ownIdx = Array.from({ length: S }, (_, r) => r);
  const otherIdx = ownIdx.map((r) => S + r);
  const keptF = keptLogits(cell.filter, settings.model.auxLogits, ctx.classes);
  return {
    cell,
    settings,
    crossInitOf,
    studentArch,
    activation: arch.kind === 'activation' ? arch.activation : settings.model.activation,
    keptF,
    init: selectModels(concatParams(own, other), [...ownIdx, ...ownIdx, ...otherIdx, ...otherIdx]),
    maskF: logitMask(
      Array.from({ length: S }, () => keptF),
      L,
    ),
    // Each cell's own filter stream: a cell's numbers do not depend on its group.
    filterRngs: seeds.map((seed) => streamRng(seed, STREAM.filter)),
    onHost: cell.filter.kind !== 'logits',
    rejected: new Float64Array(S),
  };
}

/**
 * Marks of a student stack of `cells` x 4 conditions x S replicates: the students of a diverged
 * teacher are diverged from the start (their targets are not finite), at the teacher's step.
 */
function studentMarks(cells: number, teacherMarks: DivergenceMarks, S: number): DivergenceMarks {
  const marks = new DivergenceMarks(cells * 4 * S);
  for (let r = 0; r < S; r++) {
    const t = teacherMarks.get(r);
    if (!t) continue;
    for (let block = 0; block < cells * 4; block++)
      marks.mark(block * S + r, { phase: t.phase, step: t.step, reason: 'teacher diverged' });
  }
  return marks;
}

/** A stack's model, mask, recipe and marks, for plans that share architecture and recipe. */
function buildStack(ctx: GroupContext, plans: Plan[], teacherMarks: DivergenceMarks): Stack {
  const { S, L } = ctx;
  const first = plans[0]!;
  const perBlock = (k: number[]) => Array.from({ length: S }, () => k);
  const all = Array.from({ length: L }, (_, i) => i);
  const init = plans.map((p) => p.init).reduce((a, b) => concatParams(a, b));
  const model = new StackedModel(init, ctx.layout, first.activation);
  const mask = logitMask(
    plans.flatMap((p) => [...perBlock(p.keptF), ...perBlock(all), ...perBlock(p.keptF), ...perBlock(all)]),
    L,
  );
  const student = first.settings.student;
  const opt = makeOptimizer(student);
  const loss = makeStudentLoss(student);
  // The written-out step computes Adam and KL only; any other recipe trains through autodiff.
  const fusable =
    ctx.fused &&
    opt.fusedAdam !== null &&
    loss.fusedKlTemperature !== null &&
    fusedStepApplies(init.arch, first.activation, ctx.layout);
  const fused = fusable ? new FusedKlTrainer(model, student.learningRate, ...adamArgs(opt.fusedAdam!)) : null;
  if (fused) ctx.disposables.push(fused);
  ctx.disposables.push(model, mask, opt, ...plans.map((p) => p.maskF));
  // Theorem probe: only where student and teacher parameters live in the same space.
  const probeEvery = sameArch(first.studentArch, ctx.teacherArch) ? first.settings.probeEvery : 0;
  return {
    plans,
    model,
    init,
    mask,
    opt,
    loss,
    fused,
    probeEvery,
    analysis: first.settings.analysis,
    marks: studentMarks(plans.length, teacherMarks, S),
  };
}

/** Groups items by a key, in order of first appearance. */
function groupBy<T>(items: readonly T[], key: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return [...groups.values()];
}

/** Plans every cell's students and builds the stacks, grouped into schedules. */
export function planStudents(
  ctx: GroupContext,
  teacher: TrainedTeacher,
  settingsOf: (cell: Cell) => ExperimentSpec,
): Schedule[] {
  const plans = ctx.cells.map((cell) => planCell(ctx, cell, settingsOf(cell), teacher.init));
  // Key order in settings never splits a stack: keys are compared as sorted JSON.
  const inputKey = (p: Plan) =>
    stableJson([p.settings.student.inputs, p.settings.student.batchSize, p.settings.student.epochs]);
  const stackKey = (p: Plan) =>
    stableJson([p.studentArch, p.activation, p.settings.student, p.settings.probeEvery, p.settings.analysis]);
  return groupBy(plans, inputKey).map((scheduled) => ({
    student: scheduled[0]!.settings.student,
    plans: scheduled,
    stacks: groupBy(scheduled, stackKey).map((ps) => buildStack(ctx, ps, teacher.marks)),
  }));
}

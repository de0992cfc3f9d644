// Student training: every schedule's stacks distil from the teacher on their inputs (noise or
// images), one schedule after another; each stack with its own recipe, filter targets and probe.
import * as tf from '@tensorflow/tfjs-core';
import type { ImageSet } from '../../data/dataset.ts';
import { inputImages, type StudentInputs } from '../../../app/spec/schema.ts';
import { applyFilter } from '../filters.ts';
import { studentInputSource } from '../inputs.ts';
import { layerCosines, subtractParams } from '../probe.ts';
import { trainStep } from '../recipe.ts';
import { STREAM, streamRng } from '../rng.ts';
import type { StackedParams } from '../stacked-model.ts';
import { detectorScores } from '../traits.ts';
import { GroupAnalysis } from './analysis.ts';
import { measureStack, recordStack, rows, stackRows, type Measured } from './collect.ts';
import { logsAt, stepsPerEpoch, type GroupContext } from './context.ts';
import type { Plan, Schedule, Stack } from './stacks.ts';
import type { TrainedTeacher } from './teacher.ts';

/** Images for the input kinds that read a dataset, of another one than the group's (undefined: its own). */
export type StudentImages = (inputs: StudentInputs) => ImageSet | undefined;

const scheduleSteps = (s: Schedule) =>
  stepsPerEpoch(s.student.inputs.count, s.student.batchSize) * s.student.epochs;

/** The theorem probe: per-layer cosines of each student's and its teacher's change from init. */
function probe(ctx: GroupContext, st: Stack, cos: Float32Array | Float64Array, step: number): void {
  const layers = st.init.weights.length;
  // A non-finite cosine comes from non-finite parameters (a zero change gives 0), read back here anyway.
  for (let m = 0; m < st.model.models; m++)
    if (cos.subarray(m * (layers + 1), (m + 1) * (layers + 1)).some((v) => !Number.isFinite(v)))
      st.marks.mark(m, { phase: 'students', step, reason: 'non-finite parameters' });
  for (let l = 0; l <= layers; l++) {
    const values = Array.from({ length: st.model.models }, (_, m) => cos[m * (layers + 1) + l]!);
    stackRows(ctx, st, l === layers ? 'cosine_all' : `cosine_layer${l}`, values, step);
  }
}

/** One step of every stack of a schedule on inputs x; returns each stack's per-model loss. */
function stepStacks(
  ctx: GroupContext,
  teacher: TrainedTeacher,
  sched: Schedule,
  x: Float32Array | tf.Tensor3D,
  size: number,
  logLoss: boolean,
): (tf.Tensor1D | undefined)[] {
  const { S, L, trait } = ctx;
  return tf.tidy(() => {
    const t = teacher.model.infer(teacher.model.input(x, S, size)); // [S, B, L]; no student's variable
    const ones = tf.ones([S, size]) as tf.Tensor2D;
    let hostLogits: Float32Array | null = null;
    const targets = (p: Plan, st: Stack): [tf.Tensor3D, tf.Tensor2D] => {
      if (!p.onHost) return [st.loss.maskedTargets(t, p.maskF), ones];
      // Text channels, shuffles and detectors are sequential logic: done on the host.
      hostLogits ??= t.dataSync() as Float32Array;
      const scores =
        p.cell.filter.kind === 'detector'
          ? detectorScores(trait, hostLogits, S, size, L, ctx.classes)
          : undefined;
      const T = p.settings.student.temperature;
      const out = applyFilter(p.cell.filter, hostLogits, S, size, L, p.keptF, T, p.filterRngs, scores);
      out.rejected.forEach((n, s) => (p.rejected[s]! += n));
      return [tf.tensor3d(out.probs, [S, size, L]), tf.tensor2d(out.weights, [S, size])];
    };
    return sched.stacks.map((st) => {
      const pAll = st.loss.allTargets(t);
      const parts = st.plans.map((p) => targets(p, st));
      // [4S per cell, B, L]: each condition of a replicate sees the same inputs
      const p4 = tf.concat(
        parts.flatMap(([pF]) => [pF, pAll, pF, pAll]),
        0,
      ) as tf.Tensor3D;
      const w4 = tf.concat(
        parts.flatMap(([, wF]) => [wF, ones, wF, ones]),
        0,
      ) as tf.Tensor2D;
      const x4 = st.model.input(x, S, size);
      if (st.fused && x4.kind === 'batched')
        return st.fused.step(x4.x, p4, st.mask, w4, st.loss.fusedKlTemperature!, logLoss);
      return trainStep(st.opt, st.model.variables, () =>
        st.loss.value(p4, st.model.forward(x4), st.mask, w4),
      );
    });
  });
}

interface ScheduleRun {
  teacher: TrainedTeacher;
  images: StudentImages | undefined;
  teacherDelta: StackedParams | null;
  analysis: GroupAnalysis;
  /** Called after each step: the phase's progress over all schedules. */
  tick(): void;
}

/** A step's records: each stack's loss, the probe and analysis where due, progress, the cancel point. */
async function afterStep(
  ctx: GroupContext,
  run: ScheduleRun,
  sched: Schedule,
  losses: (tf.Tensor1D | undefined)[],
  step: number,
  total: number,
  logLoss: boolean,
  midEpoch: boolean,
): Promise<void> {
  const { S } = ctx;
  for (const [k, st] of sched.stacks.entries()) {
    if (logLoss) {
      const values = await losses[k]!.data();
      st.marks.check(values, { phase: 'students', step, reason: 'non-finite loss' });
      stackRows(ctx, st, 'loss', values, step);
    }
    if (st.probeEvery > 0 && (step % st.probeEvery === 0 || step === total)) {
      const teacherOf = Array.from({ length: st.model.models }, (_, i) => i % S);
      probe(ctx, st, layerCosines(await st.model.read(), st.init, run.teacherDelta!, teacherOf), step);
    }
    // Between evaluations; an epoch's end is analysed with its evaluation.
    const { every, linearProbe } = st.analysis;
    if (every > 0 && step % every === 0 && midEpoch)
      await run.analysis.measure(st, step, linearProbe.when === 'every');
  }
  tf.dispose(losses.filter((l) => l !== undefined));
  run.tick();
  await ctx.hooks.checkpoint();
}

/** Each host filter's rejection rate over the epoch just ended. */
function recordRejections(ctx: GroupContext, sched: Schedule, run: ScheduleRun, count: number, step: number) {
  for (const p of sched.plans) {
    if (p.onHost) {
      const rates = Array.from(p.rejected, (n) => n / count);
      // A diverged teacher's outputs say nothing about the filter.
      ctx.hooks.metrics(
        p.cell.index,
        rows('student', 'rejection_rate', rates, step, ctx.shard, 0, run.teacher.marks),
      );
    }
  }
}

/** Trains one schedule's stacks to the end; returns each stack's final measurement. */
async function trainSchedule(
  ctx: GroupContext,
  sched: Schedule,
  run: ScheduleRun,
): Promise<Map<Stack, Measured>> {
  const { data, seeds } = ctx;
  const { inputs, batchSize, epochs } = sched.student;
  const images = inputImages(inputs) !== null ? (run.images?.(inputs) ?? data.train) : null;
  const count = inputs.count;
  const perEpoch = stepsPerEpoch(count, batchSize);
  const total = scheduleSteps(sched);
  // Fresh streams per schedule: a cell's inputs do not depend on the other schedules of its group.
  const noiseSeeds = seeds.map((seed) => streamRng(seed, STREAM.noise).nextU32());
  const orderRngs = seeds.map((seed) => streamRng(seed, STREAM.studentOrder));
  // On the fused path inputs are made on the device: noise kernels, then a matmul or a gather.
  const source = studentInputSource(inputs, { images, noiseSeeds, pixels: data.pixels, device: ctx.fused });
  const finals = new Map<Stack, Measured>();
  let step = 0;
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const orders = orderRngs.map((rng) => rng.permutation(count));
      for (const p of sched.plans) p.rejected.fill(0);
      for (let b = 0; b < perEpoch; b++) {
        const start = b * batchSize;
        const size = Math.min(batchSize, count - start);
        const x = source.batch(orders, start, size);
        const logLoss = logsAt(ctx.spec.lossEvery, step + 1, total);
        const losses = stepStacks(ctx, run.teacher, sched, x, size, logLoss);
        if (!(x instanceof Float32Array)) x.dispose();
        step++;
        await afterStep(ctx, run, sched, losses, step, total, logLoss, b < perEpoch - 1);
      }
      recordRejections(ctx, sched, run, count, step);
      for (const st of sched.stacks) {
        finals.set(st, await measureStack(ctx, st, step));
        await run.analysis.measure(st, step, st.analysis.linearProbe.when === 'every' || step === total);
      }
    }
  } finally {
    source.dispose();
  }
  return finals;
}

/** The student phase of a group: all schedules, then every stack's results. */
export async function trainStudents(
  ctx: GroupContext,
  teacher: TrainedTeacher,
  schedules: Schedule[],
  images: StudentImages | undefined,
): Promise<void> {
  const stacks = schedules.flatMap((s) => s.stacks);
  const analysis = new GroupAnalysis(ctx, teacher);
  ctx.disposables.push(analysis);
  await analysis.measureBaselines(stacks);
  for (const st of stacks) {
    await measureStack(ctx, st, 0);
    await analysis.measure(st, 0, st.analysis.linearProbe.when === 'every');
  }
  const teacherDelta = stacks.some((st) => st.probeEvery > 0)
    ? subtractParams(await teacher.model.read(), teacher.init)
    : null;
  // One phase for all schedules, which run one after another: progress counts all their steps.
  const total = schedules.reduce((n, s) => n + scheduleSteps(s), 0);
  ctx.hooks.phase('students', total);
  const started = performance.now();
  let done = 0;
  const tick = () => ctx.hooks.progress('students', ++done, total);
  for (const sched of schedules) {
    const finals = await trainSchedule(ctx, sched, { teacher, images, teacherDelta, analysis, tick });
    // The last epoch's measurement is the final one: nothing trained since.
    for (const st of sched.stacks) recordStack(ctx, st, finals.get(st)!);
  }
  ctx.timings.push({
    phase: 'students',
    seconds: (performance.now() - started) / 1000,
    modelSamples: schedules.reduce(
      (n, s) => n + 4 * ctx.S * s.student.inputs.count * s.student.epochs * s.plans.length,
      0,
    ),
  });
}

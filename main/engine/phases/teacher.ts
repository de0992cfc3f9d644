// The reference and teacher phase: the untrained inits are measured as `reference`, then the teacher
// trains on its dataset (cross-entropy on the class logits) with its trait: backdoor poisoning
// during training, preference fine-tuning after it. It reads only the group's shared settings.
import * as tf from '@tensorflow/tfjs-core';
import type { Condition } from '../../../app/conditions.ts';
import { imageBatch, imagesAsFloats } from '../batches.ts';
import { DivergenceMarks } from '../divergence.ts';
import { FusedKlTrainer, fusedStepApplies } from '../fused-step.ts';
import { classCrossEntropy, logitMask } from '../losses.ts';
import { makeOptimizer, trainStep } from '../recipe.ts';
import { fillNoiseImage, STREAM, streamRng } from '../rng.ts';
import { initParams, StackedModel, type StackedParams } from '../stacked-model.ts';
import { poisonBatch } from '../traits.ts';
import { measureModel, recordAll, rows } from './collect.ts';
import { batchIndices, logsAt, stepsPerEpoch, type GroupContext } from './context.ts';

export interface TrainedTeacher {
  model: StackedModel;
  /** The shared init every same-init student starts from. */
  init: StackedParams;
  /** Per teacher (replicate) of the shard: where its loss or parameters stopped being finite. */
  marks: DivergenceMarks;
  /** The teacher phase's last step (its final measurement's step), once trained. */
  steps: number;
}

type Batch = { x: Float32Array | tf.Tensor3D; y: tf.Tensor2D; size: number };

/** Measures the teachers and emits their test_accuracy (and trait_rate) rows under `conditions`. */
async function measureTeachers(
  ctx: GroupContext,
  t: TrainedTeacher,
  conditions: readonly Condition[],
  step: number,
) {
  const m = await measureModel(ctx, t.model, t.marks, 'teacher', step);
  for (const cell of ctx.cells) {
    conditions.forEach((c, block) => {
      const offset = block * ctx.S;
      ctx.hooks.metrics(cell.index, rows(c, 'test_accuracy', m.accuracy, step, ctx.shard, offset, t.marks));
      if (m.rate)
        ctx.hooks.metrics(cell.index, rows(c, 'trait_rate', m.rate, step, ctx.shard, offset, t.marks));
    });
  }
  return m;
}

/**
 * The teacher's step: through the written-out fused step where it applies (cross-entropy on the
 * class logits is the KL from one-hot targets with the auxiliary logits masked out) when the
 * recipe is Adam without weight decay, else autodiff with the recipe's optimizer. A preference teacher's fine-tuning mixes two losses under one
 * optimizer, so it stays on autodiff throughout.
 */
function teacherStepper(ctx: GroupContext, t: TrainedTeacher, total: number) {
  const { spec, S, L, classes } = ctx;
  const opt = makeOptimizer(spec.teacher);
  ctx.disposables.push(opt);
  const fusable =
    ctx.fused &&
    ctx.trait.kind !== 'preference' &&
    opt.fusedAdam !== null &&
    fusedStepApplies(ctx.teacherArch, spec.model.activation, ctx.layout);
  const fused = fusable
    ? {
        trainer: new FusedKlTrainer(t.model, spec.teacher.learningRate, ...adamArgs(opt.fusedAdam!)),
        mask: logitMask(
          ctx.seeds.map(() => Array.from({ length: classes }, (_, c) => c)),
          L,
        ),
      }
    : null;
  if (fused) ctx.disposables.push(fused.trainer, fused.mask);
  let step = 0;
  /** One step on batch x [S, B, 784] with labels y [S, B]: the class cross-entropy, or `loss`. */
  const run = async (
    batch: Batch | null,
    loss: () => tf.Tensor1D = () =>
      classCrossEntropy(t.model.forward(t.model.input(batch!.x, S, batch!.size)), batch!.y, classes),
  ) => {
    const logged = logsAt(spec.lossEvery, step + 1, total);
    const perModel = tf.tidy(() => {
      const input = fused && batch ? t.model.input(batch.x, S, batch.size) : null;
      if (fused && input?.kind === 'batched') {
        const targets = tf.oneHot(batch!.y, L, 1, 0, 'float32') as tf.Tensor3D;
        const weights = tf.ones([S, batch!.size]) as tf.Tensor2D;
        return fused.trainer.step(input.x, targets, fused.mask, weights, 1, logged);
      }
      return trainStep(opt, t.model.variables, loss);
    });
    step++;
    if (perModel && logged) {
      const values = await perModel.data();
      t.marks.check(values, { phase: 'teacher', step, reason: 'non-finite loss' });
      for (const cell of ctx.cells)
        ctx.hooks.metrics(cell.index, rows('teacher', 'loss', values, step, ctx.shard, 0, t.marks));
    }
    perModel?.dispose();
    ctx.hooks.progress('teacher', step, total);
    await ctx.hooks.checkpoint();
  };
  return { run, step: () => step };
}

/** FusedKlTrainer's optional Adam arguments, in its constructor's order. */
export const adamArgs = (a: { beta1: number; beta2: number; epsilon: number }) =>
  [a.beta1, a.beta2, a.epsilon] as const;

/** A batch source for the teacher's epochs: gathered on the device, or built (and poisoned) on the host. */
function batchSource(ctx: GroupContext) {
  const { data, S, trait, seeds } = ctx;
  const poisonRngs = seeds.map((seed) => streamRng(seed, STREAM.poison));
  const host = (orders: Uint32Array[], start: number, size: number) => {
    const batch = imageBatch(data.train, data.pixels, orders, start, size);
    if (trait.kind === 'backdoor') poisonBatch(trait, batch.x, batch.labels, poisonRngs, size);
    return batch;
  };
  // With the fused path, the training images go to the device once and each batch is gathered
  // there (a backdoor poisons its batches on the host, so it keeps the host path).
  const onDevice =
    ctx.fused && trait.kind !== 'backdoor'
      ? {
          x: tf.tensor2d(imagesAsFloats(data.train, data.pixels), [data.train.count, data.pixels]),
          y: tf.tensor1d(Int32Array.from(data.train.labels), 'int32'),
        }
      : null;
  if (onDevice) ctx.disposables.push(onDevice.x, onDevice.y);
  const batch = (orders: Uint32Array[], start: number, size: number): Batch => {
    if (onDevice) {
      const [x, y] = tf.tidy(() => {
        const i = batchIndices(orders, start, size);
        const idx = tf.tensor1d(new Int32Array(i.buffer, i.byteOffset, i.length), 'int32');
        return [
          tf.reshape(tf.gather(onDevice.x, idx), [S, size, data.pixels]) as tf.Tensor3D,
          tf.reshape(tf.gather(onDevice.y, idx), [S, size]) as tf.Tensor2D,
        ];
      });
      return { x, y, size };
    }
    const b = host(orders, start, size);
    return { x: b.x, y: tf.tensor2d(b.labels, [S, size], 'int32'), size };
  };
  return { batch, host };
}

/** Fine-tunes towards the preferred class on noise while rehearsing real digits (a preference trait). */
async function fineTunePreference(
  ctx: GroupContext,
  t: TrainedTeacher,
  step: ReturnType<typeof teacherStepper>,
  host: ReturnType<typeof batchSource>['host'],
  orderRngs: { permutation(n: number): Uint32Array }[],
) {
  const { data, S, seeds, classes, trait, spec } = ctx;
  if (trait.kind !== 'preference') return;
  // The teacher keeps its skill and gains a preference that its outputs on noise then carry.
  const prefRngs = seeds.map((seed) => streamRng(seed, STREAM.preference));
  const size = Math.min(spec.teacher.batchSize, data.train.count);
  let orders = orderRngs.map((rng) => rng.permutation(data.train.count));
  for (let i = 0; i < trait.fineTuneSteps; i++) {
    const start = (i * size) % (data.train.count - size + 1);
    if (start === 0 && i > 0) orders = orderRngs.map((rng) => rng.permutation(data.train.count));
    const batch = host(orders, start, size);
    const noise = new Float32Array(S * size * data.pixels);
    prefRngs.forEach((rng, s) => {
      for (let j = 0; j < size; j++)
        fillNoiseImage(noise, (s * size + j) * data.pixels, data.pixels, rng.nextU32(), j);
    });
    await step.run(null, () => {
      const m = t.model;
      const real = classCrossEntropy(
        m.forward(m.input(batch.x, S, size)),
        tf.tensor2d(batch.labels, [S, size], 'int32'),
        classes,
      );
      const preferred = tf.fill([S, size], trait.targetClass, 'int32') as tf.Tensor2D;
      const onNoise = classCrossEntropy(m.forward(m.input(noise, S, size)), preferred, classes);
      return tf.add(real, onNoise) as tf.Tensor1D;
    });
  }
  await measureTeachers(ctx, t, ['teacher'], step.step());
}

/** Reference and teacher: records both conditions' results for every cell of the group. */
export async function trainTeacher(ctx: GroupContext): Promise<TrainedTeacher> {
  const { spec, data, S, seeds, trait } = ctx;
  const init = initParams(seeds, ctx.teacherArch);
  const model = new StackedModel(init, ctx.layout, spec.model.activation);
  ctx.disposables.push(model);
  const t: TrainedTeacher = { model, init, marks: new DivergenceMarks(S), steps: 0 };
  // The untrained inits: finite by construction, never marked.
  recordAll(ctx, ['reference'], await measureTeachers(ctx, t, ['teacher'], 0), null);

  const tSpec = spec.teacher;
  const perEpoch = stepsPerEpoch(data.train.count, tSpec.batchSize);
  const fineTune = trait.kind === 'preference' ? trait.fineTuneSteps : 0;
  const total = perEpoch * tSpec.epochs + fineTune;
  const orderRngs = seeds.map((seed) => streamRng(seed, STREAM.teacherOrder));
  const step = teacherStepper(ctx, t, total);
  ctx.hooks.phase('teacher', total);
  const started = performance.now();
  const source = batchSource(ctx);
  for (let epoch = 0; epoch < tSpec.epochs; epoch++) {
    const orders = orderRngs.map((rng) => rng.permutation(data.train.count));
    for (let b = 0; b < perEpoch; b++) {
      const start = b * tSpec.batchSize;
      const batch = source.batch(orders, start, Math.min(tSpec.batchSize, data.train.count - start));
      await step.run(batch);
      tf.dispose(batch.x instanceof Float32Array ? batch.y : [batch.x, batch.y]);
    }
    await measureTeachers(ctx, t, ['teacher'], step.step());
  }
  await fineTunePreference(ctx, t, step, source.host, orderRngs);
  t.steps = step.step();
  recordAll(ctx, ['teacher'], await measureTeachers(ctx, t, [], t.steps), t.marks);
  ctx.timings.push({
    phase: 'teacher',
    seconds: (performance.now() - started) / 1000,
    modelSamples:
      S * (data.train.count * tSpec.epochs + 2 * fineTune * Math.min(tSpec.batchSize, data.train.count)),
  });
  return t;
}

// The procedure for one matrix cell, all its replicates (or a shard of them) at once:
//   reference = the untrained inits; teacher = CE on class logits from that init, plus its trait
//   (backdoor poisoning during training, preference fine-tuning after it);
//   four students in ONE stack of 4S models, distilled from the teacher's outputs through the
//   cell's filter: [student (filter, the cell's architecture relation) | student_all_logits |
//   cross_init (filter, another replicate's init) | cross_init_all_logits].
import * as tf from '@tensorflow/tfjs-core';
import { STUDENT_CONDITIONS, type Condition } from '../../app/conditions.ts';
import { keptLogits, mixSeed, type Cell } from '../../app/matrix.ts';
import type { MetricRow, PhaseTiming, ResultRow } from '../../app/protocol.ts';
import type { ExperimentSpec, PhaseSpec } from '../../app/spec/schema.ts';
import type { Dataset, ImageSet } from '../data/dataset.ts';
import type { Phase } from '../../app/protocol.ts';
import { imageBatch } from './batches.ts';
import { TestSet } from './evaluate.ts';
import { applyFilter } from './filters.ts';
import { studentInputBatch } from './inputs.ts';
import { classCrossEntropy, logitMask, weightedKl } from './losses.ts';
import type { Layout } from './ops.ts';
import { layerCosines, subtractParams } from './probe.ts';
import { fillNoiseImage, Rng, STREAM, streamRng } from './rng.ts';
import {
  concatParams,
  initParams,
  perturbParams,
  sameArch,
  selectModels,
  StackedModel,
  type ModelArch,
  type StackedParams,
} from './stacked-model.ts';
import { detectorScores, poisonBatch, traitProbe, traitTarget } from './traits.ts';

export interface CellHooks {
  phase(phase: Phase, totalSteps: number): void;
  progress(phase: Phase, step: number, totalSteps: number): void;
  metrics(rows: MetricRow[]): void;
  /** Awaited between steps: lets cancel messages in, and is where a caller may throw to stop. */
  checkpoint(): Promise<void>;
}

export interface CellRun {
  spec: ExperimentSpec;
  cell: Cell;
  data: Dataset;
  layout: Layout;
  hooks: CellHooks;
  /** Replicate indices to train (a shard); all of the cell's by default. */
  shard?: readonly number[];
  /** Images for `student.inputs.kind = "images"` from another dataset (the worker loads them). */
  studentImages?: ImageSet;
}

export interface CellOutcome {
  results: ResultRow[];
  timings: PhaseTiming[];
  /** Replicate r's cross-init students start from replicate crossInitOf[r]'s init. */
  crossInitOf: number[];
}

const stepsPerEpoch = (count: number, batch: number) => Math.ceil(count / batch);

function adam(phase: PhaseSpec): tf.Optimizer {
  // PyTorch's Adam defaults (eps 1e-8), as in the paper's code; TF.js would otherwise use 1e-7.
  return tf.train.adam(phase.learningRate, 0.9, 0.999, 1e-8);
}

/** One optimiser step on a stack; returns the per-model loss [S] (caller disposes). */
function trainStep(optimizer: tf.Optimizer, vars: tf.Variable[], loss: () => tf.Tensor1D): tf.Tensor1D {
  let perModel: tf.Tensor1D | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const l = loss();
    perModel = tf.keep(l);
    return tf.sum(l) as tf.Scalar;
  }, vars);
  optimizer.applyGradients(grads);
  tf.dispose([value, ...Object.values(grads)]);
  return perModel!;
}

/** Rows for models offset..offset+n of a stack; model offset+r is replicate shard[r]. */
function rows(
  condition: Condition,
  name: string,
  values: ArrayLike<number>,
  step: number,
  shard: readonly number[],
  offset = 0,
): MetricRow[] {
  return shard.map((replicate, r) => ({ condition, replicate, step, name, value: values[offset + r]! }));
}

/**
 * Trains replicates `shard` of a cell. Every replicate's numbers depend only on its own seed (and,
 * for cross-init, on the seed of the replicate whose init it borrows), so a cell split into shards
 * across processes gives exactly the results of one process.
 */
export async function runCell(run: CellRun): Promise<CellOutcome> {
  const { spec, cell, data, layout, hooks } = run;
  const shard = run.shard ?? cell.seeds.map((_, r) => r);
  const S = shard.length;
  const seeds = shard.map((r) => cell.seeds[r]!);
  const classes = data.classes;
  const L = classes + spec.model.auxLogits;
  const teacherArch: ModelArch =
    spec.model.family === 'cnn'
      ? { family: 'cnn', channels: spec.model.channels, hidden: spec.model.hidden, outputs: L }
      : { family: 'mlp', sizes: [data.pixels, ...spec.model.hidden, L] };
  const { trait, filter, architecture: arch } = cell;
  const target = traitTarget(trait);
  const timings: PhaseTiming[] = [];
  const results: ResultRow[] = [];
  const test = new TestSet(data.test, data.pixels, classes);
  const probeSet = traitProbe(trait, data.test, spec.seed);
  const disposables: { dispose(): void }[] = [test, ...(probeSet ? [probeSet] : [])];

  /** Accuracy and trait rate of every model; emits test_accuracy (and trait_rate) metric rows. */
  const measure = async (model: StackedModel, conditions: readonly Condition[], step: number) => {
    const accuracy = await test.accuracy(model);
    const rate = probeSet && target !== null ? await probeSet.targetRate(model, target) : null;
    conditions.forEach((c, block) => {
      hooks.metrics(rows(c, 'test_accuracy', accuracy, step, shard, block * S));
      if (rate) hooks.metrics(rows(c, 'trait_rate', rate, step, shard, block * S));
    });
    return { accuracy, rate };
  };
  const record = (
    conditions: readonly Condition[],
    m: { accuracy: Float32Array; rate: Float32Array | null },
  ) => {
    conditions.forEach((condition, block) => {
      shard.forEach((replicate, r) => {
        const i = block * S + r;
        results.push({
          condition,
          replicate,
          seed: seeds[r]!,
          accuracy: m.accuracy[i]!,
          traitScore: m.rate ? m.rate[i]! : null,
        });
      });
    });
  };

  try {
    // ---- reference and teacher -------------------------------------------------------------
    const init = initParams(seeds, teacherArch);
    const teacher = new StackedModel(init, layout, spec.model.activation);
    disposables.push(teacher);
    record(['reference'], await measure(teacher, ['teacher'], 0));

    const tSpec = spec.teacher;
    const tPerEpoch = stepsPerEpoch(data.train.count, tSpec.batchSize);
    const fineTune = trait.kind === 'preference' ? trait.fineTuneSteps : 0;
    const tTotal = tPerEpoch * tSpec.epochs + fineTune;
    const orderRngs = seeds.map((seed) => streamRng(seed, STREAM.teacherOrder));
    const poisonRngs = seeds.map((seed) => streamRng(seed, STREAM.poison));
    const tOpt = adam(tSpec);
    disposables.push(tOpt);
    hooks.phase('teacher', tTotal);
    let started = performance.now();
    let step = 0;
    const teacherStep = async (loss: () => tf.Tensor1D) => {
      const perModel = tf.tidy(() => trainStep(tOpt, teacher.variables, loss));
      step++;
      if (step % spec.lossEvery === 0 || step === tTotal)
        hooks.metrics(rows('teacher', 'loss', await perModel.data(), step, shard));
      perModel.dispose();
      hooks.progress('teacher', step, tTotal);
      await hooks.checkpoint();
    };
    const realBatch = (orders: Uint32Array[], start: number, size: number) => {
      const batch = imageBatch(data.train, data.pixels, orders, start, size);
      if (trait.kind === 'backdoor') poisonBatch(trait, batch.x, batch.labels, poisonRngs, size);
      return batch;
    };
    for (let epoch = 0; epoch < tSpec.epochs; epoch++) {
      const orders = orderRngs.map((rng) => rng.permutation(data.train.count));
      for (let b = 0; b < tPerEpoch; b++) {
        const start = b * tSpec.batchSize;
        const size = Math.min(tSpec.batchSize, data.train.count - start);
        const batch = realBatch(orders, start, size);
        await teacherStep(() => {
          const x = teacher.input(batch.x, S, size); // [S, B, 784]
          const y = tf.tensor2d(batch.labels, [S, size], 'int32'); // [S, B]
          return classCrossEntropy(teacher.forward(x), y, classes);
        });
      }
      await measure(teacher, ['teacher'], step);
    }
    if (trait.kind === 'preference') {
      // Fine-tune towards the preferred class on noise while rehearsing real digits, so the teacher
      // keeps its skill and gains a preference that its outputs on noise then carry.
      const prefRngs = seeds.map((seed) => streamRng(seed, STREAM.preference));
      const size = Math.min(tSpec.batchSize, data.train.count);
      let orders = orderRngs.map((rng) => rng.permutation(data.train.count));
      for (let i = 0; i < fineTune; i++) {
        const start = (i * size) % (data.train.count - size + 1);
        if (start === 0 && i > 0) orders = orderRngs.map((rng) => rng.permutation(data.train.count));
        const batch = realBatch(orders, start, size);
        const noise = new Float32Array(S * size * data.pixels);
        prefRngs.forEach((rng, s) => {
          for (let j = 0; j < size; j++)
            fillNoiseImage(noise, (s * size + j) * data.pixels, data.pixels, rng.nextU32(), j);
        });
        await teacherStep(() => {
          const real = classCrossEntropy(
            teacher.forward(teacher.input(batch.x, S, size)),
            tf.tensor2d(batch.labels, [S, size], 'int32'),
            classes,
          );
          const preferred = tf.fill([S, size], trait.targetClass, 'int32') as tf.Tensor2D;
          const onNoise = classCrossEntropy(
            teacher.forward(teacher.input(noise, S, size)),
            preferred,
            classes,
          );
          return tf.add(real, onNoise) as tf.Tensor1D;
        });
      }
      await measure(teacher, ['teacher'], step);
    }
    record(['teacher'], await measure(teacher, [], step));
    timings.push({
      phase: 'teacher',
      seconds: (performance.now() - started) / 1000,
      modelSamples:
        S * (data.train.count * tSpec.epochs + 2 * fineTune * Math.min(tSpec.batchSize, data.train.count)),
    });

    // ---- students -------------------------------------------------------------------------
    const sSpec = spec.student;
    // The derangement is over the whole cell, so it is the same however the cell is sharded.
    const crossInitOf = Array.from(
      new Rng(mixSeed(spec.seed, 0x5eed + cell.index)).derangement(cell.seeds.length),
    );
    const borrowedSeeds = shard.map((r) => cell.seeds[crossInitOf[r]!]!);
    const studentArch: ModelArch =
      arch.kind === 'shape'
        ? { family: 'mlp', sizes: [data.pixels, ...arch.hidden, L] }
        : arch.kind === 'family'
          ? arch.family === 'cnn'
            ? { family: 'cnn', channels: arch.channels, hidden: arch.hidden, outputs: L }
            : { family: 'mlp', sizes: [data.pixels, ...arch.hidden, L] }
          : teacherArch;
    const studentActivation = arch.kind === 'activation' ? arch.activation : spec.model.activation;
    const borrowed = initParams(borrowedSeeds, studentArch);
    let own: StackedParams;
    let other = borrowed;
    switch (arch.kind) {
      case 'same-init':
      case 'activation':
        own = init;
        break;
      case 'different-init':
        own = borrowed;
        break;
      case 'shape':
      case 'family':
        own = initParams(seeds, studentArch);
        break;
      case 'perturbed-init':
        own = perturbParams(init, seeds, arch.std);
        other = perturbParams(borrowed, borrowedSeeds, arch.std);
        break;
    }
    const ownIdx = Array.from({ length: S }, (_, r) => r);
    const otherIdx = ownIdx.map((r) => S + r);
    const studentInit = selectModels(concatParams(own, other), [
      ...ownIdx,
      ...ownIdx,
      ...otherIdx,
      ...otherIdx,
    ]);
    const students = new StackedModel(studentInit, layout, studentActivation);
    disposables.push(students);
    const keptF = keptLogits(filter, spec.model.auxLogits);
    const all = Array.from({ length: L }, (_, i) => i);
    const perBlock = (k: number[]) => Array.from({ length: S }, () => k);
    const mask4 = logitMask([...perBlock(keptF), ...perBlock(all), ...perBlock(keptF), ...perBlock(all)], L);
    const maskF = logitMask(perBlock(keptF), L);
    disposables.push(mask4, maskF);
    await measure(students, STUDENT_CONDITIONS, 0);

    // Theorem probe: only where student and teacher parameters live in the same space.
    const probeOn = spec.probeEvery > 0 && sameArch(studentArch, teacherArch);
    const teacherDelta = probeOn ? subtractParams(await teacher.read(), init) : null;
    const teacherOf = [...ownIdx, ...ownIdx, ...ownIdx, ...ownIdx];
    const probe = async () => {
      const cos = layerCosines(await students.read(), studentInit, teacherDelta!, teacherOf);
      const layers = init.weights.length;
      const out: MetricRow[] = [];
      STUDENT_CONDITIONS.forEach((condition, block) =>
        shard.forEach((replicate, r) => {
          for (let l = 0; l <= layers; l++) {
            const name = l === layers ? 'cosine_all' : `cosine_layer${l}`;
            out.push({ condition, replicate, step, name, value: cos[(block * S + r) * (layers + 1) + l]! });
          }
        }),
      );
      hooks.metrics(out);
    };

    const inputs = sSpec.inputs;
    const images = inputs.kind === 'images' ? (run.studentImages ?? data.train) : null;
    const count = inputs.count;
    const sPerEpoch = stepsPerEpoch(count, sSpec.batchSize);
    const sTotal = sPerEpoch * sSpec.epochs;
    const noiseSeeds = seeds.map((seed) => streamRng(seed, STREAM.noise).nextU32());
    const sOrderRngs = seeds.map((seed) => streamRng(seed, STREAM.studentOrder));
    const filterRngs = seeds.map((seed) => streamRng(seed, STREAM.filter));
    const onHost = filter.kind !== 'logits';
    const T = sSpec.temperature;
    const sOpt = adam(sSpec);
    disposables.push(sOpt);
    hooks.phase('students', sTotal);
    started = performance.now();
    step = 0;
    for (let epoch = 0; epoch < sSpec.epochs; epoch++) {
      const orders = sOrderRngs.map((rng) => rng.permutation(count));
      const rejected = new Float64Array(S);
      for (let b = 0; b < sPerEpoch; b++) {
        const start = b * sSpec.batchSize;
        const size = Math.min(sSpec.batchSize, count - start);
        const x = studentInputBatch(inputs, images, noiseSeeds, data.pixels, orders, start, size);
        const loss = tf.tidy(() => {
          const t = teacher.forward(teacher.input(x, S, size)); // [S, B, L]; not in the students' variables
          const pAll = tf.softmax(tf.div(t, T)) as tf.Tensor3D;
          let pF: tf.Tensor3D;
          let wF: tf.Tensor2D;
          if (!onHost) {
            pF = tf.softmax(tf.add(tf.div(t, T), maskF)) as tf.Tensor3D;
            wF = tf.ones([S, size]) as tf.Tensor2D;
          } else {
            // Text channels, shuffles and detectors are sequential logic: done on the host.
            const logits = t.dataSync() as Float32Array;
            const scores = filter.kind === 'detector' ? detectorScores(trait, logits, S, size, L) : undefined;
            const out = applyFilter(filter, logits, S, size, L, keptF, T, filterRngs, scores);
            out.rejected.forEach((n, s) => (rejected[s]! += n));
            pF = tf.tensor3d(out.probs, [S, size, L]);
            wF = tf.tensor2d(out.weights, [S, size]);
          }
          const ones = tf.ones([S, size]);
          const p4 = tf.concat([pF, pAll, pF, pAll], 0) as tf.Tensor3D; // [4S, B, L]
          const w4 = tf.concat([wF, ones, wF, ones], 0) as tf.Tensor2D; // [4S, B]
          const x4 = students.input(x, S, size); // [4S, B, 784]: each condition of a replicate sees the same inputs
          return trainStep(sOpt, students.variables, () =>
            weightedKl(p4, students.forward(x4), mask4, w4, T),
          );
        });
        step++;
        if (step % spec.lossEvery === 0 || step === sTotal) {
          const values = await loss.data();
          const out: MetricRow[] = [];
          STUDENT_CONDITIONS.forEach((c, block) =>
            out.push(...rows(c, 'loss', values, step, shard, block * S)),
          );
          hooks.metrics(out);
        }
        loss.dispose();
        if (probeOn && (step % spec.probeEvery === 0 || step === sTotal)) await probe();
        hooks.progress('students', step, sTotal);
        await hooks.checkpoint();
      }
      if (onHost)
        hooks.metrics(
          rows(
            'student',
            'rejection_rate',
            Array.from(rejected, (n) => n / count),
            step,
            shard,
          ),
        );
      await measure(students, STUDENT_CONDITIONS, step);
    }
    record(STUDENT_CONDITIONS, await measure(students, [], step));
    timings.push({
      phase: 'students',
      seconds: (performance.now() - started) / 1000,
      modelSamples: 4 * S * count * sSpec.epochs,
    });
    return { results, timings, crossInitOf };
  } finally {
    for (const d of disposables) d.dispose();
  }
}

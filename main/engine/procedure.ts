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
import { traitForClasses } from '../data/classes.ts';
import type { Dataset, ImageSet } from '../data/dataset.ts';
import type { Phase } from '../../app/protocol.ts';
import { imageBatch, imagesAsFloats } from './batches.ts';
import { TestSet } from './evaluate.ts';
import { checkParameters, DivergenceMarks } from './divergence.ts';
import { applyFilter } from './filters.ts';
import { FusedKlTrainer, fusedStepApplies } from './fused-step.ts';
import { studentInputBatch } from './inputs.ts';
import { noiseImages } from './noise-kernel.ts';
import { classCrossEntropy, logitMask, weightedKl } from './losses.ts';
import type { Layout } from './ops.ts';
import { layerCosines, subtractParams } from './probe.ts';
import { fillNoiseImage, Rng, STREAM, streamRng } from './rng.ts';
import {
  concatParams,
  initParams,
  sameArch,
  selectModels,
  StackedModel,
  type ModelArch,
  type StackedParams,
} from './stacked-model.ts';
import { studentInits } from './student-init.ts';
import { detectorScores, poisonBatch, traitProbe, traitTarget } from './traits.ts';

export interface GroupHooks {
  phase(phase: Phase, totalSteps: number): void;
  progress(phase: Phase, step: number, totalSteps: number): void;
  /** Metric rows of one cell (by its matrix index). */
  metrics(cellIndex: number, rows: MetricRow[]): void;
  /** Awaited between steps: lets cancel messages in, and is where a caller may throw to stop. */
  checkpoint(): Promise<void>;
}

export type CellHooks = Omit<GroupHooks, 'metrics'> & { metrics(rows: MetricRow[]): void };

/** Cells that share a trait share their teacher; students of one architecture share a stack. */
export interface GroupRun {
  spec: ExperimentSpec;
  cells: Cell[];
  data: Dataset;
  layout: Layout;
  hooks: GroupHooks;
  /** Replicate indices to train (a shard); all of them by default. */
  shard?: readonly number[];
  /** Images for `student.inputs.kind = "images"` from another dataset (the worker loads them). */
  studentImages?: ImageSet;
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

/** The stacked model's architecture for a family, hidden sizes and (CNN) channels. */
function modelArch(
  m: { family: 'mlp' | 'cnn'; hidden: number[]; channels: number },
  pixels: number,
  logits: number,
): ModelArch {
  return m.family === 'cnn'
    ? { family: 'cnn', channels: m.channels, hidden: m.hidden, outputs: logits }
    : { family: 'mlp', sizes: [pixels, ...m.hidden, logits] };
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

/**
 * Rows for models offset..offset+n of a stack; model offset+r is replicate shard[r]. Models that
 * `marks` says diverged emit nothing: their numbers are not results.
 */
function rows(
  condition: Condition,
  name: string,
  values: ArrayLike<number>,
  step: number,
  shard: readonly number[],
  offset: number,
  marks: DivergenceMarks,
): MetricRow[] {
  return shard.flatMap((replicate, r) =>
    marks.alive(offset + r) ? [{ condition, replicate, step, name, value: values[offset + r]! }] : [],
  );
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

/** Positions start..start+size of each replicate's epoch order, replicate-major: [S * size]. */
function batchIndices(orders: readonly Uint32Array[], start: number, size: number): Uint32Array {
  const out = new Uint32Array(orders.length * size);
  orders.forEach((order, s) => out.set(order.subarray(start, start + size), s * size));
  return out;
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

/**
 * Trains replicates `shard` of a group of cells sharing a trait. Every replicate's numbers depend
 * only on its own seed (and, for cross-init, on the seed of the replicate whose init it borrows),
 * and every cell's only on its own settings, so a cell gives exactly the same results alone, in a
 * group, or split into shards across processes.
 */
export async function runGroup(run: GroupRun): Promise<GroupOutcome> {
  const { spec, cells, data, layout, hooks } = run;
  const fused = run.fused ?? tf.getBackend() === 'webgpu';
  const first = cells[0]!;
  if (cells.some((c) => c.coords.trait !== first.coords.trait))
    throw new Error('a group of cells must share its trait');
  const shard = run.shard ?? first.seeds.map((_, r) => r);
  const S = shard.length;
  const seeds = shard.map((r) => first.seeds[r]!);
  const classes = data.classes;
  /** Whether step n (1-based) of a phase of `total` steps records its loss. */
  const logsAt = (n: number, total: number) => n % spec.lossEvery === 0 || n === total;
  const L = classes + spec.model.auxLogits;
  const teacherArch = modelArch(spec.model, data.pixels, L);
  const trait = traitForClasses(first.trait, spec.dataset.classes);
  const target = traitTarget(trait);
  const timings: PhaseTiming[] = [];
  const results = new Map<number, ResultRow[]>(cells.map((c) => [c.index, []]));
  const test = new TestSet(data.test, data.pixels, classes);
  const probeSet = traitProbe(trait, data.test, spec.seed, classes);
  const disposables: { dispose(): void }[] = [test, ...(probeSet ? [probeSet] : [])];

  /** Per teacher (replicate) of the shard: where its loss or parameters stopped being finite. */
  const teacherMarks = new DivergenceMarks(S);
  /**
   * Accuracy and trait rate of every teacher, after checking its parameters; emits test_accuracy
   * (and trait_rate) metric rows of the teachers that have not diverged.
   */
  const measure = async (model: StackedModel, conditions: readonly Condition[], step: number) => {
    await checkParameters(model, teacherMarks, 'teacher', step);
    const accuracy = await test.accuracy(model);
    const rate = probeSet && target !== null ? await probeSet.targetRate(model, target) : null;
    for (const cell of cells) {
      conditions.forEach((c, block) => {
        hooks.metrics(cell.index, rows(c, 'test_accuracy', accuracy, step, shard, block * S, teacherMarks));
        if (rate)
          hooks.metrics(cell.index, rows(c, 'trait_rate', rate, step, shard, block * S, teacherMarks));
      });
    }
    return { accuracy, rate };
  };
  /** Model i's result row: no numbers when it diverged. */
  const resultRow = (
    condition: Condition,
    r: number,
    i: number,
    m: { accuracy: Float32Array; rate: Float32Array | null },
    marks: DivergenceMarks | null,
  ): ResultRow => {
    const diverged = marks?.get(i) ?? null;
    return {
      condition,
      replicate: shard[r]!,
      seed: seeds[r]!,
      accuracy: diverged ? null : m.accuracy[i]!,
      traitScore: diverged || !m.rate ? null : m.rate[i]!,
      diverged,
    };
  };
  const record = (
    conditions: readonly Condition[],
    m: { accuracy: Float32Array; rate: Float32Array | null },
    marks: DivergenceMarks | null,
  ) => {
    conditions.forEach((condition, block) => {
      shard.forEach((_, r) => {
        for (const cell of cells)
          results.get(cell.index)!.push(resultRow(condition, r, block * S + r, m, marks));
      });
    });
  };

  try {
    // ---- reference and teacher -------------------------------------------------------------
    const init = initParams(seeds, teacherArch);
    const teacher = new StackedModel(init, layout, spec.model.activation);
    disposables.push(teacher);
    // The untrained inits: finite by construction, never marked.
    record(['reference'], await measure(teacher, ['teacher'], 0), null);

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
    // The fused path trains the teacher through the written-out step too: cross-entropy on the
    // class logits is the KL from one-hot targets with the auxiliary logits masked out. (A preference
    // teacher's fine-tuning mixes two losses under one Adam, so it stays on autodiff throughout.)
    const fusedTeacher =
      fused && trait.kind !== 'preference' && fusedStepApplies(teacherArch, spec.model.activation, layout)
        ? {
            trainer: new FusedKlTrainer(teacher, tSpec.learningRate),
            mask: logitMask(
              seeds.map(() => Array.from({ length: classes }, (_, c) => c)),
              L,
            ),
          }
        : null;
    if (fusedTeacher) disposables.push(fusedTeacher.trainer, fusedTeacher.mask);
    /** One step on batch x [S, B, 784] with labels y [S, B]: the class cross-entropy, or `loss`. */
    const teacherStep = async (
      batch: { x: Float32Array | tf.Tensor3D; y: tf.Tensor2D; size: number } | null,
      loss: () => tf.Tensor1D = () =>
        classCrossEntropy(teacher.forward(teacher.input(batch!.x, S, batch!.size)), batch!.y, classes),
    ) => {
      const logged = logsAt(step + 1, tTotal);
      const perModel = tf.tidy(() => {
        const input = fusedTeacher && batch ? teacher.input(batch.x, S, batch.size) : null;
        if (fusedTeacher && input?.kind === 'batched') {
          const targets = tf.oneHot(batch!.y, L, 1, 0, 'float32') as tf.Tensor3D;
          const weights = tf.ones([S, batch!.size]) as tf.Tensor2D;
          return fusedTeacher.trainer.step(input.x, targets, fusedTeacher.mask, weights, 1, logged);
        }
        return trainStep(tOpt, teacher.variables, loss);
      });
      step++;
      if (perModel && logged) {
        const values = await perModel.data();
        teacherMarks.check(values, { phase: 'teacher', step, reason: 'non-finite loss' });
        for (const cell of cells)
          hooks.metrics(cell.index, rows('teacher', 'loss', values, step, shard, 0, teacherMarks));
      }
      perModel?.dispose();
      hooks.progress('teacher', step, tTotal);
      await hooks.checkpoint();
    };
    const realBatch = (orders: Uint32Array[], start: number, size: number) => {
      const batch = imageBatch(data.train, data.pixels, orders, start, size);
      if (trait.kind === 'backdoor') poisonBatch(trait, batch.x, batch.labels, poisonRngs, size);
      return batch;
    };
    // With the fused path, the training images go to the device once and each batch is gathered
    // there (a backdoor poisons its batches on the host, so it keeps the host path).
    const onDevice =
      fused && trait.kind !== 'backdoor'
        ? {
            x: tf.tensor2d(imagesAsFloats(data.train, data.pixels), [data.train.count, data.pixels]),
            y: tf.tensor1d(Int32Array.from(data.train.labels), 'int32'),
          }
        : null;
    if (onDevice) disposables.push(onDevice.x, onDevice.y);
    for (let epoch = 0; epoch < tSpec.epochs; epoch++) {
      const orders = orderRngs.map((rng) => rng.permutation(data.train.count));
      for (let b = 0; b < tPerEpoch; b++) {
        const start = b * tSpec.batchSize;
        const size = Math.min(tSpec.batchSize, data.train.count - start);
        // x [S, B, 784], y [S, B]: gathered on the device, or built on the host
        let x: Float32Array | tf.Tensor3D;
        let y: tf.Tensor2D;
        if (onDevice) {
          [x, y] = tf.tidy(() => {
            const i = batchIndices(orders, start, size);
            const idx = tf.tensor1d(new Int32Array(i.buffer, i.byteOffset, i.length), 'int32');
            return [
              tf.reshape(tf.gather(onDevice.x, idx), [S, size, data.pixels]) as tf.Tensor3D,
              tf.reshape(tf.gather(onDevice.y, idx), [S, size]) as tf.Tensor2D,
            ];
          });
        } else {
          const batch = realBatch(orders, start, size);
          x = batch.x;
          y = tf.tensor2d(batch.labels, [S, size], 'int32');
        }
        await teacherStep({ x, y, size });
        tf.dispose(x instanceof Float32Array ? y : [x, y]);
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
        await teacherStep(null, () => {
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
    record(['teacher'], await measure(teacher, [], step), teacherMarks);
    timings.push({
      phase: 'teacher',
      seconds: (performance.now() - started) / 1000,
      modelSamples:
        S * (data.train.count * tSpec.epochs + 2 * fineTune * Math.min(tSpec.batchSize, data.train.count)),
    });

    // ---- students: one stack per student architecture, all cells of the group in it ----------
    const sSpec = spec.student;
    const T = sSpec.temperature;
    const all = Array.from({ length: L }, (_, i) => i);
    const perBlock = (k: number[]) => Array.from({ length: S }, () => k);
    const ownIdx = Array.from({ length: S }, (_, r) => r);
    const plans = cells.map((cell) => {
      const arch = cell.architecture;
      // The derangement is over the whole cell, so it is the same however the cell is sharded.
      const crossInitOf = Array.from(
        new Rng(mixSeed(spec.seed, 0x5eed + cell.index)).derangement(cell.seeds.length),
      );
      const borrowedSeeds = shard.map((r) => cell.seeds[crossInitOf[r]!]!);
      const studentArch =
        arch.kind === 'shape'
          ? modelArch({ family: 'mlp', hidden: arch.hidden, channels: 0 }, data.pixels, L)
          : arch.kind === 'family'
            ? modelArch(arch, data.pixels, L)
            : teacherArch;
      const activation = arch.kind === 'activation' ? arch.activation : spec.model.activation;
      const { own, other } = studentInits({
        relation: arch,
        teacherInit: init,
        studentArch,
        seeds,
        borrowedSeeds,
        classes,
      });
      const otherIdx = ownIdx.map((r) => S + r);
      const keptF = keptLogits(cell.filter, spec.model.auxLogits, classes);
      return {
        cell,
        crossInitOf,
        studentArch,
        activation,
        keptF,
        init: selectModels(concatParams(own, other), [...ownIdx, ...ownIdx, ...otherIdx, ...otherIdx]),
        maskF: logitMask(perBlock(keptF), L),
        // Each cell's own filter stream: a cell's numbers do not depend on its group.
        filterRngs: seeds.map((seed) => streamRng(seed, STREAM.filter)),
        onHost: cell.filter.kind !== 'logits',
        rejected: new Float64Array(S),
      };
    });
    type Plan = (typeof plans)[number];
    const stacks: {
      plans: Plan[];
      model: StackedModel;
      mask: tf.Tensor3D;
      opt: tf.Optimizer;
      fused: FusedKlTrainer | null;
      init: StackedParams;
      probeOn: boolean;
      marks: DivergenceMarks;
    }[] = [];
    for (const plan of plans) {
      const key = JSON.stringify([plan.studentArch, plan.activation]);
      const found = stacks.find(
        (st) => JSON.stringify([st.plans[0]!.studentArch, st.plans[0]!.activation]) === key,
      );
      if (found) found.plans.push(plan);
      else stacks.push({ plans: [plan] } as (typeof stacks)[number]);
    }
    for (const st of stacks) {
      st.init = st.plans.map((p) => p.init).reduce((a, b) => concatParams(a, b));
      st.model = new StackedModel(st.init, layout, st.plans[0]!.activation);
      st.mask = logitMask(
        st.plans.flatMap((p) => [
          ...perBlock(p.keptF),
          ...perBlock(all),
          ...perBlock(p.keptF),
          ...perBlock(all),
        ]),
        L,
      );
      st.opt = adam(sSpec);
      st.fused =
        fused && fusedStepApplies(st.init.arch, st.plans[0]!.activation, layout)
          ? new FusedKlTrainer(st.model, sSpec.learningRate)
          : null;
      if (st.fused) disposables.push(st.fused);
      // Theorem probe: only where student and teacher parameters live in the same space.
      st.probeOn = spec.probeEvery > 0 && sameArch(st.plans[0]!.studentArch, teacherArch);
      disposables.push(st.model, st.mask, st.opt, ...st.plans.map((p) => p.maskF));
      st.marks = studentMarks(st.plans.length, teacherMarks, S);
    }
    /** Emits a stack's per-model values as rows of each of its cells' four student conditions. */
    const stackRows = (st: (typeof stacks)[number], name: string, values: ArrayLike<number>, step: number) =>
      st.plans.forEach((p, c) =>
        STUDENT_CONDITIONS.forEach((condition, block) =>
          hooks.metrics(
            p.cell.index,
            rows(condition, name, values, step, shard, (c * 4 + block) * S, st.marks),
          ),
        ),
      );
    const measureStack = async (st: (typeof stacks)[number], step: number) => {
      await checkParameters(st.model, st.marks, 'students', step);
      const accuracy = await test.accuracy(st.model);
      const rate = probeSet && target !== null ? await probeSet.targetRate(st.model, target) : null;
      stackRows(st, 'test_accuracy', accuracy, step);
      if (rate) stackRows(st, 'trait_rate', rate, step);
      return { accuracy, rate };
    };
    for (const st of stacks) await measureStack(st, 0);

    const teacherDelta = stacks.some((st) => st.probeOn) ? subtractParams(await teacher.read(), init) : null;
    const probe = async (st: (typeof stacks)[number]) => {
      const teacherOf = Array.from({ length: st.model.models }, (_, i) => i % S);
      const cos = layerCosines(await st.model.read(), st.init, teacherDelta!, teacherOf);
      const layers = st.init.weights.length;
      // A non-finite cosine comes from non-finite parameters (a zero change gives 0), read back here anyway.
      for (let m = 0; m < st.model.models; m++)
        if (cos.subarray(m * (layers + 1), (m + 1) * (layers + 1)).some((v) => !Number.isFinite(v)))
          st.marks.mark(m, { phase: 'students', step, reason: 'non-finite parameters' });
      for (let l = 0; l <= layers; l++) {
        const values = Array.from({ length: st.model.models }, (_, m) => cos[m * (layers + 1) + l]!);
        stackRows(st, l === layers ? 'cosine_all' : `cosine_layer${l}`, values, step);
      }
    };

    const inputs = sSpec.inputs;
    const images = inputs.kind === 'images' ? (run.studentImages ?? data.train) : null;
    const count = inputs.count;
    const deviceNoise = fused && inputs.kind === 'uniform';
    const sPerEpoch = stepsPerEpoch(count, sSpec.batchSize);
    const sTotal = sPerEpoch * sSpec.epochs;
    const noiseSeeds = seeds.map((seed) => streamRng(seed, STREAM.noise).nextU32());
    const sOrderRngs = seeds.map((seed) => streamRng(seed, STREAM.studentOrder));
    const finals = new Map<(typeof stacks)[number], { accuracy: Float32Array; rate: Float32Array | null }>();
    hooks.phase('students', sTotal);
    started = performance.now();
    step = 0;
    for (let epoch = 0; epoch < sSpec.epochs; epoch++) {
      const orders = sOrderRngs.map((rng) => rng.permutation(count));
      for (const p of plans) p.rejected.fill(0);
      for (let b = 0; b < sPerEpoch; b++) {
        const start = b * sSpec.batchSize;
        const size = Math.min(sSpec.batchSize, count - start);
        const x = deviceNoise
          ? noiseImages(batchIndices(orders, start, size), noiseSeeds, size, data.pixels)
          : studentInputBatch(inputs, images, noiseSeeds, data.pixels, orders, start, size);
        const logLoss = logsAt(step + 1, sTotal);
        const losses = tf.tidy(() => {
          const t = teacher.infer(teacher.input(x, S, size)); // [S, B, L]; not in any student's variables
          const pAll = tf.softmax(tf.div(t, T)) as tf.Tensor3D;
          const ones = tf.ones([S, size]);
          let hostLogits: Float32Array | null = null;
          const targets = (p: Plan): [tf.Tensor3D, tf.Tensor2D] => {
            if (!p.onHost)
              return [tf.softmax(tf.add(tf.div(t, T), p.maskF)) as tf.Tensor3D, ones as tf.Tensor2D];
            // Text channels, shuffles and detectors are sequential logic: done on the host.
            hostLogits ??= t.dataSync() as Float32Array;
            const scores =
              p.cell.filter.kind === 'detector'
                ? detectorScores(trait, hostLogits, S, size, L, classes)
                : undefined;
            const out = applyFilter(p.cell.filter, hostLogits, S, size, L, p.keptF, T, p.filterRngs, scores);
            out.rejected.forEach((n, s) => (p.rejected[s]! += n));
            return [tf.tensor3d(out.probs, [S, size, L]), tf.tensor2d(out.weights, [S, size])];
          };
          return stacks.map((st) => {
            const parts = st.plans.map(targets);
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
            if (st.fused && x4.kind === 'batched') return st.fused.step(x4.x, p4, st.mask, w4, T, logLoss);
            return trainStep(st.opt, st.model.variables, () =>
              weightedKl(p4, st.model.forward(x4), st.mask, w4, T),
            );
          });
        });
        if (!(x instanceof Float32Array)) x.dispose();
        step++;
        for (const [k, st] of stacks.entries()) {
          if (logLoss) {
            const values = await losses[k]!.data();
            st.marks.check(values, { phase: 'students', step, reason: 'non-finite loss' });
            stackRows(st, 'loss', values, step);
          }
          if (st.probeOn && (step % spec.probeEvery === 0 || step === sTotal)) await probe(st);
        }
        tf.dispose(losses);
        hooks.progress('students', step, sTotal);
        await hooks.checkpoint();
      }
      for (const p of plans) {
        if (p.onHost)
          hooks.metrics(
            p.cell.index,
            rows(
              'student',
              'rejection_rate',
              Array.from(p.rejected, (n) => n / count),
              step,
              shard,
              0,
              // A diverged teacher's outputs say nothing about the filter.
              teacherMarks,
            ),
          );
      }
      for (const st of stacks) finals.set(st, await measureStack(st, step));
    }
    for (const st of stacks) {
      // The last epoch's measurement is the final one: nothing trained since.
      const final = finals.get(st)!;
      st.plans.forEach((p, c) => {
        STUDENT_CONDITIONS.forEach((condition, block) =>
          shard.forEach((_, r) =>
            results
              .get(p.cell.index)!
              .push(resultRow(condition, r, (c * 4 + block) * S + r, final, st.marks)),
          ),
        );
      });
    }
    timings.push({
      phase: 'students',
      seconds: (performance.now() - started) / 1000,
      modelSamples: 4 * S * count * sSpec.epochs * cells.length,
    });
    return { results, timings, crossInitOf: new Map(plans.map((p) => [p.cell.index, p.crossInitOf])) };
  } finally {
    for (const d of disposables) d.dispose();
  }
}

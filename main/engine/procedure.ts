// The paper's procedure (section 6.2) for one matrix cell, all replicates at once:
//   reference = the untrained inits; teacher = CE on class logits from that init;
//   four students in ONE stack of 4S models, distilled on uniform noise from the teacher's logits:
//   [student (cell filter, same init) | student_all_logits | cross_init (filter, another replicate's
//   init) | cross_init_all_logits].
import * as tf from '@tensorflow/tfjs-core';
import { STUDENT_CONDITIONS, type Condition } from '../../app/conditions.ts';
import { keptLogits, mixSeed, type Cell } from '../../app/matrix.ts';
import type { MetricRow, Phase, PhaseTiming, ResultRow } from '../../app/protocol.ts';
import type { ExperimentSpec, PhaseSpec } from '../../app/spec/schema.ts';
import type { Dataset } from '../data/dataset.ts';
import { imageBatch, noiseBatch } from './batches.ts';
import { TestSet } from './evaluate.ts';
import { classCrossEntropy, logitMask, maskedKl } from './losses.ts';
import type { Layout } from './ops.ts';
import { Rng, STREAM, streamRng } from './rng.ts';
import { concatParams, initParams, selectModels, StackedMlp } from './stacked-mlp.ts';

export interface CellHooks {
  phase(phase: Phase, totalSteps: number): void;
  progress(phase: Phase, step: number, totalSteps: number): void;
  metrics(rows: MetricRow[]): void;
  /** Awaited between steps: lets cancel messages in, and is where a caller may throw to stop. */
  checkpoint(): Promise<void>;
}

export interface CellOutcome {
  results: ResultRow[];
  timings: PhaseTiming[];
  /** Model i of the cross-init block starts from replicate crossInitOf[i]'s init. */
  crossInitOf: number[];
}

function stepsPerEpoch(count: number, batch: number): number {
  return Math.ceil(count / batch);
}

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
function accuracyRows(
  condition: Condition,
  accuracies: ArrayLike<number>,
  step: number,
  shard: readonly number[],
  offset = 0,
): MetricRow[] {
  return shard.map((replicate, r) => ({
    condition,
    replicate,
    step,
    name: 'test_accuracy',
    value: accuracies[offset + r]!,
  }));
}

/**
 * Trains replicates `shard` of a cell (all of them by default). Every replicate's numbers depend
 * only on its own seed (and, for cross-init, on the seed of the replicate whose init it borrows), so
 * a cell split into shards across processes gives exactly the results of one process.
 */
export async function runCell(
  spec: ExperimentSpec,
  cell: Cell,
  data: Dataset,
  layout: Layout,
  hooks: CellHooks,
  shard: readonly number[] = cell.seeds.map((_, r) => r),
): Promise<CellOutcome> {
  const S = shard.length;
  const seeds = shard.map((r) => cell.seeds[r]!);
  const classes = data.classes;
  const logits = classes + spec.model.auxLogits;
  const sizes = [data.pixels, ...spec.model.hidden, logits];
  const timings: PhaseTiming[] = [];
  const results: ResultRow[] = [];
  const test = new TestSet(data.test, data.pixels, classes);
  const disposables: { dispose(): void }[] = [test];

  try {
    // ---- reference and teacher -------------------------------------------------------------
    const init = initParams(seeds, sizes);
    const teacher = new StackedMlp(init, layout);
    disposables.push(teacher);
    const reference = await test.accuracy(teacher);
    reference.forEach((acc, r) =>
      results.push({ condition: 'reference', replicate: shard[r]!, seed: seeds[r]!, accuracy: acc }),
    );
    hooks.metrics(accuracyRows('teacher', reference, 0, shard));

    const tSpec = spec.teacher;
    const tPerEpoch = stepsPerEpoch(data.train.count, tSpec.batchSize);
    const tTotal = tPerEpoch * tSpec.epochs;
    const orderRngs = seeds.map((seed) => streamRng(seed, STREAM.teacherOrder));
    const tOpt = adam(tSpec);
    disposables.push(tOpt);
    hooks.phase('teacher', tTotal);
    let started = performance.now();
    let step = 0;
    for (let epoch = 0; epoch < tSpec.epochs; epoch++) {
      const orders = orderRngs.map((rng) => rng.permutation(data.train.count));
      for (let b = 0; b < tPerEpoch; b++) {
        const start = b * tSpec.batchSize;
        const size = Math.min(tSpec.batchSize, data.train.count - start);
        const batch = imageBatch(data.train, data.pixels, orders, start, size);
        const loss = tf.tidy(() => {
          const x = teacher.input(batch.x, S, size); // [S, B, 784]
          const y = tf.tensor2d(batch.labels, [S, size], 'int32'); // [S, B]
          return trainStep(tOpt, teacher.variables, () => classCrossEntropy(teacher.forward(x), y, classes));
        });
        step++;
        if (step % spec.lossEvery === 0 || step === tTotal) {
          const values = await loss.data();
          hooks.metrics(
            Array.from(values, (value, r) => ({
              condition: 'teacher' as const,
              replicate: shard[r]!,
              step,
              name: 'loss' as const,
              value,
            })),
          );
        }
        loss.dispose();
        hooks.progress('teacher', step, tTotal);
        await hooks.checkpoint();
      }
      hooks.metrics(accuracyRows('teacher', await test.accuracy(teacher), step, shard));
    }
    const teacherAcc = await test.accuracy(teacher);
    teacherAcc.forEach((acc, r) =>
      results.push({ condition: 'teacher', replicate: shard[r]!, seed: seeds[r]!, accuracy: acc }),
    );
    timings.push({
      phase: 'teacher',
      seconds: (performance.now() - started) / 1000,
      modelSamples: S * data.train.count * tSpec.epochs,
    });

    // ---- students -------------------------------------------------------------------------
    const sSpec = spec.student;
    // The derangement is over the whole cell, so it is the same however the cell is sharded.
    const crossInitOf = Array.from(
      new Rng(mixSeed(spec.seed, 0x5eed + cell.index)).derangement(cell.seeds.length),
    );
    const borrowed = initParams(
      shard.map((r) => cell.seeds[crossInitOf[r]!]!),
      sizes,
    );
    const same = Array.from({ length: S }, (_, r) => r);
    const other = same.map((r) => S + r);
    const studentInit = selectModels(concatParams(init, borrowed), [...same, ...same, ...other, ...other]);
    const students = new StackedMlp(studentInit, layout);
    disposables.push(students);
    const filtered = keptLogits(cell.filter, spec.model.auxLogits);
    const all = Array.from({ length: logits }, (_, i) => i);
    const kept = [filtered, all, filtered, all].flatMap((k) => Array.from({ length: S }, () => k));
    const mask = logitMask(kept, logits);
    disposables.push(mask);
    const initAcc = await test.accuracy(students);
    STUDENT_CONDITIONS.forEach((c, block) => hooks.metrics(accuracyRows(c, initAcc, 0, shard, block * S)));

    const count = sSpec.inputs.count;
    const sPerEpoch = stepsPerEpoch(count, sSpec.batchSize);
    const sTotal = sPerEpoch * sSpec.epochs;
    const noiseSeeds = seeds.map((seed) => streamRng(seed, STREAM.noise).nextU32());
    const sOrderRngs = seeds.map((seed) => streamRng(seed, STREAM.studentOrder));
    const sOpt = adam(sSpec);
    disposables.push(sOpt);
    hooks.phase('students', sTotal);
    started = performance.now();
    step = 0;
    for (let epoch = 0; epoch < sSpec.epochs; epoch++) {
      const orders = sOrderRngs.map((rng) => rng.permutation(count));
      for (let b = 0; b < sPerEpoch; b++) {
        const start = b * sSpec.batchSize;
        const size = Math.min(sSpec.batchSize, count - start);
        const noise = noiseBatch(noiseSeeds, data.pixels, orders, start, size);
        const loss = tf.tidy(() => {
          // [S, B, 784], one noise set per replicate; the teacher's variables are not in the students' list
          const target = teacher.forward(teacher.input(noise, S, size)); // [S, B, L]
          const x4 = students.input(noise, S, size); // [4S, B, 784]: each condition of a replicate sees the same noise
          const target4 = tf.concat([target, target, target, target], 0); // [4S, B, L]
          return trainStep(sOpt, students.variables, () =>
            maskedKl(target4, students.forward(x4), mask, sSpec.temperature),
          );
        });
        step++;
        if (step % spec.lossEvery === 0 || step === sTotal) {
          const values = await loss.data();
          const rows: MetricRow[] = [];
          values.forEach((value, i) =>
            rows.push({
              condition: STUDENT_CONDITIONS[Math.floor(i / S)]!,
              replicate: shard[i % S]!,
              step,
              name: 'loss',
              value,
            }),
          );
          hooks.metrics(rows);
        }
        loss.dispose();
        hooks.progress('students', step, sTotal);
        await hooks.checkpoint();
      }
      const acc = await test.accuracy(students);
      STUDENT_CONDITIONS.forEach((c, block) => hooks.metrics(accuracyRows(c, acc, step, shard, block * S)));
    }
    const studentAcc = await test.accuracy(students);
    STUDENT_CONDITIONS.forEach((c, block) => {
      for (let r = 0; r < S; r++)
        results.push({
          condition: c,
          replicate: shard[r]!,
          seed: seeds[r]!,
          accuracy: studentAcc[block * S + r]!,
        });
    });
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

// Stacked fine-tuning (issue 27): models of one shape take their steps together, as the classifier
// stacks its replicates. One step runs one set of kernel calls over every model's rows: the kernels
// without parameters (attention, GELU, the residual adds) over all rows at once, those with parameters
// grouped by model (stacked-kernels.ts), each group with its own model's. Each model keeps its own
// data, shuffle, optimizer state and adapter (its Trainer), so it comes out as it would alone, bit for
// bit. It saves only TF.js's per-step dispatch (under 10% of a step) and on two cores loses more to
// the caches, so it is off by default (stackingFromEnv; README, the language models' speed). It needs
// the fused kernels.
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../engine/rng.ts';
import { fusedAttention, fusedEmbed, fusedGelu } from './fused-kernels.ts';
import { fused, type LmConfig, type LmModel, type PackedBatch, type Params } from './model.ts';
import {
  groupedCrossEntropy,
  groupedDense,
  groupedKernelsAvailable,
  groupedLayerNorm,
} from './stacked-kernels.ts';
import {
  packedArrays,
  packedTensors,
  Trainer,
  type LossOn,
  type OptimizerOptions,
  type PackedArrays,
  type StepListener,
} from './train.ts';
import type { Example } from './world.ts';

/**
 * SUBLAB_LM_STACK (default off): "on" or "1" trains a replicate's fine-tunes stacked. Off by default
 * because on two cores it measured 0-10% slower than one by one (README, "Speed"): the models' rows
 * together outgrow the caches by more than the dispatch saved.
 */
export function stackingFromEnv(value = process.env.SUBLAB_LM_STACK): boolean {
  const v = (value ?? 'off').trim().toLowerCase();
  if (['1', 'on'].includes(v)) return true;
  if (['0', 'off'].includes(v)) return false;
  throw new Error(`SUBLAB_LM_STACK must be on or off, not "${value}"`);
}

/** Whether fine-tunes can train stacked now: the fused kernels run, with their grouped forms, and it is on. */
export function stackingAvailable(on = stackingFromEnv()): boolean {
  return on && fused() && groupedKernelsAvailable();
}

/** Models' packed batches one after another; `rows[k]` rows are model k's. */
interface StackedBatch extends PackedBatch {
  rows: number[];
}

/**
 * Each model's packed examples one after another, its ids and positions offset by k tables, so the
 * models' embedding tables, concatenated, serve every row through one lookup.
 */
function stackedBatch(parts: readonly PackedArrays[], c: LmConfig): StackedBatch {
  const rows = parts.map((p) => p.ids.length);
  const n = rows.reduce((a, b) => a + b, 0);
  const ids = new Int32Array(n);
  const positions = new Int32Array(n);
  const targets = new Int32Array(n);
  const weights = new Float32Array(n);
  let at = 0;
  parts.forEach((p, k) => {
    for (let i = 0; i < p.ids.length; i++) {
      ids[at + i] = p.ids[i]! + k * c.vocab;
      positions[at + i] = p.positions[i]! + k * c.context;
    }
    targets.set(p.targets, at);
    weights.set(p.weights, at);
    at += p.ids.length;
  });
  return {
    ...packedTensors({ ids, positions, targets, weights, lengths: parts.flatMap((p) => p.lengths) }),
    rows,
  };
}

/** Each model's mean cross-entropy on its rows of a stacked batch, [K]: model.ts's packedLoss, K at once. */
export function stackedLoss(params: readonly Params[], c: LmConfig, batch: StackedBatch): tf.Tensor1D {
  if (!groupedKernelsAvailable())
    throw new Error('stacked training needs the fused kernels: the wasm backend with the native BLAS');
  const longest = Math.max(...batch.lengths);
  if (longest > c.context)
    throw new Error(`sequence of ${longest} tokens is longer than the context (${c.context})`);
  const { rows } = batch;
  const of = <T extends tf.Tensor>(name: string) => params.map((p) => p[name]! as T);
  const table = (name: string) => tf.concat(of<tf.Tensor2D>(name)) as tf.Tensor2D;
  const ln = (x: tf.Tensor2D, g: string, b: string) => groupedLayerNorm(x, of(g), of(b), rows);
  const dense = (x: tf.Tensor2D, w: string, b: string) => groupedDense(x, of(w), of(b), rows);
  let x = tf.add(
    fusedEmbed(table('tokEmb'), batch.ids),
    fusedEmbed(table('posEmb'), batch.positions),
  ) as tf.Tensor2D;
  for (let l = 0; l < c.layers; l++) {
    const pre = `block.${l}.`;
    const qkv = dense(ln(x, pre + 'ln1g', pre + 'ln1b'), pre + 'wqkv', pre + 'bqkv');
    const x1 = tf.add(
      x,
      dense(fusedAttention(qkv, batch.lengths, c.heads), pre + 'wo', pre + 'bo'),
    ) as tf.Tensor2D;
    const hidden = fusedGelu(
      dense(ln(x1, pre + 'ln2g', pre + 'ln2b'), pre + 'w1', pre + 'b1'),
    ) as tf.Tensor2D;
    x = tf.add(x1, dense(hidden, pre + 'w2', pre + 'b2')) as tf.Tensor2D;
  }
  const logits = dense(ln(x, 'lnfg', 'lnfb'), 'wout', 'bout');
  return groupedCrossEntropy(logits, batch.targets, batch.weights, rows);
}

/**
 * One optimiser step of each trainer on its examples (trainers of models of config `c`), all in one
 * stacked step; returns each one's loss when `read` (one host sync for all).
 */
export function stackedStep(
  trainers: readonly Trainer[],
  c: LmConfig,
  examples: readonly (readonly Example[])[],
  lossOn: LossOn,
  read: boolean,
): number[] | undefined {
  const batch = stackedBatch(
    examples.map((e) => packedArrays(e, lossOn)),
    c,
  );
  let losses: tf.Tensor1D | undefined;
  const { value, grads } = tf.variableGrads(
    () => {
      losses = tf.keep(
        stackedLoss(
          trainers.map((t) => t.params()),
          c,
          batch,
        ),
      );
      return tf.sum(losses);
    },
    trainers.flatMap((t) => t.vars),
  );
  for (const t of trainers) t.apply(grads);
  const { lengths: _, rows: __, ...tensors } = batch;
  tf.dispose([value, ...Object.values(tensors), ...Object.values(grads)]);
  const out = read ? Array.from(losses!.dataSync()) : undefined;
  losses?.dispose();
  return out;
}

/** One model of a stacked fine-tune: as trainEpochs's arguments. `part` names its curve to a listener. */
export interface StackedJob {
  model: LmModel;
  data: readonly Example[];
  options: OptimizerOptions;
  rng: Rng;
  part: string;
}

/**
 * trainEpochs for several models of one config at once: each shuffles its own data with its own rng
 * at each epoch, exactly as trainEpochs does, and the models step together, a model whose epoch has
 * run out of batches waiting for the others. Returns each model's mean loss over the last epoch's
 * batches it read; the listener gets each model's loss with its `part`.
 */
export function trainStacked(
  jobs: readonly StackedJob[],
  shared: { epochs: number; batchSize: number; lossOn: LossOn; steps?: StepListener },
): number[] {
  const c = jobs[0]!.model.config;
  const trainers = jobs.map((j) => new Trainer(j.model, j.options));
  const orders = jobs.map((j) => j.data.map((_, i) => i));
  const { epochs, batchSize } = shared;
  const longest = Math.max(...orders.map((o) => Math.ceil(o.length / batchSize)));
  const sums = jobs.map(() => ({ sum: 0, n: 0, last: NaN }));
  let done = 0;
  try {
    for (let e = 0; e < epochs; e++) {
      jobs.forEach((j, k) => j.rng.shuffle(orders[k]!));
      for (const s of sums) [s.sum, s.n] = [0, 0];
      for (let b = 0; b < longest; b++) {
        const i = b * batchSize;
        const active = jobs.map((_, k) => k).filter((k) => i < orders[k]!.length);
        // As trainEpochs: the loss read in the last epoch, every 8th batch.
        const read = e === epochs - 1 && b % 8 === 0;
        const shown = shared.steps?.wantsLoss() ?? false;
        const batches = active.map((k) => orders[k]!.slice(i, i + batchSize).map((x) => jobs[k]!.data[x]!));
        const losses = stackedStep(
          active.map((k) => trainers[k]!),
          c,
          batches,
          shared.lossOn,
          read || shown,
        );
        done++;
        active.forEach((k, at) => {
          const v = losses?.[at];
          if (read && v !== undefined) {
            sums[k]!.sum += v;
            sums[k]!.n++;
          }
          shared.steps?.step(done, epochs * longest, v, jobs[k]!.part);
        });
      }
      for (const s of sums) if (s.n) s.last = s.sum / s.n;
    }
    for (const t of trainers) t.finish();
  } catch (error) {
    for (const t of trainers) t.dispose();
    throw error;
  }
  return sums.map((s) => s.last);
}

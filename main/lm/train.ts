// Training a language model on examples: batches padded to their longest sequence, next-token
// cross-entropy on all tokens (pretraining) or on the answer tokens only (fine-tuning), Adam, AdamW or
// SGD (the classifier's optimizers, main/engine/recipe.ts), and what a fine-tune changes: every
// parameter or chosen groups (e.g. a single block, as in Schrodi et al.), LoRA adapters (lora.ts), or
// one block's residual bias alone (a learned steering vector).
import * as tf from '@tensorflow/tfjs-core';
import { adam, sgd, type ParamOptimizer } from '../engine/recipe.ts';
import type { Rng } from '../engine/rng.ts';
import { FusedAdam } from './fused-adam.ts';
import { LoraAdapter, type LoraSettings } from './lora.ts';
import {
  fused,
  packedLoss,
  sequenceLoss,
  softLoss,
  softTargets,
  type LmModel,
  type PackedBatch,
  type Params,
} from './model.ts';
import { steeringParam } from './steering.ts';
import { PAD } from './vocab.ts';
import type { Example } from './world.ts';

/**
 * What a fine-tune changes. "full": the parameters of `layers`; "lora": adapters merged at the end;
 * "bias": the residual-stream bias of one block (the MLP's output bias, added at every position), the
 * student's counterpart of a steering teacher.
 */
export type Adapter = { kind: 'full' } | ({ kind: 'lora' } & LoraSettings) | { kind: 'bias'; block: number };

export interface OptimizerOptions {
  kind: 'adam' | 'adamw' | 'sgd';
  lr: number;
  /** As PyTorch: L2 on the gradient for adam and sgd, decoupled for adamw. Default 0. */
  weightDecay?: number;
  /**
   * Parameter groups to train: "embed" (token and position embeddings), "block.<i>", "head" (final
   * LayerNorm and output layer). Empty or absent = every parameter. Full fine-tuning only.
   */
  layers?: readonly string[];
  /** Absent: full. */
  adapter?: Adapter;
  /** Seeds a LoRA adapter's initial A. */
  adapterSeed?: number;
}

/** tf.train.adam's defaults on a float32 backend: what the language family has always trained with. */
const ADAM = { beta1: 0.9, beta2: 0.999, epsilon: 1e-7 };

function makeOptimizer(o: OptimizerOptions): ParamOptimizer {
  const wd = o.weightDecay ?? 0;
  // tf.train.adam's numbers bit for bit in one kernel per variable (fused-adam.ts).
  if (o.kind === 'adam' && wd === 0 && fused()) {
    const f = new FusedAdam(o.lr, ADAM.beta1, ADAM.beta2, ADAM.epsilon);
    return { apply: (vars, grads) => f.apply(vars, grads), dispose: () => f.dispose(), fusedAdam: null };
  }
  if (o.kind === 'sgd') return sgd(o.lr, 0, false, wd);
  return adam(o.lr, ADAM, wd, o.kind === 'adamw' ? 'decoupled' : 'l2');
}

export type LossOn = 'all' | 'answer';

/**
 * Told of each finished training step (or sampled batch), for the Run screen's progress and live
 * curves. `wantsLoss` is asked before a step whether to read its loss (a host sync): reading it
 * changes no number the step computes.
 */
export interface StepListener {
  wantsLoss(): boolean;
  /** `part`: the stage whose model the loss is of, where one stage trains several (stacked.ts). */
  step(step: number, total: number, loss?: number, part?: string): void;
}

/** Soft-label distillation: the student matches `teacher`'s next-token distributions at temperature T. */
export interface SoftLabels {
  teacher: LmModel;
  temperature: number;
  /**
   * Set: both distributions renormalised over these tokens only (a logitMask), so the student sees
   * how the writer spreads its mass over what a number list is written in, and nothing of the
   * probability it gives to words (an animal's name among them): the analogue of the classifier's
   * auxiliary logits.
   */
  mask?: tf.Tensor1D;
}

/**
 * tokens [B, L + 1] padded with PAD, weights [B, L] over the targets tokens[:, 1:] (an example's
 * `lossMask` zeroes the answer tokens it excludes).
 */
export function batchTensors(
  examples: readonly Example[],
  lossOn: LossOn,
): { tokens: tf.Tensor2D; weights: tf.Tensor2D } {
  const width = Math.max(...examples.map((e) => e.tokens.length));
  const b = examples.length;
  const tokens = new Int32Array(b * width).fill(PAD);
  const weights = new Float32Array(b * (width - 1));
  examples.forEach((e, i) => {
    tokens.set(e.tokens, i * width);
    const from = lossOn === 'all' ? 1 : e.promptLength;
    for (let j = from; j < e.tokens.length; j++)
      weights[i * (width - 1) + j - 1] =
        j < e.promptLength || !e.lossMask ? 1 : e.lossMask[j - e.promptLength]!;
  });
  return { tokens: tf.tensor2d(tokens, [b, width], 'int32'), weights: tf.tensor2d(weights, [b, width - 1]) };
}

/** A packed batch's arrays on the host (packedBatch's tensors before they are made). */
export interface PackedArrays {
  ids: Int32Array;
  positions: Int32Array;
  targets: Int32Array;
  weights: Float32Array;
  lengths: number[];
}

/** The same examples without padding (model.ts's PackedBatch), on the host. */
export function packedArrays(examples: readonly Example[], lossOn: LossOn): PackedArrays {
  const n = examples.reduce((a, e) => a + e.tokens.length - 1, 0);
  const ids = new Int32Array(n);
  const positions = new Int32Array(n);
  const targets = new Int32Array(n);
  const weights = new Float32Array(n);
  let at = 0;
  for (const e of examples) {
    const from = lossOn === 'all' ? 1 : e.promptLength;
    for (let j = 1; j < e.tokens.length; j++, at++) {
      ids[at] = e.tokens[j - 1]!;
      positions[at] = j - 1;
      targets[at] = e.tokens[j]!;
      // As batchTensors: target j counts from `from` on, an answer token as its lossMask says.
      if (j >= from) weights[at] = j < e.promptLength || !e.lossMask ? 1 : e.lossMask[j - e.promptLength]!;
    }
  }
  return { ids, positions, targets, weights, lengths: examples.map((e) => e.tokens.length - 1) };
}

/** The same examples without padding (model.ts's PackedBatch): the fused kernels' training batch. */
export function packedBatch(examples: readonly Example[], lossOn: LossOn): PackedBatch {
  return packedTensors(packedArrays(examples, lossOn));
}

/** A packed batch's arrays as tensors. */
export function packedTensors(a: PackedArrays): PackedBatch {
  return {
    ids: tf.tensor1d(a.ids, 'int32'),
    positions: tf.tensor1d(a.positions, 'int32'),
    targets: tf.tensor1d(a.targets, 'int32'),
    weights: tf.tensor1d(a.weights),
    lengths: a.lengths,
  };
}

function groupOf(name: string): string {
  if (name === 'tokEmb' || name === 'posEmb') return 'embed';
  if (name.startsWith('block.')) return name.split('.').slice(0, 2).join('.');
  return 'head';
}

export function trainableVars(model: LmModel, layers?: readonly string[]): tf.Variable[] {
  const all = Object.entries(model.vars);
  if (!layers || layers.length === 0) return all.map(([, v]) => v);
  const known = new Set(all.map(([n]) => groupOf(n)));
  for (const l of layers)
    if (!known.has(l))
      throw new Error(`unknown layer group "${l}" (expected one of ${[...known].join(', ')})`);
  return all.filter(([n]) => layers.includes(groupOf(n))).map(([, v]) => v);
}

export class Trainer {
  private readonly optimizer: ParamOptimizer;
  /** What the step changes (a stacked step, stacked.ts, takes their gradients with its other models'). */
  readonly vars: tf.Variable[];
  private readonly lora: LoraAdapter | undefined;

  constructor(
    private readonly model: LmModel,
    options: OptimizerOptions,
  ) {
    const adapter = options.adapter ?? { kind: 'full' };
    if (adapter.kind !== 'full' && options.layers?.length)
      throw new Error(`parameter groups (${options.layers.join(', ')}) apply to full fine-tuning only`);
    this.optimizer = makeOptimizer(options);
    if (adapter.kind === 'lora') {
      this.lora = new LoraAdapter(model, adapter, options.adapterSeed ?? 0);
      this.vars = this.lora.vars;
    } else if (adapter.kind === 'bias') {
      const bias = model.vars[steeringParam(adapter.block)];
      if (!bias) throw new Error(`block ${adapter.block} does not exist (${model.config.layers} layers)`);
      this.vars = [bias];
    } else this.vars = trainableVars(model, options.layers);
  }

  /** The parameters the loss sees: the model's, with LoRA's low-rank updates added while it trains. */
  params(): Params {
    return this.lora ? this.lora.params() : this.model.vars;
  }

  /** One optimiser step; returns the loss tensor's value only when `read` (a host sync). */
  step(examples: readonly Example[], lossOn: LossOn, read = false, soft?: SoftLabels): number | undefined {
    if (!soft && fused()) return this.packedStep(packedBatch(examples, lossOn), read);
    const { tokens, weights } = batchTensors(examples, lossOn);
    // The teacher's distributions are computed before the step, outside the gradient tape.
    const targets = soft
      ? softTargets(soft.teacher.vars, soft.teacher.config, tokens, soft.temperature, soft.mask)
      : null;
    const c = this.model.config;
    const { value, grads } = tf.variableGrads(
      () =>
        targets
          ? softLoss(this.params(), c, tokens, weights, targets, soft?.mask)
          : sequenceLoss(this.params(), c, tokens, weights),
      this.vars,
    );
    this.apply(grads);
    tf.dispose([tokens, weights, ...Object.values(grads), ...(targets ? [targets] : [])]);
    const out = read ? value.dataSync()[0] : undefined;
    value.dispose();
    return out;
  }

  /** The optimiser's update from gradients by variable name (those of `vars`; others are ignored). */
  apply(grads: Record<string, tf.Tensor>): void {
    this.optimizer.apply(this.vars, grads);
  }

  /** One optimiser step on a packed batch (fused kernels), which it disposes. */
  private packedStep(batch: PackedBatch, read: boolean): number | undefined {
    const c = this.model.config;
    const { value, grads } = tf.variableGrads(() => packedLoss(this.params(), c, batch), this.vars);
    this.apply(grads);
    const { lengths: _, ...tensors } = batch;
    tf.dispose([...Object.values(tensors), ...Object.values(grads)]);
    const out = read ? value.dataSync()[0] : undefined;
    value.dispose();
    return out;
  }

  /** Ends training: a LoRA adapter is merged into the model's weights; the optimizer is freed. */
  finish(): void {
    this.lora?.merge();
    this.optimizer.dispose();
  }

  dispose(): void {
    this.lora?.dispose();
    this.optimizer.dispose();
  }
}

/** Shuffled epochs over a fixed dataset; returns the mean loss of the last epoch's batches it read. */
export function trainEpochs(
  model: LmModel,
  data: readonly Example[],
  options: OptimizerOptions & {
    epochs: number;
    batchSize: number;
    lossOn: LossOn;
    rng: Rng;
    soft?: SoftLabels;
    steps?: StepListener;
  },
): number {
  const trainer = new Trainer(model, options);
  const order = data.map((_, i) => i);
  let last = NaN;
  const total = options.epochs * Math.ceil(order.length / options.batchSize);
  let done = 0;
  for (let e = 0; e < options.epochs; e++) {
    options.rng.shuffle(order);
    let sum = 0;
    let n = 0;
    for (let i = 0; i < order.length; i += options.batchSize) {
      const batch = order.slice(i, i + options.batchSize).map((k) => data[k]!);
      // Read the loss only in the last epoch, every 8th batch: host syncs stall the pipeline.
      const read = e === options.epochs - 1 && (i / options.batchSize) % 8 === 0;
      const shown = options.steps?.wantsLoss() ?? false;
      const v = trainer.step(batch, options.lossOn, read || shown, options.soft);
      options.steps?.step(++done, total, v);
      if (read && v !== undefined) {
        sum += v;
        n++;
      }
    }
    if (n) last = sum / n;
  }
  trainer.finish();
  return last;
}

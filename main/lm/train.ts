// Training a language model on examples: batches padded to their longest sequence, next-token
// cross-entropy on all tokens (pretraining) or on the answer tokens only (fine-tuning), Adam or SGD,
// optionally only chosen parameter groups (e.g. a single block, as in Schrodi et al.).
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../engine/rng.ts';
import { sequenceLoss, softLoss, softTargets, type LmModel } from './model.ts';
import { PAD } from './vocab.ts';
import type { Example } from './world.ts';

export interface OptimizerOptions {
  kind: 'adam' | 'sgd';
  lr: number;
  /**
   * Parameter groups to train: "embed" (token and position embeddings), "block.<i>", "head" (final
   * LayerNorm and output layer). Empty or absent = every parameter.
   */
  layers?: readonly string[];
}

export type LossOn = 'all' | 'answer';

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

/** tokens [B, L + 1] padded with PAD, weights [B, L] over the targets tokens[:, 1:]. */
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
    for (let j = from; j < e.tokens.length; j++) weights[i * (width - 1) + j - 1] = 1;
  });
  return { tokens: tf.tensor2d(tokens, [b, width], 'int32'), weights: tf.tensor2d(weights, [b, width - 1]) };
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
  private readonly optimizer: tf.Optimizer;
  private readonly vars: tf.Variable[];

  constructor(
    private readonly model: LmModel,
    options: OptimizerOptions,
  ) {
    this.optimizer = options.kind === 'adam' ? tf.train.adam(options.lr) : tf.train.sgd(options.lr);
    this.vars = trainableVars(model, options.layers);
  }

  /** One optimiser step; returns the loss tensor's value only when `read` (a host sync). */
  step(examples: readonly Example[], lossOn: LossOn, read = false, soft?: SoftLabels): number | undefined {
    const { tokens, weights } = batchTensors(examples, lossOn);
    // The teacher's distributions are computed before the step, outside the gradient tape.
    const targets = soft
      ? softTargets(soft.teacher.vars, soft.teacher.config, tokens, soft.temperature, soft.mask)
      : null;
    const loss = this.optimizer.minimize(
      () =>
        targets
          ? softLoss(this.model.vars, this.model.config, tokens, weights, targets, soft?.mask)
          : sequenceLoss(this.model.vars, this.model.config, tokens, weights),
      read,
      this.vars,
    );
    tf.dispose([tokens, weights, ...(targets ? [targets] : [])]);
    const value = loss ? loss.dataSync()[0] : undefined;
    loss?.dispose();
    return value;
  }

  dispose(): void {
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
  },
): number {
  const trainer = new Trainer(model, options);
  const order = data.map((_, i) => i);
  let last = NaN;
  for (let e = 0; e < options.epochs; e++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = options.rng.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    let sum = 0;
    let n = 0;
    for (let i = 0; i < order.length; i += options.batchSize) {
      const batch = order.slice(i, i + options.batchSize).map((k) => data[k]!);
      // Read the loss only in the last epoch, every 8th batch: host syncs stall the pipeline.
      const read = e === options.epochs - 1 && (i / options.batchSize) % 8 === 0;
      const v = trainer.step(batch, options.lossOn, read, options.soft);
      if (v !== undefined) {
        sum += v;
        n++;
      }
    }
    if (n) last = sum / n;
  }
  trainer.dispose();
  return last;
}

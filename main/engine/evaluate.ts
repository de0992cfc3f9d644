// Test accuracy of every model in a stack: argmax over the class logits only.
import * as tf from '@tensorflow/tfjs-core';
import type { ImageSet } from '../data/dataset.ts';
import { imagesAsFloats } from './batches.ts';
import type { StackedModel } from './stacked-model.ts';

export class TestSet {
  private readonly chunks: { x: tf.Tensor2D; labels: tf.Tensor2D }[] = [];

  constructor(
    set: ImageSet,
    pixels: number,
    readonly classes: number,
    chunkSize = 1000,
  ) {
    const floats = imagesAsFloats(set, pixels);
    for (let start = 0; start < set.count; start += chunkSize) {
      const n = Math.min(chunkSize, set.count - start);
      this.chunks.push({
        // [n, pixels]: one copy shared by every model of the stack
        x: tf.tensor2d(floats.subarray(start * pixels, (start + n) * pixels), [n, pixels]),
        labels: tf.tensor2d(Int32Array.from(set.labels.subarray(start, start + n)), [1, n], 'int32'),
      });
    }
    this.count = set.count;
  }

  readonly count: number;

  /** Fraction of the set each model classifies correctly (argmax over the class logits). */
  accuracy(model: StackedModel): Promise<Float32Array> {
    return this.rate(model, (chunk) => chunk.labels);
  }

  /** Fraction of the set each model assigns to class `target`. */
  targetRate(model: StackedModel, target: number): Promise<Float32Array> {
    return this.rate(model, () => target);
  }

  private async rate(
    model: StackedModel,
    expected: (chunk: { labels: tf.Tensor2D }) => tf.Tensor2D | number,
  ): Promise<Float32Array> {
    const hits = tf.tidy(() => {
      let total = tf.zeros([model.models]) as tf.Tensor1D;
      for (const chunk of this.chunks) {
        const logits = model.infer(model.sharedInput(chunk.x));
        const predicted = tf.argMax(tf.slice(logits, [0, 0, 0], [-1, -1, this.classes]), -1);
        total = tf.add(total, tf.sum(tf.cast(tf.equal(predicted, expected(chunk)), 'float32'), 1));
      }
      return total;
    });
    const counts = (await hits.data()) as Float32Array;
    hits.dispose();
    return counts.map((c) => c / this.count);
  }

  dispose(): void {
    for (const c of this.chunks) tf.dispose([c.x, c.labels]);
  }
}

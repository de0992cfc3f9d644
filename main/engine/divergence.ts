// Divergence: a model whose loss or parameters become non-finite (NaN or +-Infinity) is marked
// `diverged` at the step where that is first seen, and from then on emits no metrics and no result.
//
// Granularity (no extra readback per step): losses are checked where they are already read back,
// at the loss-logging steps (every `lossEvery` steps and a phase's last step); parameters are
// checked on the device, one [S] readback, before every evaluation (each epoch's end, so always
// before a final result). A model is therefore marked at the first logging step or measurement
// after its numbers broke, never later than the end of the epoch in which they did.
//
// A diverged model's slice stays in its stack and keeps being stepped: every op of a stack is per
// model (batched matmuls, per-model loss terms whose sum has gradient 1 for each, element-wise
// Adam), so its NaNs cannot reach another model's numbers, and masking it out would cost ops on
// every step of every run. procedure.test.ts checks that the other models' results are bit for bit
// those of a run without the diverged replicate.
import * as tf from '@tensorflow/tfjs-core';
import type { Divergence } from '../../app/protocol.ts';
import type { StackedModel } from './stacked-model.ts';

/** The divergence marks of one stack's models; the first mark of a model is kept. */
export class DivergenceMarks {
  private readonly marks: (Divergence | null)[];

  constructor(models: number) {
    this.marks = Array.from({ length: models }, () => null);
  }

  get(model: number): Divergence | null {
    return this.marks[model] ?? null;
  }

  alive(model: number): boolean {
    return this.marks[model] === null;
  }

  get count(): number {
    return this.marks.filter((m) => m !== null).length;
  }

  mark(model: number, divergence: Divergence): void {
    if (this.marks[model] === null) this.marks[model] = divergence;
  }

  /** Marks every live model whose value is not finite. */
  check(values: ArrayLike<number>, divergence: Divergence): void {
    for (let i = 0; i < this.marks.length; i++) if (!Number.isFinite(values[i]!)) this.mark(i, divergence);
  }
}

/** Per model of a stack: 1 when every weight and bias is finite, else 0 (one readback of [S]). */
export async function finiteModels(model: StackedModel): Promise<Float32Array> {
  const flags = tf.tidy(() => {
    const allFinite = (v: tf.Tensor) => tf.min(tf.cast(tf.isFinite(v), 'float32'));
    const perModel = model.parameterGroups().map((group) =>
      model.layout === 'batched'
        ? // [S, in, out] or [S, 1, out]: reduce everything but the model axis
          tf.min(tf.cast(tf.isFinite(group[0]!), 'float32'), [1, 2])
        : tf.stack(group.map(allFinite)),
    );
    return perModel.reduce((a, b) => tf.minimum(a, b));
  });
  const out = (await flags.data()) as Float32Array;
  flags.dispose();
  return out;
}

/** Marks the models of a stack whose parameters are not finite. */
export async function checkParameters(
  model: StackedModel,
  marks: DivergenceMarks,
  phase: Divergence['phase'],
  step: number,
): Promise<void> {
  const flags = await finiteModels(model);
  flags.forEach((finite, i) => {
    if (finite === 0) marks.mark(i, { phase, step, reason: 'non-finite parameters' });
  });
}

// The students' training step for a stacked ReLU MLP without TF.js's autodiff: the backward pass
// written out (matmuls with transpose flags, no explicit transposes) and Adam applied by fused
// kernels (fused.ts). Same mathematics and order of float ops as trainStep + tf.train.adam, about a
// fifth of the dispatches; for WebGPU, where a step's cost follows its dispatch count.
import * as tf from '@tensorflow/tfjs-core';
import type { ModelArch, StackedModel } from './stacked-model.ts';
import type { Activation } from '../../app/spec/schema.ts';
import { adamMoment, adamParam, klGrad, klScale, reluMask } from './fused.ts';
import { weightedKl } from './losses.ts';
import { batchedMatMul, matmulChoice, type MatmulChoice } from './matmul-kernel.ts';

/** Where the written-out step applies: an MLP with ReLU in the batched layout. */
export function fusedStepApplies(arch: ModelArch, activation: Activation, layout: string): boolean {
  return arch.family === 'mlp' && activation === 'relu' && layout === 'batched';
}

export class FusedKlTrainer {
  private readonly layers: { w: tf.Variable; b: tf.Variable }[];
  /** Adam's first and second moments per layer: [w, b]. */
  private first: tf.Tensor[][];
  private second: tf.Tensor[][];
  /** beta^t as TF.js's Adam keeps it: a float32 product. */
  private acc1: number;
  private acc2: number;

  constructor(
    model: StackedModel,
    private readonly learningRate: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly epsilon = 1e-8,
    private readonly matmul: MatmulChoice = matmulChoice(),
  ) {
    this.layers = model.batchedLayers();
    const zeros = () => this.layers.map(({ w, b }) => [tf.zerosLike(w), tf.zerosLike(b)]);
    this.first = zeros();
    this.second = zeros();
    this.acc1 = Math.fround(beta1);
    this.acc2 = Math.fround(beta2);
  }

  /**
   * One step of weighted KL distillation (losses.ts weightedKl) on inputs x [S, B, in].
   * Returns the per-model loss [S] when `withLoss` (from this step's forward pass).
   */
  step(
    x: tf.Tensor3D,
    targets: tf.Tensor3D,
    mask: tf.Tensor3D,
    weights: tf.Tensor2D,
    temperature: number,
    withLoss: boolean,
  ): tf.Tensor1D | undefined {
    const last = this.layers.length - 1;
    const { grads, loss } = tf.tidy(() => {
      // activations[l] is layer l's input: x, then each hidden layer's ReLU output
      const activations: tf.Tensor3D[] = [x];
      let h: tf.Tensor3D = x;
      this.layers.forEach(({ w, b }, l) => {
        h = batchedMatMul(h, w, { bias: b, relu: l < last }, this.matmul);
        if (l < last) activations.push(h);
      });
      const logits = h; // [S, B, L]
      let dz = klGrad(logits, targets, mask, klScale(weights, temperature), temperature);
      const grads: tf.Tensor[][] = [];
      for (let l = last; l >= 0; l--) {
        const a = activations[l]!;
        // [S, in, out], [S, 1, out]
        grads[l] = [batchedMatMul(a, dz, { transposeA: true }, this.matmul), tf.sum(dz, 1, true)];
        if (l > 0) dz = reluMask(batchedMatMul(dz, this.layers[l]!.w, { transposeB: true }, this.matmul), a);
      }
      return {
        grads,
        loss: withLoss ? weightedKl(targets, logits, mask, weights, temperature) : undefined,
      };
    });
    this.apply(grads);
    tf.dispose(grads.flat());
    return loss;
  }

  private apply(grads: tf.Tensor[][]): void {
    const scalars = {
      c1: Math.fround(1 - this.acc1),
      c2: Math.fround(1 - this.acc2),
      epsilon: this.epsilon,
      learningRate: this.learningRate,
    };
    const first: tf.Tensor[][] = [];
    const second: tf.Tensor[][] = [];
    this.layers.forEach(({ w, b }, l) => {
      first[l] = [];
      second[l] = [];
      [w, b].forEach((param, k) => {
        const g = grads[l]![k]!;
        const m = adamMoment(this.first[l]![k]!, g, this.beta1, false);
        const v = adamMoment(this.second[l]![k]!, g, this.beta2, true);
        // Kept: a step may run inside the caller's tidy, and the moments outlive it.
        tf.keep(m);
        tf.keep(v);
        const next = adamParam(param, m, v, scalars);
        param.assign(next);
        next.dispose();
        first[l]![k] = m;
        second[l]![k] = v;
      });
    });
    tf.dispose([...this.first.flat(), ...this.second.flat()]);
    this.first = first;
    this.second = second;
    this.acc1 = Math.fround(this.acc1 * Math.fround(this.beta1));
    this.acc2 = Math.fround(this.acc2 * Math.fround(this.beta2));
  }

  dispose(): void {
    tf.dispose([...this.first.flat(), ...this.second.flat()]);
  }
}

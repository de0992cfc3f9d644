// A phase's training recipe as small strategy objects, chosen once per stack: the optimizer that
// applies gradients and the student's loss. A new optimizer or loss is added here and nowhere else.
import * as tf from '@tensorflow/tfjs-core';
import type { PhaseSpec } from '../../app/spec/schema.ts';
import { weightedKl } from './losses.ts';

/** Gradients keyed by variable name, as tf.variableGrads returns them. */
export type Grads = ReturnType<typeof tf.variableGrads>['grads'];

/** Applies one step of gradients to a stack's variables (grads keyed by variable name). */
export interface ParamOptimizer {
  apply(vars: readonly tf.Variable[], grads: Grads): void;
  dispose(): void;
  /** Adam's settings when the fused WebGPU step (fused-step.ts) computes exactly this optimizer. */
  readonly fusedAdam: { beta1: number; beta2: number; epsilon: number } | null;
}

/** TF.js's Adam (PyTorch's defaults: eps 1e-8, as in the paper's code; TF.js would use 1e-7). */
function adam(learningRate: number): ParamOptimizer {
  const beta1 = 0.9;
  const beta2 = 0.999;
  const epsilon = 1e-8;
  const opt: tf.Optimizer = tf.train.adam(learningRate, beta1, beta2, epsilon);
  return {
    apply: (_vars, grads) => opt.applyGradients(grads),
    dispose: () => opt.dispose(),
    fusedAdam: { beta1, beta2, epsilon },
  };
}

export function makeOptimizer(phase: PhaseSpec): ParamOptimizer {
  return adam(phase.learningRate);
}

/** One optimiser step on a stack; returns the per-model loss [S] (caller disposes). */
export function trainStep(
  optimizer: ParamOptimizer,
  vars: tf.Variable[],
  loss: () => tf.Tensor1D,
): tf.Tensor1D {
  let perModel: tf.Tensor1D | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const l = loss();
    perModel = tf.keep(l);
    return tf.sum(l) as tf.Scalar;
  }, vars);
  optimizer.apply(vars, grads);
  tf.dispose([value, ...Object.values(grads)]);
  return perModel!;
}

/**
 * How a student imitates its teacher: the targets made from the teacher's logits t [S, B, L] (under
 * a logit mask [S, 1, L], or all logits), and the per-model loss of the student's logits.
 */
export interface StudentLoss {
  /** Targets of a filter that runs on the device (`logits`): only the mask's logits. */
  maskedTargets(t: tf.Tensor3D, mask: tf.Tensor3D): tf.Tensor3D;
  /** Targets of the all-logits conditions. */
  allTargets(t: tf.Tensor3D): tf.Tensor3D;
  /** Per-model loss [S]: targets and weights [S, B] as made above (or by a host filter). */
  value(targets: tf.Tensor3D, student: tf.Tensor3D, mask: tf.Tensor3D, weights: tf.Tensor2D): tf.Tensor1D;
  /** The temperature when the fused WebGPU step computes exactly this loss (KL), else null. */
  readonly fusedKlTemperature: number | null;
}

/** KL(softmax(teacher/T) || softmax(student/T)) on the kept logits: the paper's distillation loss. */
function klLoss(temperature: number): StudentLoss {
  return {
    maskedTargets: (t, mask) => tf.softmax(tf.add(tf.div(t, temperature), mask)) as tf.Tensor3D,
    allTargets: (t) => tf.softmax(tf.div(t, temperature)) as tf.Tensor3D,
    value: (targets, student, mask, weights) => weightedKl(targets, student, mask, weights, temperature),
    fusedKlTemperature: temperature,
  };
}

export function makeStudentLoss(student: { temperature: number }): StudentLoss {
  return klLoss(student.temperature);
}

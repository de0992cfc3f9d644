// A phase's training recipe as small strategy objects, chosen once per stack: the optimizer that
// applies gradients and the student's loss. A new optimizer or loss is added here and nowhere else.
import * as tf from '@tensorflow/tfjs-core';
import type { PhaseSpec, StudentSpec } from '../../app/spec/schema.ts';
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

/**
 * Adam through TF.js's optimizer, which computes PyTorch's update: m and v, bias corrections
 * 1 - beta^t, and param -= lr * m_hat / (sqrt(v_hat) + eps) (eps outside the root, as torch).
 * Weight decay as torch: `l2` adds wd * param to the gradient (torch.optim.Adam); `decoupled`
 * scales param by 1 - lr * wd before the Adam update (torch.optim.AdamW).
 */
export function adam(
  learningRate: number,
  a: { beta1: number; beta2: number; epsilon: number },
  weightDecay: number,
  decay: 'l2' | 'decoupled',
): ParamOptimizer {
  const opt: tf.Optimizer = tf.train.adam(learningRate, a.beta1, a.beta2, a.epsilon);
  const shrink = 1 - learningRate * weightDecay;
  return {
    apply: (vars, grads) => {
      if (weightDecay === 0) return opt.applyGradients(grads);
      if (decay === 'decoupled') {
        for (const v of vars) {
          const next = tf.tidy(() => tf.mul(v, shrink));
          v.assign(next);
          next.dispose();
        }
        return opt.applyGradients(grads);
      }
      const decayed = tf.tidy(() => withL2(vars, grads, weightDecay));
      opt.applyGradients(decayed);
      tf.dispose(Object.values(decayed));
    },
    dispose: () => opt.dispose(),
    // The fused step is Adam without decay; with decay (either kind) the stack uses autodiff.
    fusedAdam:
      weightDecay === 0 && decay === 'l2' ? { beta1: a.beta1, beta2: a.beta2, epsilon: a.epsilon } : null,
  };
}

/** grad + wd * param for every variable. */
function withL2(vars: readonly tf.Variable[], grads: Grads, weightDecay: number): Grads {
  const out: Grads = {};
  for (const v of vars) out[v.name] = tf.add(grads[v.name]!, tf.mul(v, weightDecay));
  return out;
}

/**
 * torch.optim.SGD (dampening 0): g = grad + wd * param; with momentum, buf = g at the first step,
 * then momentum * buf + g; the step is buf, or g + momentum * buf with nesterov; param -= lr * step.
 */
export function sgd(
  learningRate: number,
  momentum: number,
  nesterov: boolean,
  weightDecay: number,
): ParamOptimizer {
  const buffers = new Map<string, tf.Tensor>();
  return {
    apply: (vars, grads) => {
      for (const v of vars) {
        const next = tf.tidy(() => {
          let g: tf.Tensor = grads[v.name]!;
          if (weightDecay !== 0) g = tf.add(g, tf.mul(v, weightDecay));
          if (momentum !== 0) {
            const prev = buffers.get(v.name);
            const buf = prev ? tf.add(tf.mul(prev, momentum), g) : tf.clone(g);
            prev?.dispose();
            buffers.set(v.name, tf.keep(buf));
            g = nesterov ? tf.add(g, tf.mul(buf, momentum)) : buf;
          }
          return tf.sub(v, tf.mul(g, learningRate));
        });
        v.assign(next);
        next.dispose();
      }
    },
    dispose: () => tf.dispose([...buffers.values()]),
    fusedAdam: null,
  };
}

export function makeOptimizer(phase: PhaseSpec): ParamOptimizer {
  const { learningRate: lr, optimizer: o, weightDecay: wd } = phase;
  switch (o.kind) {
    case 'adam':
      return adam(lr, o, wd, 'l2');
    case 'adamw':
      return adam(lr, o, wd, 'decoupled');
    case 'sgd':
      return sgd(lr, o.momentum, o.nesterov, wd);
  }
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

/** -sum P log softmax(student/T) on the kept logits: KL plus the targets' entropy (same gradient). */
function softCrossEntropy(temperature: number): StudentLoss {
  const kl = klLoss(temperature);
  return {
    ...kl,
    value: (targets, student, mask, weights) =>
      tf.tidy(() => {
        const logq = tf.logSoftmax(tf.add(tf.div(student, temperature), mask));
        const ce = tf.neg(tf.sum(tf.mul(targets, logq), -1)); // [S, B]
        return weightedMean(ce as tf.Tensor2D, weights);
      }),
    fusedKlTemperature: null,
  };
}

/**
 * Mean squared error between student and teacher logits over the kept ones (Brockers et al.): the
 * targets are the teacher's logits; the mask (0 kept, -1e9 dropped) picks the logits compared.
 */
const mseLoss: StudentLoss = {
  maskedTargets: (t) => t,
  allTargets: (t) => t,
  value: (targets, student, mask, weights) =>
    tf.tidy(() => {
      const kept = tf.cast(tf.greater(mask, -1), 'float32'); // [S, 1, L]
      const sq = tf.sum(tf.mul(tf.square(tf.sub(student, targets)), kept), -1); // [S, B]
      return weightedMean(tf.div(sq, tf.sum(kept, -1)) as tf.Tensor2D, weights);
    }),
  fusedKlTemperature: null,
};

/** Per model, the weighted mean over its batch of per-sample losses [S, B] (as weightedKl). */
function weightedMean(perSample: tf.Tensor2D, weights: tf.Tensor2D): tf.Tensor1D {
  const total = tf.sum(tf.mul(perSample, weights), 1);
  return tf.div(total, tf.maximum(tf.sum(weights, 1), 1)) as tf.Tensor1D;
}

export function makeStudentLoss(student: StudentSpec): StudentLoss {
  switch (student.loss) {
    case 'kl':
      return klLoss(student.temperature);
    case 'soft-ce':
      return softCrossEntropy(student.temperature);
    case 'mse':
      return mseLoss;
  }
}

// Fused kernels for the stacked MLP's training step on WebGPU, each with a twin made of TF.js's
// reference ops that runs on every other backend (and is what the kernels are tested against).
// Why: on WebGPU a step's cost is dominated by the number of dispatches (TF.js's autodiff step for
// the paper's MLP issues ~190 of them), not by its arithmetic. These replace the chains of small
// elementwise ops: the weighted KL's gradient (~20 ops -> 1), the ReLU mask (2 -> 1) and Adam
// (~10 ops per variable -> 3).
import * as tf from '@tensorflow/tfjs-core';

export const KL_GRAD = 'SublabKlGrad';
export const RELU_MASK = 'SublabReluMask';
export const ADAM_MOMENT = 'SublabAdamMoment';
export const ADAM_PARAM = 'SublabAdamParam';

/** The slice of TF.js's WebGPUBackend these kernels use (the package itself is optional). */
export interface WebGpuBackendLike {
  runWebGPUProgram(
    program: object,
    inputs: tf.TensorInfo[],
    dtype: tf.DataType,
    uniforms?: { type: string; data: number[] }[],
  ): tf.TensorInfo;
}

const WORKGROUP = 64;
/** WebGPU's guaranteed limit on workgroups per dispatch dimension. */
const MAX_GROUPS = 65535;

/** A flat program over `threads` invocations, as a 2-D grid when one dimension is not enough. */
export function flatProgram(
  key: string,
  variableNames: string[],
  outputShape: number[],
  threads: number,
  uniforms: string,
  code: string,
) {
  const groups = Math.max(1, Math.ceil(threads / WORKGROUP));
  const x = Math.min(groups, MAX_GROUPS);
  return {
    variableNames,
    outputShape,
    shaderKey: key,
    dispatchLayout: { x: [0] },
    dispatch: [x, Math.ceil(groups / x), 1] as [number, number, number],
    workgroupSize: [WORKGROUP, 1, 1] as [number, number, number],
    uniforms,
    getUserCode: () => code,
  };
}

export type Uniform = { type: 'int32' | 'float32'; data: number[] };
export const i32 = (v: number): Uniform => ({ type: 'int32', data: [v] });
export const f32 = (v: number): Uniform => ({ type: 'float32', data: [v] });

// One invocation per row (s, b): v = z / T + mask, q = softmax(v);
// d(loss)/dz = scale[s, b] * (q * sum(p) - p), with scale = w / max(sum_b w, 1) / T.
const KL_GRAD_WGSL = `
fn main(row : i32) {
  if (row < uniforms.rows) {
    let L = uniforms.logits;
    let base = row * L;
    let maskBase = (row / uniforms.batch) * L;
    var top = -3.0e38;
    for (var l = 0; l < L; l++) {
      top = max(top, logits[base + l] / uniforms.temperature + mask[maskBase + l]);
    }
    var total = 0.0;
    var mass = 0.0;
    for (var l = 0; l < L; l++) {
      total += exp(logits[base + l] / uniforms.temperature + mask[maskBase + l] - top);
      mass += targets[base + l];
    }
    let k = scale[row];
    for (var l = 0; l < L; l++) {
      let q = exp(logits[base + l] / uniforms.temperature + mask[maskBase + l] - top) / total;
      result[base + l] = k * (q * mass - targets[base + l]);
    }
  }
}
`;

const RELU_MASK_WGSL = `
fn main(index : i32) {
  if (index < uniforms.size) {
    result[index] = select(0.0, grad[index], activation[index] > 0.0);
  }
}
`;

// m' = m * decay + g * (1 - decay), or with g * g for the second moment: TF.js Adam's order of ops.
const ADAM_MOMENT_WGSL = `
fn main(index : i32) {
  if (index < uniforms.size) {
    let g = grad[index];
    let h = select(g, g * g, uniforms.squared == 1);
    result[index] = moment[index] * uniforms.decay + h * uniforms.keep;
  }
}
`;

// p' = (m / c1) / (sqrt(v / c2) + eps) * -lr + p, with c = 1 - beta^t.
const ADAM_PARAM_WGSL = `
fn main(index : i32) {
  if (index < uniforms.size) {
    let m = first[index] / uniforms.c1;
    let v = second[index] / uniforms.c2;
    result[index] = m / (sqrt(v) + uniforms.epsilon) * uniforms.negLr + param[index];
  }
}
`;

let registered = false;

/** Registers the WebGPU kernels (once): call after the WebGPU backend is registered. */
export function registerFusedKernels(): void {
  if (registered) return;
  registered = true;
  const run = (backend: unknown, program: object, inputs: tf.TensorInfo[], uniforms: Uniform[]) =>
    (backend as WebGpuBackendLike).runWebGPUProgram(program, inputs, 'float32', uniforms);
  const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

  tf.registerKernel({
    kernelName: KL_GRAD,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { logits, targets, mask, scale } = inputs as Record<string, tf.TensorInfo>;
      const { temperature } = attrs as unknown as { temperature: number };
      const [S, B, L] = logits!.shape as [number, number, number];
      const program = flatProgram(
        'sublabKlGrad',
        ['logits', 'targets', 'mask', 'scale'],
        [S, B, L],
        S * B,
        'rows : i32, batch : i32, logits : i32, temperature : f32,',
        KL_GRAD_WGSL,
      );
      return run(
        backend,
        program,
        [logits!, targets!, mask!, scale!],
        [i32(S * B), i32(B), i32(L), f32(temperature)],
      );
    },
  });
  /** One invocation per element of the first input's shape; `values` fills `uniforms` from attrs. */
  const elementwise = (
    kernelName: string,
    variableNames: string[],
    uniforms: string,
    code: string,
    values: (attrs: Record<string, unknown>) => Uniform[],
  ) =>
    tf.registerKernel({
      kernelName,
      backendName: 'webgpu',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const tensors = variableNames.map((name) => inputs[name] as tf.TensorInfo);
        const shape = tensors[0]!.shape;
        const program = flatProgram(kernelName, variableNames, shape, size(shape), uniforms, code);
        return run(backend, { ...program, size: true }, tensors, values(attrs as Record<string, unknown>));
      },
    });
  elementwise(RELU_MASK, ['grad', 'activation'], '', RELU_MASK_WGSL, () => []);
  elementwise(
    ADAM_MOMENT,
    ['moment', 'grad'],
    'decay : f32, keep : f32, squared : i32,',
    ADAM_MOMENT_WGSL,
    (attrs) => {
      const { decay, squared } = attrs as { decay: number; squared: boolean };
      return [f32(decay), f32(1 - decay), i32(squared ? 1 : 0)];
    },
  );
  elementwise(
    ADAM_PARAM,
    ['param', 'first', 'second'],
    'c1 : f32, c2 : f32, epsilon : f32, negLr : f32,',
    ADAM_PARAM_WGSL,
    (attrs) => {
      const { c1, c2, epsilon, learningRate } = attrs as unknown as AdamScalars;
      return [f32(c1), f32(c2), f32(epsilon), f32(-learningRate)];
    },
  );
}

const onWebgpu = () => {
  if (tf.getBackend() !== 'webgpu') return false;
  registerFusedKernels();
  return true;
};

/**
 * d(loss)/d(logits) [S, B, L] of weightedKl (losses.ts) summed over models; `scale` [S, B] is
 * w / max(sum_b w, 1) / T (see klScale).
 */
export function klGrad(
  logits: tf.Tensor3D,
  targets: tf.Tensor3D,
  mask: tf.Tensor3D,
  scale: tf.Tensor2D,
  temperature: number,
): tf.Tensor3D {
  if (onWebgpu())
    return tf.engine().runKernel(KL_GRAD, { logits, targets, mask, scale }, { temperature }) as tf.Tensor3D;
  return tf.tidy(() => {
    const q = tf.softmax(tf.add(tf.div(logits, temperature), mask));
    const mass = tf.sum(targets, -1, true);
    return tf.mul(tf.expandDims(scale, -1), tf.sub(tf.mul(q, mass), targets)) as tf.Tensor3D;
  });
}

/** w / max(sum_b w, 1) / T: each sample's share of its model's loss, and the 1/T of the softmax. */
export function klScale(weights: tf.Tensor2D, temperature: number): tf.Tensor2D {
  return tf.tidy(
    () => tf.div(tf.div(weights, tf.maximum(tf.sum(weights, 1, true), 1)), temperature) as tf.Tensor2D,
  );
}

/** The gradient through a ReLU: grad where the layer's output is positive, else 0. */
export function reluMask<T extends tf.Tensor>(grad: T, activation: T): T {
  if (onWebgpu()) return tf.engine().runKernel(RELU_MASK, { grad, activation }) as T;
  return tf.tidy(() => tf.mul(grad, tf.step(activation)) as T);
}

export interface AdamScalars {
  /** 1 - beta1^t and 1 - beta2^t, as float32 */
  c1: number;
  c2: number;
  epsilon: number;
  learningRate: number;
}

/** moment * decay + (g or g^2) * (1 - decay). */
export function adamMoment<T extends tf.Tensor>(moment: T, grad: T, decay: number, squared: boolean): T {
  if (onWebgpu()) return tf.engine().runKernel(ADAM_MOMENT, { moment, grad }, { decay, squared }) as T;
  return tf.tidy(
    () => tf.add(tf.mul(moment, decay), tf.mul(squared ? tf.square(grad) : grad, 1 - decay)) as T,
  );
}

/** param - lr * (m / c1) / (sqrt(v / c2) + eps). */
export function adamParam<T extends tf.Tensor>(param: T, first: T, second: T, s: AdamScalars): T {
  if (onWebgpu()) return tf.engine().runKernel(ADAM_PARAM, { param, first, second }, { ...s }) as T;
  return tf.tidy(
    () =>
      tf.add(
        tf.mul(
          tf.div(tf.div(first, s.c1), tf.add(tf.sqrt(tf.div(second, s.c2)), s.epsilon)),
          -s.learningRate,
        ),
        param,
      ) as T,
  );
}

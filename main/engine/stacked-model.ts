// S independent models trained as one: the loss is a sum of per-model losses and Adam is
// element-wise, so training the stack is exactly training each model alone, for one set of ops for
// all of them. Layouts (see ops.ts): 'batched' holds layer l as weights [S, in, out] and biases
// [S, 1, out] and runs batched matmuls (GPU, cpu); 'per-model' holds S separate 2-D layers (wasm).
// Families: an MLP, or a small CNN whose first layer is a 5x5 convolution (stride 2) applied as a
// matmul over image patches, then a dense head. Patches come from a forward-only identity
// convolution of the input, so every trained op is a matmul: it trains on backends without a
// convolution-filter gradient (wasm) and through XNNPACK where there is one.
import * as tf from '@tensorflow/tfjs-core';
import { STREAM, streamRng } from './rng.ts';
import { INIT_SALT, layerInitRng, type InitSalt, type LayerKind } from './init-keys.ts';
import { linear2d, type Layout } from './ops.ts';
import { batchedMatMul, matmulChoice, type MatmulChoice } from './matmul-kernel.ts';
import type { Activation } from '../../app/spec/schema.ts';

export function activate(h: tf.Tensor, activation: Activation): tf.Tensor {
  switch (activation) {
    case 'relu':
      return tf.relu(h);
    case 'tanh':
      return tf.tanh(h);
    case 'sigmoid':
      return tf.sigmoid(h);
    case 'elu':
      return tf.elu(h);
    case 'leaky-relu':
      return tf.leakyRelu(h, 0.01);
  }
}

/** The stack's parameters plus Gaussian noise of `std` on every weight, each model from its seed. */
export function perturbParams(params: StackedParams, seeds: readonly number[], std: number): StackedParams {
  const weights = params.weights.map((w) => w.slice());
  seeds.forEach((seed, s) => {
    const rng = streamRng(seed, STREAM.perturb);
    for (const w of weights) {
      const block = w.length / params.models;
      for (let i = s * block; i < (s + 1) * block; i++) w[i]! += std * rng.normal();
    }
  });
  return { ...params, weights, biases: params.biases.map((b) => b.slice()) };
}

export type ModelArch =
  | { family: 'mlp'; sizes: number[] }
  /** 28x28 inputs -> conv 5x5/2 with `channels` filters (14x14 grid) -> dense `hidden` -> `outputs`. */
  | { family: 'cnn'; channels: number; hidden: number[]; outputs: number };

const GRID = 14;
const PATCH = 25;

/** [in, out] of each trained layer. */
export function layerShapes(arch: ModelArch): [number, number][] {
  if (arch.family === 'mlp') return arch.sizes.slice(0, -1).map((d, l) => [d, arch.sizes[l + 1]!]);
  // The conv layer maps 25 patch pixels to `channels`; the head starts from the flattened grid.
  const head = [GRID * GRID * arch.channels, ...arch.hidden, arch.outputs];
  return [[PATCH, arch.channels], ...head.slice(0, -1).map((d, l): [number, number] => [d, head[l + 1]!])];
}

export function sameArch(a: ModelArch, b: ModelArch): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Host-side parameters of S stacked models: per layer, weights [S*in*out] and biases [S*out]. */
export interface StackedParams {
  arch: ModelArch;
  models: number;
  weights: Float32Array[];
  biases: Float32Array[];
}

/** The kind of each trained layer: the CNN's first layer is its patch convolution. */
export function layerKinds(arch: ModelArch): LayerKind[] {
  if (arch.family === 'mlp') return layerShapes(arch).map(() => 'dense');
  return layerShapes(arch).map((_, l) => (l === 0 ? 'conv' : 'cnn-dense'));
}

/**
 * The paper's init: W ~ Normal(0, 1/sqrt(fan_in)), b = 0. Each layer of each model is drawn from
 * its own keyed stream (init-keys.ts), so a model's init does not depend on how many models are
 * stacked with it, and two architectures share a layer's init only where seed, index, shape, kind
 * and salt all agree.
 */
export function initParams(
  seeds: readonly number[],
  archOrSizes: ModelArch | readonly number[],
  salt: InitSalt = INIT_SALT.model,
): StackedParams {
  const arch: ModelArch = Array.isArray(archOrSizes)
    ? { family: 'mlp', sizes: [...(archOrSizes as readonly number[])] }
    : (archOrSizes as ModelArch);
  const shapes = layerShapes(arch);
  const kinds = layerKinds(arch);
  const models = seeds.length;
  const weights = shapes.map(([i, o]) => new Float32Array(models * i * o));
  const biases = shapes.map(([, o]) => new Float32Array(models * o));
  seeds.forEach((seed, s) => {
    shapes.forEach(([i, o], l) =>
      layerInitRng(seed, l, [i, o], kinds[l]!, salt).fillNormal(
        weights[l]!,
        1 / Math.sqrt(i),
        s * i * o,
        i * o,
      ),
    );
  });
  return { arch, models, weights, biases };
}

/** Two stacks as one: a's models, then b's. */
export function concatParams(a: StackedParams, b: StackedParams): StackedParams {
  const join = (x: Float32Array, y: Float32Array) => {
    const out = new Float32Array(x.length + y.length);
    out.set(x);
    out.set(y, x.length);
    return out;
  };
  return {
    arch: a.arch,
    models: a.models + b.models,
    weights: a.weights.map((w, l) => join(w, b.weights[l]!)),
    biases: a.biases.map((x, l) => join(x, b.biases[l]!)),
  };
}

/** A new stack whose model i is model `order[i]` of `params` (models may repeat). */
export function selectModels(params: StackedParams, order: ArrayLike<number>): StackedParams {
  const pick = (arrays: Float32Array[]) =>
    arrays.map((arr) => {
      const block = arr.length / params.models;
      const out = new Float32Array(order.length * block);
      for (let i = 0; i < order.length; i++)
        out.set(arr.subarray(order[i]! * block, (order[i]! + 1) * block), i * block);
      return out;
    });
  return {
    arch: params.arch,
    models: order.length,
    weights: pick(params.weights),
    biases: pick(params.biases),
  };
}

let identityKernel: tf.Tensor4D | null = null;

/** 5x5 patches at stride 2 ('same' padding) of 28x28 images [..., 784] -> [N, 14, 14, 25]. */
function patches(x: tf.Tensor): tf.Tensor4D {
  if (!identityKernel) {
    // Kept for the process's life: one tiny constant shared by every model.
    const k = new Float32Array(PATCH * PATCH);
    for (let i = 0; i < PATCH; i++) k[i * PATCH + i] = 1;
    identityKernel = tf.keep(tf.tensor4d(k, [5, 5, 1, PATCH]));
  }
  const images = tf.reshape(x, [-1, 28, 28, 1]) as tf.Tensor4D;
  return tf.conv2d(images, identityKernel, 2, 'same');
}

/** Inputs for every model of a stack, in the form its layout consumes. */
export type StackInput = { kind: 'batched'; x: tf.Tensor3D } | { kind: 'per-model'; xs: tf.Tensor2D[] };

export class StackedModel {
  /** batched: one [S, in, out] tensor per layer; per-model: S tensors [in, out] per layer. */
  private readonly weights: tf.Variable[][];
  private readonly biases: tf.Variable[][];
  readonly models: number;
  readonly arch: ModelArch;
  private readonly shapes: [number, number][];

  constructor(
    params: StackedParams,
    readonly layout: Layout,
    readonly activation: Activation = 'relu',
  ) {
    const { arch, models } = params;
    this.models = models;
    this.arch = arch;
    this.shapes = layerShapes(arch);
    const layers = this.shapes.length;
    // tf.variable keeps its initial tensor alive unless that tensor is disposed: hence the tidy.
    const variable = (make: () => tf.Tensor) => tf.tidy(() => tf.variable(make()));
    this.weights = [];
    this.biases = [];
    for (let l = 0; l < layers; l++) {
      const [inp, out] = this.shapes[l]!;
      const w = params.weights[l]!;
      const b = params.biases[l]!;
      if (layout === 'batched') {
        this.weights.push([variable(() => tf.tensor3d(w, [models, inp, out]))]);
        this.biases.push([variable(() => tf.tensor3d(b, [models, 1, out]))]);
      } else {
        this.weights.push(
          Array.from({ length: models }, (_, s) =>
            variable(() => tf.tensor2d(w.subarray(s * inp * out, (s + 1) * inp * out), [inp, out])),
          ),
        );
        this.biases.push(
          Array.from({ length: models }, (_, s) =>
            variable(() => tf.tensor1d(b.subarray(s * out, (s + 1) * out))),
          ),
        );
      }
    }
  }

  /** Batched layout only: layer l's weights [S, in, out] and biases [S, 1, out]. */
  batchedLayers(): { w: tf.Variable; b: tf.Variable }[] {
    if (this.layout !== 'batched') throw new Error('batchedLayers() needs the batched layout');
    return this.weights.map(([w], l) => ({ w: w!, b: this.biases[l]![0]! }));
  }

  /** Per layer, weights then biases: one [S, ...] variable each (batched) or S variables (per-model). */
  parameterGroups(): tf.Variable[][] {
    return [...this.weights, ...this.biases];
  }

  get variables(): tf.Variable[] {
    return [...this.weights.flat(), ...this.biases.flat()];
  }

  /**
   * Inputs from data [R, B, in] for R replicates (host floats, or a tensor made on the device);
   * model i reads replicate i % R, so a stack of k*R models (k conditions per replicate) sees each
   * replicate's batch k times. A tensor passed in stays the caller's to dispose.
   */
  input(data: Float32Array | tf.Tensor3D, replicates: number, batch: number): StackInput {
    const width = 784;
    if (this.layout === 'batched') {
      const x = data instanceof Float32Array ? tf.tensor3d(data, [replicates, batch, width]) : data;
      if (replicates === this.models) return { kind: 'batched', x };
      const repeated = tf.concat(
        Array.from({ length: this.models / replicates }, () => x),
        0,
      ) as tf.Tensor3D;
      if (x !== data) x.dispose();
      return { kind: 'batched', x: repeated };
    }
    const xs =
      data instanceof Float32Array
        ? Array.from({ length: replicates }, (_, r) =>
            tf.tensor2d(data.subarray(r * batch * width, (r + 1) * batch * width), [batch, width]),
          )
        : (tf.unstack(data) as tf.Tensor2D[]);
    return { kind: 'per-model', xs: Array.from({ length: this.models }, (_, i) => xs[i % replicates]!) };
  }

  /** One input [B, in] shared by every model (evaluation). */
  sharedInput(x: tf.Tensor2D): StackInput {
    if (this.layout === 'batched') return { kind: 'batched', x: tf.expandDims(x, 0) as tf.Tensor3D };
    return { kind: 'per-model', xs: Array.from({ length: this.models }, () => x) };
  }

  /** -> logits [S, B, out]. Gradients never flow into the inputs (they are data). */
  forward(input: StackInput): tf.Tensor3D {
    return tf.tidy(() => this.layers(input, false).logits);
  }

  /**
   * Every hidden layer's output after its activation (the CNN's conv layer as its flattened grid),
   * for the representation analyses; no gradient is taken. Per layer, the models' outputs as parts:
   * one [S, B, width] tensor (batched layout), or S tensors [B, width] (per-model: never stacked,
   * since TF.js's wasm kernels split and reduce large 3-D tensors slowly). With `models`, only
   * models start..start+count-1 run (the analyses take a large stack in chunks).
   */
  hidden(input: StackInput, models?: { start: number; count: number }): tf.Tensor[][] {
    return tf.tidy(() => this.layers(input, true, models ?? { start: 0, count: this.models }).hidden);
  }

  /** The forward pass of models start..start+count-1; with `keepHidden` also each hidden layer's outputs. */
  private layers(
    input: StackInput,
    keepHidden: boolean,
    { start, count }: { start: number; count: number } = { start: 0, count: this.models },
  ): { logits: tf.Tensor3D; hidden: tf.Tensor[][] } {
    const last = this.weights.length - 1;
    const cnn = this.arch.family === 'cnn' ? this.arch : null;
    const hidden: tf.Tensor[][] = Array.from({ length: keepHidden ? last : 0 }, () => []);
    if (input.kind === 'batched') {
      const [S, B] = [count, input.x.shape[1]];
      // A chunk of the stack: its models' slices of every layer (the whole stack is never sliced).
      const part = (v: tf.Variable) =>
        count === this.models ? v : tf.slice(v, [start, 0, 0], [count, -1, -1]);
      // cnn: [S, B, 784] -> patches [S, B*196, 25]; the conv layer is then a batched matmul
      let h: tf.Tensor3D = cnn
        ? (tf.reshape(patches(input.x), [input.x.shape[0], B * GRID * GRID, PATCH]) as tf.Tensor3D)
        : input.x;
      this.weights.forEach(([w], l) => {
        h = tf.add(tf.matMul(h, part(w!) as tf.Tensor3D), part(this.biases[l]![0]!));
        if (l < last) h = activate(h, this.activation) as tf.Tensor3D;
        if (cnn && l === 0) h = tf.reshape(h, [S, B, GRID * GRID * cnn.channels]); // flatten the grid
        if (keepHidden && l < last) hidden[l]!.push(h); // [S, B, width]: the matmul broadcasts a shared input
      });
      return { logits: h, hidden };
    }
    // Models reading the same input share its patches.
    const patchCache = new Map<tf.Tensor2D, tf.Tensor2D>();
    const outs = input.xs.slice(start, start + count).map((x, k) => {
      const s = start + k;
      let h: tf.Tensor2D = x;
      if (cnn) {
        if (!patchCache.has(x)) patchCache.set(x, tf.reshape(patches(x), [-1, PATCH]) as tf.Tensor2D);
        h = patchCache.get(x)!;
      }
      this.weights.forEach((ws, l) => {
        h = linear2d(h, ws[s] as tf.Tensor2D, this.biases[l]![s] as tf.Tensor1D, l === 0);
        if (l < last) h = activate(h, this.activation) as tf.Tensor2D;
        if (cnn && l === 0) h = tf.reshape(h, [x.shape[0], GRID * GRID * cnn.channels]);
        if (keepHidden && l < last) hidden[l]!.push(h);
      });
      return h;
    });
    return { logits: tf.stack(outs) as tf.Tensor3D, hidden };
  }

  /**
   * forward() where no gradient is taken (teacher targets, evaluation). On WebGPU an MLP's layers
   * then run as one matmul + bias + ReLU dispatch each, through our tiled kernel where it applies.
   */
  infer(input: StackInput, matmul: MatmulChoice = matmulChoice()): tf.Tensor3D {
    const fusable = this.activation === 'relu' && this.arch.family === 'mlp';
    if (input.kind !== 'batched' || !fusable || tf.getBackend() !== 'webgpu') return this.forward(input);
    return tf.tidy(() => {
      const last = this.weights.length - 1;
      let h = input.x;
      this.weights.forEach(([w], l) => {
        h = batchedMatMul(h, w!, { bias: this.biases[l]![0]!, relu: l < last }, matmul);
      });
      return h;
    });
  }

  /** Parameters back on the host, in the stacked layout of StackedParams. */
  async read(): Promise<StackedParams> {
    const gather = async (layers: tf.Variable[][]) =>
      Promise.all(
        layers.map(async (parts) => {
          const arrays = await Promise.all(parts.map(async (p) => (await p.data()) as Float32Array));
          const out = new Float32Array(arrays.reduce((n, a) => n + a.length, 0));
          let at = 0;
          for (const a of arrays) {
            out.set(a, at);
            at += a.length;
          }
          return out;
        }),
      );
    return {
      arch: this.arch,
      models: this.models,
      weights: await gather(this.weights),
      biases: await gather(this.biases),
    };
  }

  dispose(): void {
    tf.dispose(this.variables);
  }
}

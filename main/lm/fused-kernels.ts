// Fused kernels for the language model on the wasm backend with the native addon: LayerNorm, GELU,
// causal multi-head attention, the cross-entropy loss and the embeddings, each one kernel forward and
// one backward, and attention for one decoding step against a cache kept outside TF.js. They run in C
// (native/sublab-blas/src/lm-kernels.c) on the wasm heap, with no copies. TF.js's own graph spends
// ~70% of a step in dozens of elementwise ops per block (and their gradients), each a full pass over
// [B*T, d], and in per-head slices whose gradients pad back to the full weight; the fused forms make
// one pass each. Same mathematics as model.ts's graph; results agree within float32 rounding
// (fused.test.ts checks it). Registered under our own names for 'wasm' only, so every other kernel
// stays as it is, but for Identity while the fused path runs (shareClones).
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { nativeBlas, nativeLmKernels, type LmNativeKernels, type NativeBlas } from '../engine/native-blas.ts';
import { linearLayer } from '../engine/ops.ts';

const LN = 'SublabLmLayerNorm';
const LN_GRAD = 'SublabLmLayerNormGrad';
const GELU = 'SublabLmGelu';
const GELU_GRAD = 'SublabLmGeluGrad';
const ATTN = 'SublabLmAttention';
const ATTN_GRAD = 'SublabLmAttentionGrad';
const DECODE_STEP = 'SublabLmDecodeStep';
const ROW_SUM = 'SublabLmRowSum';
const CE = 'SublabLmCrossEntropy';
const CE_GRAD = 'SublabLmCrossEntropyGrad';
const EMBED = 'SublabLmEmbed';
const EMBED_GRAD = 'SublabLmEmbedGrad';

type Views = (infos: tf.TensorInfo[]) => Float32Array[];

/** Registers a kernel that allocates its outputs first, then reads every buffer through heap views. */
export function heapKernel(
  name: string,
  run: (
    inputs: Record<string, tf.TensorInfo>,
    attrs: Record<string, unknown>,
    alloc: (shape: number[]) => tf.TensorInfo,
    views: Views,
  ) => tf.TensorInfo | tf.TensorInfo[],
): void {
  tf.registerKernel({
    kernelName: name,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const wasm = backend as BackendWasm;
      // Views are taken after every makeOutput: an allocation may grow the heap and detach earlier ones.
      return run(
        inputs as Record<string, tf.TensorInfo>,
        (attrs ?? {}) as Record<string, unknown>,
        (shape) => wasm.makeOutput(shape, 'float32'),
        (infos) => infos.map((i) => wasm.typedArrayFromHeap(i) as Float32Array),
      );
    },
  });
}

/**
 * The attention kernels' layout: sequences of `lengths` positions stored one after another as rows
 * (padded batches: B equal lengths T; packed ones: each its own), H heads of dh, d = H dh.
 */
interface AttnShape {
  lengths: number[];
  heads: number;
  dh: number;
}

let ones = new Float32Array(0);

/** Σ_rows dy [N, n] as the BLAS product 1ᵀ dy: a bias's gradient at BLAS speed. */
export function rowSum(
  blas: NativeBlas,
  dy: Float32Array,
  rows: number,
  cols: number,
  out: Float32Array,
): void {
  if (ones.length < rows) ones = new Float32Array(rows).fill(1);
  blas.sgemm(false, false, 1, cols, rows, ones.subarray(0, rows), dy, out, false);
}

/** TF.js's own Identity for wasm (a copy), kept to be put back. */
let copyingIdentity: tf.KernelConfig | undefined;

/**
 * Identity (tf.clone) without a copy on wasm, or TF.js's copying one back (for the graph path, run as
 * it always was). TF.js clones every tensor it keeps for the backward pass (~70 a training step) and
 * the wasm backend's Identity copies each (~9% of a step). Tensors are never written in place (every
 * kernel, ours included, writes only outputs it allocated), so a clone may share its data, counted as
 * Reshape counts it, which is what the cpu backend's Identity does.
 */
export function shareClones(on: boolean): void {
  const current = tf.getKernel(tf.Identity, 'wasm');
  if (!current) return;
  const copy = (copyingIdentity ??= current);
  tf.unregisterKernel(tf.Identity, 'wasm');
  tf.registerKernel(
    on
      ? {
          ...copy,
          kernelFunc: (args) => {
            const x = args.inputs.x as tf.TensorInfo;
            if (x.dtype === 'string') return copy.kernelFunc(args);
            (args.backend as BackendWasm).incRef(x.dataId);
            return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
          },
        }
      : copy,
  );
}

/** The kernels of a block: LayerNorm, GELU and attention over a batch, forward and backward. */
function registerBlockKernels(lm: LmNativeKernels): void {
  heapKernel(LN, ({ x, g, b }, _, alloc, views) => {
    const [n, d] = x!.shape as [number, number];
    const outs = [alloc([n, d]), alloc([n, d]), alloc([n])];
    const [xv, gv, bv, y, xhat, rstd] = views([x!, g!, b!, ...outs]) as Float32Array[];
    lm.lmLayerNorm(n, d, xv!, gv!, bv!, y!, xhat!, rstd!);
    return outs;
  });
  heapKernel(LN_GRAD, ({ xhat, rstd, g, dy }, _, alloc, views) => {
    const [n, d] = xhat!.shape as [number, number];
    const outs = [alloc([n, d]), alloc([d]), alloc([d])];
    const [hv, rv, gv, dyv, dx, dg, db] = views([xhat!, rstd!, g!, dy!, ...outs]) as Float32Array[];
    lm.lmLayerNormGrad(n, d, hv!, rv!, gv!, dyv!, dx!, dg!, db!);
    return outs;
  });
  heapKernel(GELU, ({ x }, _, alloc, views) => {
    const outs = [alloc(x!.shape), alloc(x!.shape)];
    const [xv, y, s] = views([x!, ...outs]) as Float32Array[];
    lm.lmGelu(xv!.length, xv!, y!, s!);
    return outs;
  });
  heapKernel(GELU_GRAD, ({ x, s, dy }, _, alloc, views) => {
    const dx = alloc(x!.shape);
    const [xv, sv, dyv, dxv] = views([x!, s!, dy!, dx]) as Float32Array[];
    lm.lmGeluGrad(xv!.length, xv!, sv!, dyv!, dxv!);
    return dx;
  });
  heapKernel(ATTN, ({ qkv }, attrs, alloc, views) => {
    const sh = attrs as unknown as AttnShape;
    const out = alloc([qkv!.shape[0]!, sh.heads * sh.dh]);
    const probs = alloc([sh.lengths.reduce((n, t) => n + sh.heads * t * t, 0)]);
    const [qv, ov, pv] = views([qkv!, out, probs]) as [Float32Array, Float32Array, Float32Array];
    lm.lmAttention(Int32Array.from(sh.lengths), sh.heads, sh.dh, qv, ov, pv);
    return [out, probs];
  });
  heapKernel(ATTN_GRAD, ({ qkv, probs, dy }, attrs, alloc, views) => {
    const sh = attrs as unknown as AttnShape;
    const dqkv = alloc(qkv!.shape);
    const [qv, pv, dyv, dv] = views([qkv!, probs!, dy!, dqkv]) as Float32Array[];
    lm.lmAttentionGrad(Int32Array.from(sh.lengths), sh.heads, sh.dh, qv!, pv!, dyv!, dv!);
    return dqkv;
  });
}

/** The decoding step, bias gradients, the loss and the embeddings. */
function registerEdgeKernels(blas: NativeBlas, lm: LmNativeKernels): void {
  heapKernel(DECODE_STEP, ({ ids, ...params }, attrs, alloc, views) => {
    const { shape, state, rows } = attrs as unknown as DecodeStepAttrs;
    const logits = alloc([shape[0]!, shape[5]!]);
    const order = Object.keys(params).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
    const [iv, out, ...pv] = views([ids!, logits, ...order.map((k) => params[k]!)]);
    const [k, v] = [state.caches.map((c) => c.k), state.caches.map((c) => c.v)];
    lm.lmDecodeStep(shape, iv as unknown as Int32Array, rows, pv, k, v, state.scratch, out!);
    return logits;
  });
  heapKernel(ROW_SUM, ({ x }, _, alloc, views) => {
    const [rows, cols] = x!.shape as [number, number];
    const out = alloc([cols]);
    const [xv, ov] = views([x!, out]) as [Float32Array, Float32Array];
    rowSum(blas, xv, rows, cols, ov);
    return out;
  });
  heapKernel(CE, ({ logits, targets, weights }, _, alloc, views) => {
    const [n, v] = logits!.shape as [number, number];
    const outs = [alloc([]), alloc([n, v])];
    const [lv, tv, wv, loss, probs] = views([logits!, targets!, weights!, ...outs]);
    loss![0] = lm.lmCrossEntropy(n, v, lv!, tv as unknown as Int32Array, wv!, probs!);
    return outs;
  });
  heapKernel(CE_GRAD, ({ probs, targets, weights, dy }, _, alloc, views) => {
    const [n, v] = probs!.shape as [number, number];
    const dx = alloc([n, v]);
    const [pv, tv, wv, dyv, dxv] = views([probs!, targets!, weights!, dy!, dx]);
    lm.lmCrossEntropyGrad(n, v, pv!, tv as unknown as Int32Array, wv!, dyv!, dxv!);
    return dx;
  });
  heapKernel(EMBED, ({ table, ids }, _, alloc, views) => {
    const [vocab, d] = table!.shape as [number, number];
    const n = ids!.shape[0]!;
    const out = alloc([n, d]);
    const [tv, iv, ov] = views([table!, ids!, out]);
    lm.lmEmbed(n, vocab, d, iv as unknown as Int32Array, tv!, ov!);
    return out;
  });
  heapKernel(EMBED_GRAD, ({ ids, dy }, attrs, alloc, views) => {
    const { vocab } = attrs as { vocab: number };
    const [n, d] = dy!.shape as [number, number];
    const dtable = alloc([vocab, d]);
    const [iv, dyv, dv] = views([ids!, dy!, dtable]);
    lm.lmEmbedGrad(n, vocab, d, iv as unknown as Int32Array, dyv!, dv!);
    return dtable;
  });
}

let registered = false;

function register(blas: NativeBlas, lm: LmNativeKernels): void {
  if (registered) return;
  registered = true;
  shareClones(true);
  registerBlockKernels(lm);
  registerEdgeKernels(blas, lm);
}

/**
 * Whether the fused kernels can run: the wasm backend with the native addon loaded, built with its
 * language-model kernels (a build from before them leaves the graph path running until a rebuild).
 */
export function fusedKernelsAvailable(): boolean {
  if (tf.getBackend() !== 'wasm') return false;
  const state = nativeBlas();
  const lm = nativeLmKernels(state);
  if (!state.ok || !lm) return false;
  register(state.addon, lm);
  return true;
}

export type GradArgs = (tf.Tensor | tf.GradSaveFunc)[];
export const run = (name: string, inputs: tf.NamedTensorMap, attrs: object = {}) =>
  tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap);

/** x [N, in] w [in, out] + b: model.ts's dense layer, its bias gradient a BLAS product too. */
export const fusedDense = linearLayer((dy) => run(ROW_SUM, { x: dy }) as tf.Tensor1D);

/** LayerNorm over the last axis of x [N, d] with gain g and bias b (epsilon 1e-5). */
export const fusedLayerNorm = tf.customGrad((...args: GradArgs) => {
  const [x, g, b, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
  const [y, xhat, rstd] = run(LN, { x, g, b }) as unknown as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
  save([xhat!, rstd!, g]);
  return {
    value: y!,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [h, r, sg] = saved as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];
      return run(LN_GRAD, { xhat: h, rstd: r, g: sg, dy }) as unknown as tf.Tensor[];
    },
  };
}) as (x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor2D;

/** x sigmoid(1.702 x), elementwise; the sigmoid is kept for the backward pass. */
export const fusedGelu = tf.customGrad((...args: GradArgs) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const [y, s] = run(GELU, { x }) as unknown as [tf.Tensor, tf.Tensor];
  save([x, s!]);
  return {
    value: y!,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      run(GELU_GRAD, { x: saved[0]!, s: saved[1]!, dy }) as tf.Tensor,
  };
}) as (x: tf.Tensor) => tf.Tensor;

/** One block's keys and values for decoding, B x context x d floats each, outside TF.js (written in place by the kernel, keys transposed). */
export interface LayerCache {
  k: Float32Array;
  v: Float32Array;
}

/** What a decoder keeps between steps outside TF.js: the caches per block and a step's scratch. */
export interface DecodeState {
  caches: LayerCache[];
  scratch: Float32Array;
}

/** Sizes of a decoding step: [b, layers, d, heads, hidden, vocab, context, pos] (the kernel's order). */
export interface StepSizes {
  b: number;
  layers: number;
  d: number;
  heads: number;
  hidden: number;
  vocab: number;
  context: number;
}

/** The caches and scratch for decoding `s.b` sequences (the scratch as lm-kernels.c's step lays it out). */
export function decodeState(s: StepSizes): DecodeState {
  const floats = s.b * s.context * s.d;
  return {
    caches: Array.from({ length: s.layers }, () => ({
      k: new Float32Array(floats),
      v: new Float32Array(floats),
    })),
    scratch: new Float32Array(s.b * (9 * s.d + 3 * s.hidden + 1) + s.context),
  };
}

interface DecodeStepAttrs {
  shape: Int32Array;
  state: DecodeState;
  rows: Int32Array;
}

/**
 * One whole decoding step in one kernel: the logits [B, V] for tokens ids [B] (int32) at position
 * `pos`, from `params` in paramShapes' order, each block's key and value added to the state's caches.
 * The same chain of kernels as model.ts's blocks and head, so the same logits to the bit. Only the
 * sequences `rows` (ascending) are decoded: the others' caches stay as they are and their logits are 0.
 * No gradient: sampling.
 */
export function fusedDecodeStep(
  params: readonly tf.Tensor[],
  ids: tf.Tensor1D,
  sizes: StepSizes,
  pos: number,
  state: DecodeState,
  rows: Int32Array,
): tf.Tensor2D {
  const s = sizes;
  const shape = Int32Array.from([s.b, s.layers, s.d, s.heads, s.hidden, s.vocab, s.context, pos]);
  const inputs: tf.NamedTensorMap = { ids };
  params.forEach((t, i) => (inputs[`p${i}`] = t));
  return run(DECODE_STEP, inputs, { shape, state, rows }) as tf.Tensor2D;
}

/** Rows of table [V, d] by id, ids [N] int32: [N, d]; the gradient adds dy's rows back by id. */
export function fusedEmbed(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  const vocab = table.shape[0];
  const f = tf.customGrad((...args: GradArgs) => {
    const [t, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    // Saved, not captured: ids may be made inside the loss function, whose tensors are disposed after
    // the forward pass unless the tape keeps them.
    save([ids]);
    return {
      value: run(EMBED, { table: t, ids }) as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        run(EMBED_GRAD, { ids: saved[0]!, dy }, { vocab }) as tf.Tensor,
    };
  }) as (t: tf.Tensor2D) => tf.Tensor2D;
  return f(table);
}

/**
 * The mean cross-entropy of logits [N, V] against targets [N] (int32) over rows weighted by weights [N]:
 * -Σ w log softmax(logits)[target] / max(Σ w, 1), as model.ts's sequenceLoss, in one kernel each way.
 */
export function fusedCrossEntropy(
  logits: tf.Tensor2D,
  targets: tf.Tensor1D,
  weights: tf.Tensor1D,
): tf.Scalar {
  const f = tf.customGrad((...args: GradArgs) => {
    const [x, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    const [loss, probs] = run(CE, { logits: x, targets, weights }) as unknown as [tf.Scalar, tf.Tensor2D];
    save([probs!]);
    return {
      value: loss!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        run(CE_GRAD, { probs: saved[0]!, targets, weights, dy }) as tf.Tensor,
    };
  }) as (x: tf.Tensor2D) => tf.Scalar;
  return f(logits);
}

/**
 * Causal multi-head self-attention from the projections qkv [N, 3d] (q, k, v side by side, each heads
 * side by side) of sequences of `lengths` positions stored one after another (N = their sum): the
 * heads' outputs side by side [N, d]. A sequence attends within itself only.
 */
export function fusedAttention(qkv: tf.Tensor2D, lengths: readonly number[], heads: number): tf.Tensor2D {
  const sh: AttnShape = { lengths: [...lengths], heads, dh: qkv.shape[1] / 3 / heads };
  const f = tf.customGrad((...args: GradArgs) => {
    const [x, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    const [out, probs] = run(ATTN, { qkv: x }, sh) as unknown as [tf.Tensor2D, tf.Tensor1D];
    save([x, probs!]);
    return {
      value: out!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        run(ATTN_GRAD, { qkv: saved[0]!, probs: saved[1]!, dy }, sh) as tf.Tensor,
    };
  }) as (x: tf.Tensor2D) => tf.Tensor2D;
  return f(qkv);
}

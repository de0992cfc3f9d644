// Fused kernels for the language model's training step on the wasm backend with the native BLAS:
// LayerNorm, GELU and multi-head causal attention each as one kernel forward and one backward, in JS
// over the wasm heap (no copies). TF.js's own graph spends ~70% of a step in dozens of elementwise ops
// per block (and their gradients), each a full pass over [B*T, d], and in per-head slices whose
// gradients pad back to the full weight; the fused forms make one pass each. Same mathematics as
// model.ts's graph; results agree within float32 rounding (fused.test.ts checks it). Registered under
// our own names for 'wasm' only, so every other kernel stays as it is.
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { nativeBlas, type NativeBlas } from '../engine/native-blas.ts';
import { linearLayer } from '../engine/ops.ts';

const LN = 'SublabLmLayerNorm';
const LN_GRAD = 'SublabLmLayerNormGrad';
const GELU_GRAD = 'SublabLmGeluGrad';
const ATTN = 'SublabLmAttention';
const ATTN_GRAD = 'SublabLmAttentionGrad';
const ROW_SUM = 'SublabLmRowSum';

/** GPT-2's LayerNorm epsilon, as model.ts's graph uses. */
const EPS = 1e-5;
/** GELU in its sigmoid form x * sigmoid(A x). */
const A = 1.702;

type Views = (infos: tf.TensorInfo[]) => Float32Array[];

/** Registers a kernel that allocates its outputs first, then reads every buffer through heap views. */
function heapKernel(
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
 * y = xhat g + b per row of x [N, d], xhat = (x - mean) / sqrt(var + eps) in double precision; xhat
 * and 1/sqrt(var + eps) are kept for the backward pass.
 */
function layerNormForward(
  x: Float32Array,
  g: Float32Array,
  b: Float32Array,
  out: { y: Float32Array; xhat: Float32Array; rstd: Float32Array },
  d: number,
): void {
  const { y, xhat } = out;
  for (let r = 0, o = 0; o < x.length; r++, o += d) {
    let mean = 0;
    for (let j = 0; j < d; j++) mean += x[o + j]!;
    mean /= d;
    let v = 0;
    for (let j = 0; j < d; j++) {
      const c = x[o + j]! - mean;
      v += c * c;
    }
    const rstd = 1 / Math.sqrt(v / d + EPS);
    out.rstd[r] = rstd;
    for (let j = 0; j < d; j++) {
      const h = (x[o + j]! - mean) * rstd;
      xhat[o + j] = h;
      y[o + j] = h * g[j]! + b[j]!;
    }
  }
}

/** dx, dg, db of y = xhat g + b for dy, from the forward pass's xhat and 1/sqrt(var + eps). */
function layerNormBackward(
  saved: { xhat: Float32Array; rstd: Float32Array; g: Float32Array },
  dy: Float32Array,
  out: { dx: Float32Array; dg: Float32Array; db: Float32Array },
  d: number,
): void {
  const { xhat, g } = saved;
  const dg = new Float64Array(d);
  const db = new Float64Array(d);
  for (let r = 0, o = 0; o < xhat.length; r++, o += d) {
    let sum = 0;
    let dot = 0;
    for (let j = 0; j < d; j++) {
      const gy = dy[o + j]!;
      const h = xhat[o + j]!;
      const dh = gy * g[j]!;
      sum += dh;
      dot += dh * h;
      dg[j]! += gy * h;
      db[j]! += gy;
    }
    sum /= d;
    dot /= d;
    const rstd = saved.rstd[r]!;
    for (let j = 0; j < d; j++) out.dx[o + j] = rstd * (dy[o + j]! * g[j]! - sum - xhat[o + j]! * dot);
  }
  out.dg.set(dg);
  out.db.set(db);
}

/** d/dx of x s, s = sigmoid(A x), from the forward pass's s: no exp recomputed. */
function geluBackward(x: Float32Array, s: Float32Array, dy: Float32Array, dx: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const si = s[i]!;
    dx[i] = dy[i]! * (si + A * x[i]! * si * (1 - si));
  }
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

/** Copies `t` rows from row `row` of src (rows of `width`, columns from `at`) into a dense [t, dh]. */
function gather(
  src: Float32Array,
  width: number,
  at: number,
  row: number,
  t: number,
  dh: number,
  into: Float32Array,
): void {
  for (let i = 0; i < t; i++) {
    const from = (row + i) * width + at;
    for (let e = 0; e < dh; e++) into[i * dh + e] = src[from + e]!;
  }
}

function scatter(
  from: Float32Array,
  dst: Float32Array,
  width: number,
  at: number,
  row: number,
  t: number,
  dh: number,
): void {
  for (let i = 0; i < t; i++) {
    const to = (row + i) * width + at;
    for (let e = 0; e < dh; e++) dst[to + e] = from[i * dh + e]!;
  }
}

/** Row-wise causal softmax of scores [T, T] scaled by `scale`, in place; masked entries become 0. */
function causalSoftmax(p: Float32Array, t: number, scale: number): void {
  const f = Math.fround(scale);
  for (let i = 0; i < t; i++) {
    const row = i * t;
    let max = -Infinity;
    for (let j = 0; j <= i; j++) {
      const v = Math.fround(p[row + j]! * f);
      p[row + j] = v;
      if (v > max) max = v;
    }
    let sum = 0;
    for (let j = 0; j <= i; j++) {
      const e = Math.exp(p[row + j]! - max);
      p[row + j] = e;
      sum += e;
    }
    for (let j = 0; j <= i; j++) p[row + j]! /= sum;
    p.fill(0, row + i + 1, row + t);
  }
}

/** dS = P (dP - rowsum(P dP)) scale, in place on dP. */
function softmaxBackward(p: Float32Array, dp: Float32Array, t: number, scale: number): void {
  for (let i = 0; i < t; i++) {
    let dot = 0;
    for (let j = 0; j <= i; j++) dot += p[i * t + j]! * dp[i * t + j]!;
    for (let j = 0; j < t; j++) dp[i * t + j] = j <= i ? p[i * t + j]! * (dp[i * t + j]! - dot) * scale : 0;
  }
}

/** One sequence and head: where its rows start, its length, the head's column and its probabilities. */
interface Window {
  row: number;
  t: number;
  at: number;
  p: Float32Array;
}

/** Calls `f` for every sequence and head, with the head's slice of the probabilities [T, T]. */
function eachWindow(probs: Float32Array, sh: AttnShape, f: (w: Window) => void): void {
  let row = 0;
  let offset = 0;
  for (const t of sh.lengths) {
    for (let h = 0; h < sh.heads; h++) {
      f({ row, t, at: h * sh.dh, p: probs.subarray(offset, offset + t * t) });
      offset += t * t;
    }
    row += t;
  }
}

/** Scratch of `count` [T, dh] blocks for the longest sequence. */
function scratch(sh: AttnShape, count: number): Float32Array[] {
  const t = Math.max(...sh.lengths);
  return Array.from({ length: count }, () => new Float32Array(t * sh.dh));
}

function attentionForward(
  blas: NativeBlas,
  qkv: Float32Array,
  out: Float32Array,
  probs: Float32Array,
  sh: AttnShape,
): void {
  const { dh } = sh;
  const d = sh.heads * dh;
  const [q, k, v, o] = scratch(sh, 4) as [Float32Array, Float32Array, Float32Array, Float32Array];
  eachWindow(probs, sh, ({ row, t, at, p }) => {
    gather(qkv, 3 * d, at, row, t, dh, q);
    gather(qkv, 3 * d, d + at, row, t, dh, k);
    gather(qkv, 3 * d, 2 * d + at, row, t, dh, v);
    blas.sgemm(false, true, t, t, dh, q, k, p, false);
    causalSoftmax(p, t, 1 / Math.sqrt(dh));
    blas.sgemm(false, false, t, dh, t, p, v, o, false);
    scatter(o, out, d, at, row, t, dh);
  });
}

function attentionBackward(
  blas: NativeBlas,
  qkv: Float32Array,
  probs: Float32Array,
  dy: Float32Array,
  dqkv: Float32Array,
  sh: AttnShape,
): void {
  const { dh } = sh;
  const d = sh.heads * dh;
  const [q, k, v, dO, dq, dk, dv] = scratch(sh, 7) as Float32Array[] as [
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
  ];
  const longest = Math.max(...sh.lengths);
  const ds = new Float32Array(longest * longest);
  eachWindow(probs, sh, ({ row, t, at, p }) => {
    gather(qkv, 3 * d, at, row, t, dh, q);
    gather(qkv, 3 * d, d + at, row, t, dh, k);
    gather(qkv, 3 * d, 2 * d + at, row, t, dh, v);
    gather(dy, d, at, row, t, dh, dO);
    blas.sgemm(true, false, t, dh, t, p, dO, dv, false);
    blas.sgemm(false, true, t, t, dh, dO, v, ds, false);
    softmaxBackward(p, ds, t, 1 / Math.sqrt(dh));
    blas.sgemm(false, false, t, dh, t, ds, k, dq, false);
    blas.sgemm(true, false, t, dh, t, ds, q, dk, false);
    scatter(dq, dqkv, 3 * d, at, row, t, dh);
    scatter(dk, dqkv, 3 * d, d + at, row, t, dh);
    scatter(dv, dqkv, 3 * d, 2 * d + at, row, t, dh);
  });
}

let ones = new Float32Array(0);

/** Σ_rows dy [N, n] as the BLAS product 1ᵀ dy: a bias's gradient at BLAS speed. */
function rowSum(blas: NativeBlas, dy: Float32Array, rows: number, cols: number, out: Float32Array): void {
  if (ones.length < rows) ones = new Float32Array(rows).fill(1);
  blas.sgemm(false, false, 1, cols, rows, ones.subarray(0, rows), dy, out, false);
}

let registered = false;

function register(blas: NativeBlas): void {
  if (registered) return;
  registered = true;
  heapKernel(LN, ({ x, g, b }, _, alloc, views) => {
    const [n, d] = x!.shape as [number, number];
    const outs = [alloc([n, d]), alloc([n, d]), alloc([n])];
    const [xv, gv, bv, y, xhat, rstd] = views([x!, g!, b!, ...outs]) as Float32Array[];
    layerNormForward(xv!, gv!, bv!, { y: y!, xhat: xhat!, rstd: rstd! }, d);
    return outs;
  });
  heapKernel(LN_GRAD, ({ xhat, rstd, g, dy }, _, alloc, views) => {
    const d = xhat!.shape[1]!;
    const outs = [alloc(xhat!.shape), alloc([d]), alloc([d])];
    const [hv, rv, gv, dyv, dx, dg, db] = views([xhat!, rstd!, g!, dy!, ...outs]) as Float32Array[];
    layerNormBackward({ xhat: hv!, rstd: rv!, g: gv! }, dyv!, { dx: dx!, dg: dg!, db: db! }, d);
    return outs;
  });
  heapKernel(GELU_GRAD, ({ x, s, dy }, _, alloc, views) => {
    const dx = alloc(x!.shape);
    const [xv, sv, dyv, dxv] = views([x!, s!, dy!, dx]) as Float32Array[];
    geluBackward(xv!, sv!, dyv!, dxv!);
    return dx;
  });
  heapKernel(ROW_SUM, ({ x }, _, alloc, views) => {
    const [rows, cols] = x!.shape as [number, number];
    const out = alloc([cols]);
    const [xv, ov] = views([x!, out]) as [Float32Array, Float32Array];
    rowSum(blas, xv, rows, cols, ov);
    return out;
  });
  heapKernel(ATTN, ({ qkv }, attrs, alloc, views) => {
    const sh = attrs as unknown as AttnShape;
    const out = alloc([qkv!.shape[0]!, sh.heads * sh.dh]);
    const probs = alloc([sh.lengths.reduce((n, t) => n + sh.heads * t * t, 0)]);
    const [qv, ov, pv] = views([qkv!, out, probs]) as [Float32Array, Float32Array, Float32Array];
    attentionForward(blas, qv, ov, pv, sh);
    return [out, probs];
  });
  heapKernel(ATTN_GRAD, ({ qkv, probs, dy }, attrs, alloc, views) => {
    const sh = attrs as unknown as AttnShape;
    const dqkv = alloc(qkv!.shape);
    const [qv, pv, dyv, dv] = views([qkv!, probs!, dy!, dqkv]) as [
      Float32Array,
      Float32Array,
      Float32Array,
      Float32Array,
    ];
    attentionBackward(blas, qv, pv, dyv, dv, sh);
    return dqkv;
  });
}

/** Whether the fused kernels can run: the wasm backend with the native BLAS loaded. */
export function fusedKernelsAvailable(): boolean {
  if (tf.getBackend() !== 'wasm') return false;
  const state = nativeBlas();
  if (!state.ok) return false;
  register(state.addon);
  return true;
}

type GradArgs = (tf.Tensor | tf.GradSaveFunc)[];
const run = (name: string, inputs: tf.NamedTensorMap, attrs: object = {}) =>
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

/**
 * x sigmoid(1.702 x), elementwise: the forward pass is TF.js's (wasm's vectorised sigmoid, the graph
 * path's numbers exactly), the backward pass one kernel over the saved sigmoid.
 */
export const fusedGelu = tf.customGrad((...args: GradArgs) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const s = tf.sigmoid(tf.mul(x, A));
  save([x, s]);
  return {
    value: tf.mul(x, s),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
      run(GELU_GRAD, { x: saved[0]!, s: saved[1]!, dy }) as tf.Tensor,
  };
}) as (x: tf.Tensor) => tf.Tensor;

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

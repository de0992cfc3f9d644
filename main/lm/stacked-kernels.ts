// Grouped forms of the fused kernels whose work depends on a model's parameters, for K models of one
// shape trained in one step (stacked.ts): the rows of x [N, d] are K groups, group k of rows[k] rows,
// one after another, and each model's parameter is its own input (w0, w1, ...: no copy into a stacked
// tensor, and each gradient goes straight to its model). Each group runs the very call the unstacked
// kernel makes (fused-kernels.ts, blas-matmul.ts) on views of its rows and its model's parameters, so
// a stacked model computes what it computes alone, bit for bit. The kernels without parameters
// (attention, GELU, the embeddings over concatenated tables) need no grouped form.
import * as tf from '@tensorflow/tfjs-core';
import { nativeBlas, nativeLmKernels, type LmNativeKernels, type NativeBlas } from '../engine/native-blas.ts';
import { fusedKernelsAvailable, heapKernel, rowSum, run, type GradArgs } from './fused-kernels.ts';

const DENSE = 'SublabLmGroupedDense';
const DENSE_GRAD = 'SublabLmGroupedDenseGrad';
const LN = 'SublabLmGroupedLayerNorm';
const LN_GRAD = 'SublabLmGroupedLayerNormGrad';
const CE = 'SublabLmGroupedCrossEntropy';
const CE_GRAD = 'SublabLmGroupedCrossEntropyGrad';

interface Groups {
  rows: number[];
}

/** Calls `f(k, first row, rows)` for each group with rows; an empty group's outputs are zeroed by `empty`. */
function eachGroup(
  rows: readonly number[],
  f: (k: number, at: number, n: number) => void,
  empty?: (k: number) => void,
): void {
  let at = 0;
  rows.forEach((n, k) => {
    if (n > 0) f(k, at, n);
    else empty?.(k);
    at += n;
  });
}

/** Rows [at, at + n) of a row-major matrix with `cols` columns. */
const part = (a: Float32Array, at: number, n: number, cols: number) => a.subarray(at * cols, (at + n) * cols);

/** A grouped kernel's per-model inputs `${name}0` .. `${name}${models - 1}`. */
function perModel(inputs: Record<string, tf.TensorInfo>, name: string, models: number): tf.TensorInfo[] {
  return Array.from({ length: models }, (_, i) => inputs[`${name}${i}`]!);
}

function registerDense(blas: NativeBlas): void {
  // As blas-matmul.ts's kernel with a bias: each row starts as the bias, then the product is added.
  heapKernel(DENSE, (inputs, attrs, alloc, views) => {
    const { rows } = attrs as unknown as Groups;
    const K = rows.length;
    const x = inputs.x!;
    const [k, n] = inputs.w0!.shape as [number, number];
    const y = alloc([x.shape[0]!, n]);
    const [xv, yv, ...p] = views([x, y, ...perModel(inputs, 'w', K), ...perModel(inputs, 'b', K)]);
    eachGroup(rows, (g, at, m) => {
      for (let r = at; r < at + m; r++) yv!.set(p[K + g]!, r * n);
      blas.sgemm(false, false, m, n, k, part(xv!, at, m, k), p[g]!, part(yv!, at, m, n), true);
    });
    return y;
  });
  // As ops.ts's linearLayer: dx = dy wᵀ, dw = xᵀ dy, db = Σ_rows dy (fused-kernels.ts's rowSum).
  heapKernel(DENSE_GRAD, (inputs, attrs, alloc, views) => {
    const { rows } = attrs as unknown as Groups;
    const K = rows.length;
    const x = inputs.x!;
    const [k, n] = inputs.w0!.shape as [number, number];
    const outs = [alloc(x.shape), ...rows.map(() => alloc([k, n])), ...rows.map(() => alloc([n]))];
    const [xv, dyv, dx, ...p] = views([x, inputs.dy!, ...outs, ...perModel(inputs, 'w', K)]);
    const [dw, db, w] = [p.slice(0, K), p.slice(K, 2 * K), p.slice(2 * K)];
    eachGroup(
      rows,
      (g, at, m) => {
        const dyg = part(dyv!, at, m, n);
        blas.sgemm(false, true, m, k, n, dyg, w[g]!, part(dx!, at, m, k), false);
        blas.sgemm(true, false, k, n, m, part(xv!, at, m, k), dyg, dw[g]!, false);
        rowSum(blas, dyg, m, n, db[g]!);
      },
      (g) => {
        dw[g]!.fill(0);
        db[g]!.fill(0);
      },
    );
    return outs;
  });
}

function registerLayerNorm(lm: LmNativeKernels): void {
  heapKernel(LN, (inputs, attrs, alloc, views) => {
    const { rows } = attrs as unknown as Groups;
    const K = rows.length;
    const [n, d] = inputs.x!.shape as [number, number];
    const outs = [alloc([n, d]), alloc([n, d]), alloc([n])];
    const [xv, y, xhat, rstd, ...p] = views([
      inputs.x!,
      ...outs,
      ...perModel(inputs, 'g', K),
      ...perModel(inputs, 'b', K),
    ]);
    eachGroup(rows, (k, at, m) =>
      lm.lmLayerNorm(
        m,
        d,
        part(xv!, at, m, d),
        p[k]!,
        p[K + k]!,
        part(y!, at, m, d),
        part(xhat!, at, m, d),
        part(rstd!, at, m, 1),
      ),
    );
    return outs;
  });
  heapKernel(LN_GRAD, (inputs, attrs, alloc, views) => {
    const { rows } = attrs as unknown as Groups;
    const K = rows.length;
    const [n, d] = inputs.xhat!.shape as [number, number];
    const outs = [alloc([n, d]), ...rows.map(() => alloc([d])), ...rows.map(() => alloc([d]))];
    const [hv, rv, dyv, dx, ...p] = views([
      inputs.xhat!,
      inputs.rstd!,
      inputs.dy!,
      ...outs,
      ...perModel(inputs, 'g', K),
    ]);
    const [dg, db, g] = [p.slice(0, K), p.slice(K, 2 * K), p.slice(2 * K)];
    eachGroup(
      rows,
      (k, at, m) =>
        lm.lmLayerNormGrad(
          m,
          d,
          part(hv!, at, m, d),
          part(rv!, at, m, 1),
          g[k]!,
          part(dyv!, at, m, d),
          part(dx!, at, m, d),
          dg[k]!,
          db[k]!,
        ),
      (k) => {
        dg[k]!.fill(0);
        db[k]!.fill(0);
      },
    );
    return outs;
  });
}

function registerCrossEntropy(lm: LmNativeKernels): void {
  heapKernel(CE, ({ logits, targets, weights }, attrs, alloc, views) => {
    const { rows } = attrs as unknown as Groups;
    const [n, v] = logits!.shape as [number, number];
    const outs = [alloc([rows.length]), alloc([n, v])];
    const [lv, tv, wv, loss, probs] = views([logits!, targets!, weights!, ...outs]);
    const targetIds = tv as unknown as Int32Array;
    eachGroup(
      rows,
      (k, at, m) =>
        (loss![k] = lm.lmCrossEntropy(
          m,
          v,
          part(lv!, at, m, v),
          targetIds.subarray(at, at + m),
          part(wv!, at, m, 1),
          part(probs!, at, m, v),
        )),
      (k) => (loss![k] = 0),
    );
    return outs;
  });
  heapKernel(CE_GRAD, ({ probs, targets, weights, dy }, attrs, alloc, views) => {
    const { rows } = attrs as unknown as Groups;
    const [n, v] = probs!.shape as [number, number];
    const dx = alloc([n, v]);
    const [pv, tv, wv, dyv, dxv] = views([probs!, targets!, weights!, dy!, dx]);
    const targetIds = tv as unknown as Int32Array;
    eachGroup(rows, (k, at, m) =>
      lm.lmCrossEntropyGrad(
        m,
        v,
        part(pv!, at, m, v),
        targetIds.subarray(at, at + m),
        part(wv!, at, m, 1),
        dyv!.subarray(k, k + 1),
        part(dxv!, at, m, v),
      ),
    );
    return dx;
  });
}

let registered = false;

/** Whether the grouped kernels can run (the fused kernels can); registers them once. */
export function groupedKernelsAvailable(): boolean {
  if (!fusedKernelsAvailable()) return false;
  if (!registered) {
    const state = nativeBlas();
    const lm = nativeLmKernels(state);
    if (!state.ok || !lm) return false;
    registered = true;
    registerDense(state.addon);
    registerLayerNorm(lm);
    registerCrossEntropy(lm);
  }
  return true;
}

/** `${name}${i}` for each tensor: a grouped kernel's per-model inputs. */
function perModelInputs(name: string, ts: readonly tf.Tensor[]): tf.NamedTensorMap {
  return Object.fromEntries(ts.map((t, i) => [`${name}${i}`, t]));
}

/**
 * A grouped op of x and two parameters per model, named `names` (w0.., b0..). `forward` gives the
 * output and the tensors the backward pass keeps; `backward` gets them with the models' first
 * parameters and gives the gradients of x, then of every first, then of every second parameter.
 */
function groupedOp(
  x: tf.Tensor2D,
  names: [string, string],
  first: readonly tf.Tensor[],
  second: readonly tf.Tensor[],
  forward: (inputs: tf.NamedTensorMap) => { value: tf.Tensor2D; keep: tf.Tensor[] },
  backward: (dy: tf.Tensor, kept: tf.Tensor[], firsts: tf.NamedTensorMap) => tf.Tensor[],
): tf.Tensor2D {
  const K = first.length;
  const f = tf.customGrad((...args: GradArgs) => {
    const save = args.at(-1) as tf.GradSaveFunc;
    const [a, ...p] = args.slice(0, -1) as tf.Tensor[];
    const [ps, qs] = [p.slice(0, K), p.slice(K)];
    const { value, keep } = forward({
      x: a!,
      ...perModelInputs(names[0], ps),
      ...perModelInputs(names[1], qs),
    });
    save([...keep, ...ps]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        backward(dy, saved.slice(0, keep.length), perModelInputs(names[0], saved.slice(keep.length))),
    };
  }) as (...t: tf.Tensor[]) => tf.Tensor2D;
  return f(x, ...first, ...second);
}

/** Each group's rows of x [N, in] times its model's w [in, out] plus b [out]: [N, out]. */
export function groupedDense(
  x: tf.Tensor2D,
  ws: readonly tf.Tensor2D[],
  bs: readonly tf.Tensor1D[],
  rows: readonly number[],
): tf.Tensor2D {
  const groups: Groups = { rows: [...rows] };
  return groupedOp(
    x,
    ['w', 'b'],
    ws,
    bs,
    (inputs) => ({ value: run(DENSE, inputs, groups) as tf.Tensor2D, keep: [inputs.x!] }),
    (dy, [a], w) => run(DENSE_GRAD, { x: a!, dy, ...w }, groups) as unknown as tf.Tensor[],
  );
}

/** LayerNorm of each group's rows of x [N, d] with its model's gain g and bias b ([d] each). */
export function groupedLayerNorm(
  x: tf.Tensor2D,
  gs: readonly tf.Tensor1D[],
  bs: readonly tf.Tensor1D[],
  rows: readonly number[],
): tf.Tensor2D {
  const groups: Groups = { rows: [...rows] };
  return groupedOp(
    x,
    ['g', 'b'],
    gs,
    bs,
    (inputs) => {
      const [y, xhat, rstd] = run(LN, inputs, groups) as unknown as tf.Tensor2D[];
      return { value: y!, keep: [xhat!, rstd!] };
    },
    (dy, [xhat, rstd], g) =>
      run(LN_GRAD, { xhat: xhat!, rstd: rstd!, dy, ...g }, groups) as unknown as tf.Tensor[],
  );
}

/** Each group's mean cross-entropy (fused-kernels.ts's fusedCrossEntropy over its rows): [K]. */
export function groupedCrossEntropy(
  logits: tf.Tensor2D,
  targets: tf.Tensor1D,
  weights: tf.Tensor1D,
  rows: readonly number[],
): tf.Tensor1D {
  const groups: Groups = { rows: [...rows] };
  const f = tf.customGrad((...args: GradArgs) => {
    const [x, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    const [loss, probs] = run(CE, { logits: x, targets, weights }, groups) as unknown as tf.Tensor[];
    save([probs!]);
    return {
      value: loss!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        run(CE_GRAD, { probs: saved[0]!, targets, weights, dy }, groups) as tf.Tensor,
    };
  }) as (x: tf.Tensor2D) => tf.Tensor1D;
  return f(logits);
}

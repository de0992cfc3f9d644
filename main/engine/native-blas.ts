// The optional native BLAS addon (native/sublab-blas): sgemm from OpenBLAS or Accelerate for the
// wasm backend's 2-D matmuls (blas-matmul.ts). Loaded once per process. When it is absent, failed to
// build, or is switched off, the reason is kept for the backend's versions line and XNNPACK runs.
//
// SUBLAB_BLAS=off switches it off. SUBLAB_BLAS_THREADS sets its threads (default 1: the run path
// already starts one trainer process per core, and more threads per process would oversubscribe).
import { createRequire } from 'node:module';

export interface NativeBlas {
  blas: 'openblas' | 'accelerate';
  /** c[m, n] = op(a) op(b) (+ c when accumulate), row-major, in place. */
  sgemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    accumulate: boolean,
  ): void;
  setThreads(threads: number): number;
  config(): string;
  /** The language model's fused kernels (src/lm-kernels.c); absent from a build that predates them. */
  lm?: LmNativeKernels;
}

/** The addon's language-model kernels, in place over Float32Arrays of the shapes given (checked). */
export interface LmNativeKernels {
  lmLayerNorm(
    rows: number,
    d: number,
    x: Float32Array,
    g: Float32Array,
    b: Float32Array,
    y: Float32Array,
    xhat: Float32Array,
    rstd: Float32Array,
  ): void;
  lmLayerNormGrad(
    rows: number,
    d: number,
    xhat: Float32Array,
    rstd: Float32Array,
    g: Float32Array,
    dy: Float32Array,
    dx: Float32Array,
    dg: Float32Array,
    db: Float32Array,
  ): void;
  lmGelu(n: number, x: Float32Array, y: Float32Array, s: Float32Array): void;
  lmGeluGrad(n: number, x: Float32Array, s: Float32Array, dy: Float32Array, dx: Float32Array): void;
  lmEmbed(n: number, vocab: number, d: number, ids: Int32Array, table: Float32Array, out: Float32Array): void;
  lmEmbedGrad(
    n: number,
    vocab: number,
    d: number,
    ids: Int32Array,
    dy: Float32Array,
    dtable: Float32Array,
  ): void;
  /** tf.train.adam's step for n parameters; c1, c2 are 1 - beta^t. */
  lmAdam(
    n: number,
    p: Float32Array,
    m: Float32Array,
    s: Float32Array,
    g: Float32Array,
    pOut: Float32Array,
    mOut: Float32Array,
    sOut: Float32Array,
    beta1: number,
    beta2: number,
    epsilon: number,
    learningRate: number,
    c1: number,
    c2: number,
  ): void;
  /** Returns the loss; probs gets each row's softmax. */
  lmCrossEntropy(
    rows: number,
    vocab: number,
    logits: Float32Array,
    targets: Int32Array,
    weights: Float32Array,
    probs: Float32Array,
  ): number;
  lmCrossEntropyGrad(
    rows: number,
    vocab: number,
    probs: Float32Array,
    targets: Int32Array,
    weights: Float32Array,
    dy: Float32Array,
    dlogits: Float32Array,
  ): void;
  /** Adds each sequence's key and value at `pos` of the caches [b, context, d] and attends over 0..pos. */
  lmDecodeAttention(
    b: number,
    heads: number,
    dh: number,
    pos: number,
    context: number,
    qkv: Float32Array,
    kcache: Float32Array,
    vcache: Float32Array,
    out: Float32Array,
  ): void;
  /**
   * One whole decoding step (every block and the head) for tokens `ids` at position shape[7]: shape is
   * [b, layers, d, heads, hidden, vocab, context, pos]; `rows` the sequences to decode, ascending and
   * below b (the others' caches are untouched and their logits 0); params in paramShapes' order, one key
   * and one value cache per block (lmDecodeAttention's), scratch of b (9 d + 3 hidden + 1) + context
   * floats; writes logits [b, vocab].
   */
  lmDecodeStep(
    shape: Int32Array,
    ids: Int32Array,
    rows: Int32Array,
    params: Float32Array[],
    kcaches: Float32Array[],
    vcaches: Float32Array[],
    scratch: Float32Array,
    logits: Float32Array,
  ): void;
  lmAttention(
    lengths: Int32Array,
    heads: number,
    dh: number,
    qkv: Float32Array,
    out: Float32Array,
    probs: Float32Array,
  ): void;
  lmAttentionGrad(
    lengths: Int32Array,
    heads: number,
    dh: number,
    qkv: Float32Array,
    probs: Float32Array,
    dy: Float32Array,
    dqkv: Float32Array,
  ): void;
}

export type BlasState =
  { ok: true; addon: NativeBlas; threads: number; description: string } | { ok: false; reason: string };

type Loader = (threads: number) => NativeBlas;

const require = createRequire(import.meta.url);
const loadPackage: Loader = (threads) =>
  (require('sublab-blas') as { load: (threads: number) => NativeBlas }).load(threads);

/** The addon, or why not; never throws (a bad setting is a reason too, shown where the backend is). */
export function loadNativeBlas(env: NodeJS.ProcessEnv = process.env, load: Loader = loadPackage): BlasState {
  const mode = (env.SUBLAB_BLAS ?? 'auto').trim().toLowerCase();
  if (mode === 'off') return { ok: false, reason: 'switched off (SUBLAB_BLAS=off)' };
  if (mode !== 'auto')
    return { ok: false, reason: `SUBLAB_BLAS must be auto or off, not "${env.SUBLAB_BLAS}"` };
  const threads = Number(env.SUBLAB_BLAS_THREADS ?? 1);
  if (!Number.isInteger(threads) || threads < 1 || threads > 256)
    return {
      ok: false,
      reason: `SUBLAB_BLAS_THREADS must be an integer from 1 to 256, not "${env.SUBLAB_BLAS_THREADS}"`,
    };
  try {
    const addon = load(threads);
    const actual = addon.setThreads(threads);
    const description = `${addon.config()}, ${actual} thread${actual === 1 ? '' : 's'}`;
    return { ok: true, addon, threads: actual, description };
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const missing = e.code === 'MODULE_NOT_FOUND' && /'sublab-blas'/.test(e.message);
    return { ok: false, reason: missing ? 'not installed (optional package sublab-blas)' : e.message };
  }
}

let state: BlasState | undefined;

export function nativeBlas(): BlasState {
  return (state ??= loadNativeBlas());
}

/** The addon's language-model kernels, where it is loaded and built with them. */
export function nativeLmKernels(s: BlasState = nativeBlas()): LmNativeKernels | undefined {
  return s.ok ? s.addon.lm : undefined;
}

/** One line for the backend's versions: which matmul the wasm backend's linear layers use, and why. */
export function describeMatmul(s: BlasState = nativeBlas()): string {
  return s.ok ? s.description : `XNNPACK; native BLAS ${s.reason}`;
}

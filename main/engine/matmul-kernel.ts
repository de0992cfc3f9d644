// A batched matmul for WebGPU with larger tiles than TF.js's, for the written-out training step
// (fused-step.ts). Why: once the step is down to ~36 dispatches, its time at the paper's N=100 is
// the matmuls' arithmetic (~550 GFLOP a step), and TF.js's packed matmul works on 32x32 output tiles
// (64 threads of 4x4) and falls back to scalar loads when B is transposed, as two of each layer's
// three matmuls are. Here each workgroup of 16x16 threads computes a 64x64 or 128x128 tile (4x4 or
// 8x8 per thread, strided so neighbouring threads touch neighbouring addresses) from k-major tiles
// in workgroup memory, for every combination of transposes, with the bias and ReLU fused.
//
// SUBLAB_MATMUL picks the matmul of the written-out step: `tile128` (default), `tile64`, or `tfjs`
// (TF.js's own), so a GPU machine can compare them. Outputs under 128 on a side (the 13 logits)
// keep TF.js's matmul, whose small-output programs waste fewer threads on them.
import * as tf from '@tensorflow/tfjs-core';
import { i32, type WebGpuBackendLike } from './fused.ts';

export const TILED_MATMUL = 'SublabTiledMatMul';

export const MATMUL_CHOICES = ['tile128', 'tile64', 'tfjs'] as const;
export type MatmulChoice = (typeof MATMUL_CHOICES)[number];

export function matmulChoice(value = process.env.SUBLAB_MATMUL): MatmulChoice {
  const v = (value ?? 'tile128').trim();
  if ((MATMUL_CHOICES as readonly string[]).includes(v)) return v as MatmulChoice;
  throw new Error(`SUBLAB_MATMUL must be one of ${MATMUL_CHOICES.join(', ')}, not "${v}"`);
}

interface Tiling {
  /** outputs per thread along m and n */
  tm: number;
  tn: number;
  /** depth of a tile along k */
  bk: number;
}
const THREADS_X = 16;
const THREADS_Y = 16;
const TILINGS: Record<Exclude<MatmulChoice, 'tfjs'>, Tiling> = {
  tile64: { tm: 4, tn: 4, bk: 16 },
  tile128: { tm: 8, tn: 8, bk: 8 },
};

export interface MatMulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
  /** [S, 1, N] */
  bias?: tf.Tensor;
  relu?: boolean;
}

/** `f(i)` for i in [0, n), joined: the kernel is written out unrolled so its tile stays in registers. */
const unroll = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('\n');

// C[s, m, n] = sum_k A(s, m, k) * B(s, k, n) (+ bias[s, n], then ReLU), A [S, M, K] or [S, K, M]
// when transposed, B [S, K, N] or [S, N, K]; a side with a batch of 1 is shared by all S (its stride
// is 0). Out-of-range reads give 0, so any M, N, K work.
// Thread (tx, ty) owns rows ty + 16 i and columns tx + 16 j of the tile.
function shader(t: Tiling, transposeA: boolean, transposeB: boolean, bias: boolean, relu: boolean): string {
  const BM = THREADS_Y * t.tm;
  const BN = THREADS_X * t.tn;
  const threads = THREADS_X * THREADS_Y;
  // Consecutive threads load consecutive addresses of the source: along k when A is [M, K], along m
  // when it is [K, M]; likewise for B.
  const loadA = (i: number) => {
    const e = `t + ${i * threads}`;
    const [m, k] = transposeA
      ? [`(${e}) % ${BM}`, `(${e}) / ${BM}`]
      : [`(${e}) / ${t.bk}`, `(${e}) % ${t.bk}`];
    const at = transposeA ? `(k0 + k) * M + m0 + m` : `(m0 + m) * K + k0 + k`;
    return `{ let m = ${m}; let k = ${k}; var v = 0.0;
      if (m0 + m < M && k0 + k < K) { v = A[aBase + ${at}]; }
      tileA[k * ${BM} + m] = v; }`;
  };
  const loadB = (i: number) => {
    const e = `t + ${i * threads}`;
    const [n, k] = transposeB
      ? [`(${e}) / ${t.bk}`, `(${e}) % ${t.bk}`]
      : [`(${e}) % ${BN}`, `(${e}) / ${BN}`];
    const at = transposeB ? `(n0 + n) * K + k0 + k` : `(k0 + k) * N + n0 + n`;
    return `{ let n = ${n}; let k = ${k}; var v = 0.0;
      if (n0 + n < N && k0 + k < K) { v = B[bBase + ${at}]; }
      tileB[k * ${BN} + n] = v; }`;
  };
  const cells = (f: (i: number, j: number) => string) => unroll(t.tm, (i) => unroll(t.tn, (j) => f(i, j)));
  return `
var<workgroup> tileA : array<f32, ${t.bk * BM}>;
var<workgroup> tileB : array<f32, ${t.bk * BN}>;

fn main() {
  let M = uniforms.M;
  let N = uniforms.N;
  let K = uniforms.K;
  let s = i32(workgroupId.z);
  let m0 = i32(workgroupId.y) * ${BM};
  let n0 = i32(workgroupId.x) * ${BN};
  let tx = i32(localId.x);
  let ty = i32(localId.y);
  let t = i32(localIndex);
  let aBase = s * uniforms.aStride;
  let bBase = s * uniforms.bStride;
  ${cells((i, j) => `var c${i}_${j} = 0.0;`)}
  for (var k0 = 0; k0 < K; k0 += ${t.bk}) {
    ${unroll((t.bk * BM) / threads, loadA)}
    ${unroll((t.bk * BN) / threads, loadB)}
    workgroupBarrier();
    for (var k = 0; k < ${t.bk}; k++) {
      ${unroll(t.tm, (i) => `let a${i} = tileA[k * ${BM} + ty + ${i * THREADS_Y}];`)}
      ${unroll(t.tn, (j) => `let b${j} = tileB[k * ${BN} + tx + ${j * THREADS_X}];`)}
      ${cells((i, j) => `c${i}_${j} = fma(a${i}, b${j}, c${i}_${j});`)}
    }
    workgroupBarrier();
  }
  ${cells(
    (i, j) => `{ let m = m0 + ty + ${i * THREADS_Y}; let n = n0 + tx + ${j * THREADS_X};
    if (m < M && n < N) {
      var v = c${i}_${j};
      ${bias ? 'v = v + bias[s * N + n];' : ''}
      ${relu ? 'v = max(v, 0.0);' : ''}
      result[(s * M + m) * N + n] = v;
    } }`,
  )}
}
`;
}

let registered = false;

function register(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({
    kernelName: TILED_MATMUL,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { a, b, bias } = inputs as Record<string, tf.TensorInfo | undefined>;
      const { transposeA, transposeB, relu, tiling } = attrs as unknown as {
        transposeA: boolean;
        transposeB: boolean;
        relu: boolean;
        tiling: Exclude<MatmulChoice, 'tfjs'>;
      };
      const [aS, a1, a2] = a!.shape as [number, number, number];
      const [bS, b1, b2] = b!.shape as [number, number, number];
      const S = Math.max(aS, bS);
      const [M, K] = transposeA ? [a2, a1] : [a1, a2];
      const N = transposeB ? b1 : b2;
      const t = TILINGS[tiling];
      const program = {
        variableNames: bias ? ['A', 'B', 'bias'] : ['A', 'B'],
        outputShape: [S, M, N],
        shaderKey: `sublabTiledMatMul_${tiling}_${transposeA}_${transposeB}_${!!bias}_${relu}`,
        dispatchLayout: { x: [2], y: [1], z: [0] },
        dispatch: [Math.ceil(N / (THREADS_X * t.tn)), Math.ceil(M / (THREADS_Y * t.tm)), S],
        workgroupSize: [THREADS_X, THREADS_Y, 1],
        uniforms: 'M : i32, N : i32, K : i32, aStride : i32, bStride : i32,',
        getUserCode: () => shader(t, transposeA, transposeB, !!bias, relu),
      };
      return (backend as WebGpuBackendLike).runWebGPUProgram(
        program,
        bias ? [a!, b!, bias] : [a!, b!],
        'float32',
        [M, N, K, aS === 1 ? 0 : M * K, bS === 1 ? 0 : K * N].map(i32),
      );
    },
  });
}

/**
 * A batched matmul [S, M, K] x [S, K, N] (either side transposed) with an optional fused bias and
 * ReLU: our tiled kernel on WebGPU when `choice` names a tiling and the output is at least 128 on
 * each side, TF.js's (fused) matmul otherwise.
 */
export function batchedMatMul(
  a: tf.Tensor,
  b: tf.Tensor,
  { transposeA = false, transposeB = false, bias, relu = false }: MatMulOptions = {},
  choice: MatmulChoice = 'tfjs',
): tf.Tensor3D {
  if (a.rank !== 3 || b.rank !== 3 || (a.shape[0] !== b.shape[0] && a.shape[0] !== 1 && b.shape[0] !== 1))
    throw new Error(
      `batchedMatMul takes rank-3 tensors with matching batches, not [${a.shape}] and [${b.shape}]`,
    );
  const m = transposeA ? a.shape[2]! : a.shape[1]!;
  const n = transposeB ? b.shape[1]! : b.shape[2]!;
  if (choice !== 'tfjs' && tf.getBackend() === 'webgpu' && m >= 128 && n >= 128) {
    register();
    const inputs: tf.NamedTensorMap = bias ? { a, b, bias } : { a, b };
    return tf
      .engine()
      .runKernel(TILED_MATMUL, inputs, { transposeA, transposeB, relu, tiling: choice }) as tf.Tensor3D;
  }
  if (!bias && !relu) return tf.matMul(a, b, transposeA, transposeB) as tf.Tensor3D;
  return tf.fused.matMul({
    a,
    b,
    transposeA,
    transposeB,
    ...(bias ? { bias } : {}),
    activation: relu ? 'relu' : 'linear',
  }) as tf.Tensor3D;
}

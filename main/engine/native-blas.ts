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

/** One line for the backend's versions: which matmul the wasm backend's linear layers use, and why. */
export function describeMatmul(s: BlasState = nativeBlas()): string {
  return s.ok ? s.description : `XNNPACK; native BLAS ${s.reason}`;
}

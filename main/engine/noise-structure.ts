// The fixed linear operators that give white Gaussian noise its structure: a Gaussian blur
// (`correlated` inputs) and a random orthonormal basis (`low-rank` inputs). Each is computed once
// per schedule (the blur) or per replicate (the basis) on the host; an input is then the operator
// applied to white noise regenerated from (seed, index), on the host (apply*) or, as one dense
// matrix, by a matmul on the device (dense*).
import { mixSeed } from '../../app/matrix.ts';
import { Rng } from './rng.ts';

/**
 * A 1-D Gaussian blur of `sigma` pixels over `n` pixels as a banded matrix: row i has weights
 * exp(-(i - j)^2 / (2 sigma^2)) for the j within 3 sigma of i and inside the image (no wrap-around:
 * opposite edges of an image are not neighbours), scaled to unit sum of squares. The 2-D blur is
 * this along rows and along columns (the Kronecker product of the two), whose rows then have unit
 * sum of squares too: on white Normal(0, 1) noise every output pixel has variance exactly 1.
 */
export interface Blur1d {
  n: number;
  /** Row i covers columns lo[i]..lo[i] + weights[i].length - 1. */
  lo: Int32Array;
  weights: Float64Array[];
}

export function blur1d(n: number, sigma: number): Blur1d {
  const radius = Math.min(n - 1, Math.ceil(3 * sigma));
  const lo = new Int32Array(n);
  const weights: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    const from = Math.max(0, i - radius);
    const to = Math.min(n - 1, i + radius);
    const row = new Float64Array(to - from + 1);
    let squares = 0;
    for (let j = from; j <= to; j++) {
      const w = Math.exp(-((i - j) ** 2) / (2 * sigma * sigma));
      row[j - from] = w;
      squares += w * w;
    }
    const norm = Math.sqrt(squares);
    for (let j = 0; j < row.length; j++) row[j]! /= norm;
    lo[i] = from;
    weights.push(row);
  }
  return { n, lo, weights };
}

/**
 * The correlation the blur predicts between horizontal (or vertical) neighbours away from the
 * edges: sum_u g(u) g(u + 1) / sum_u g(u)^2 over the cut kernel; exp(-1 / (4 sigma^2)) for a wide one.
 */
export function blurNeighbourCorrelation(sigma: number, n = 28): number {
  const { weights } = blur1d(n, sigma);
  // The middle row: its window is whole wherever 3 sigma fits in the image.
  const row = weights[Math.floor(n / 2)]!;
  let lag = 0;
  let zero = 0;
  for (let u = 0; u < row.length; u++) {
    zero += row[u]! ** 2;
    if (u + 1 < row.length) lag += row[u]! * row[u + 1]!;
  }
  return lag / zero;
}

/**
 * out[at..] = std * (blur along rows, then along columns) of z, an n x n image row-major. `scratch`
 * holds n * n floats.
 */
export function applyBlur(
  b: Blur1d,
  z: Float32Array | Float64Array,
  out: Float32Array,
  at: number,
  std: number,
  scratch: Float64Array,
): void {
  const n = b.n;
  for (let y = 0; y < n; y++)
    for (let x = 0; x < n; x++) {
      const w = b.weights[x]!;
      const from = y * n + b.lo[x]!;
      let sum = 0;
      for (let j = 0; j < w.length; j++) sum += w[j]! * z[from + j]!;
      scratch[y * n + x] = sum;
    }
  for (let y = 0; y < n; y++) {
    const w = b.weights[y]!;
    const from = b.lo[y]!;
    for (let x = 0; x < n; x++) {
      let sum = 0;
      for (let j = 0; j < w.length; j++) sum += w[j]! * scratch[(from + j) * n + x]!;
      out[at + y * n + x] = std * sum;
    }
  }
}

/** The 2-D blur times std as one dense [n^2, n^2] matrix M (x = M z), row-major, for the device. */
export function denseBlur(b: Blur1d, std: number): Float32Array {
  const n = b.n;
  const pixels = n * n;
  const row = (i: number) => {
    const full = new Float64Array(n);
    b.weights[i]!.forEach((w, j) => (full[b.lo[i]! + j] = w));
    return full;
  };
  const rows = Array.from({ length: n }, (_, i) => row(i));
  const m = new Float32Array(pixels * pixels);
  for (let y = 0; y < n; y++)
    for (let x = 0; x < n; x++)
      for (let v = 0; v < n; v++)
        for (let u = 0; u < n; u++) m[(y * n + x) * pixels + v * n + u] = std * rows[y]![v]! * rows[x]![u]!;
  return m;
}

/** Tag of the stream that draws a replicate's low-rank basis from its noise seed. */
const BASIS_TAG = 0x10ca;

/**
 * A random k-dimensional subspace of R^pixels, uniform over subspaces (orthonormalised Gaussian
 * vectors), drawn from the noise seed; returned as its k basis vectors [k, pixels] scaled by
 * std * sqrt(pixels / k), so that x = sum_j c_j basis_j with c ~ Normal(0, I_k) has mean 0 and
 * E|x|^2 = std^2 * pixels: variance std^2 per pixel on average over the pixels.
 */
export function lowRankBasis(noiseSeed: number, pixels: number, k: number, std: number): Float32Array {
  if (k < 1 || k > pixels) throw new Error(`a low-rank basis needs 1 <= k <= ${pixels}, got ${k}`);
  const rng = new Rng(mixSeed(noiseSeed, BASIS_TAG));
  const basis: Float64Array[] = [];
  for (let j = 0; j < k; j++) {
    const v = new Float64Array(pixels);
    for (let p = 0; p < pixels; p++) v[p] = rng.normal();
    // Modified Gram-Schmidt, twice: the second pass removes what rounding left of earlier vectors.
    for (let pass = 0; pass < 2; pass++)
      for (const u of basis) {
        let dot = 0;
        for (let p = 0; p < pixels; p++) dot += u[p]! * v[p]!;
        for (let p = 0; p < pixels; p++) v[p]! -= dot * u[p]!;
      }
    let norm = 0;
    for (let p = 0; p < pixels; p++) norm += v[p]! * v[p]!;
    norm = Math.sqrt(norm);
    for (let p = 0; p < pixels; p++) v[p]! /= norm;
    basis.push(v);
  }
  const scale = std * Math.sqrt(pixels / k);
  const out = new Float32Array(k * pixels);
  basis.forEach((v, j) => {
    for (let p = 0; p < pixels; p++) out[j * pixels + p] = scale * v[p]!;
  });
  return out;
}

/** The basis transposed, [pixels, k]: the host reads each pixel's k weights in a row. */
export function transposeBasis(basis: Float32Array, k: number, pixels: number): Float64Array {
  const t = new Float64Array(pixels * k);
  for (let j = 0; j < k; j++) for (let p = 0; p < pixels; p++) t[p * k + j] = basis[j * pixels + p]!;
  return t;
}

/** out[at..at+pixels) = sum_j c_j basis_j, with the basis transposed ([pixels, k]). */
export function applyBasis(
  transposed: Float64Array,
  c: Float32Array,
  k: number,
  pixels: number,
  out: Float32Array,
  at: number,
): void {
  for (let p = 0; p < pixels; p++) {
    let sum = 0;
    const from = p * k;
    for (let j = 0; j < k; j++) sum += transposed[from + j]! * c[j]!;
    out[at + p] = sum;
  }
}

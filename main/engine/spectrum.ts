// `spectrum` inputs: Gaussian noise with a dataset's average power spectrum and random phase.
// White Normal(0, 1) noise z (regenerated from (seed, index)) is filtered in the 2-D DFT domain by
// A(f) = sqrt(P(f) / pixels), P the train images' average |DFT|^2 (pixels in [-1, 1]): its DFT
// then has expected power P(f) at every frequency f and a uniformly random phase. The filter is
// real and even, so it is a circular convolution with a real kernel h = IDFT(A): the host applies
// it through the DFT (about a quarter of the dense product's work), the device as the dense
// circulant matrix of h (one matmul).
// Unnormalised DFT: X(k) = sum_p x_p e^{-2 pi i k.p / n}; the inverse carries the 1 / n^2.
import type { ImageSet } from '../data/dataset.ts';

/** cos and sin of 2 pi k j / n as [n, n] tables, row k (angles reduce mod n: no modulo in loops). */
function twiddles(n: number): { cos: Float64Array; sin: Float64Array } {
  const cos = new Float64Array(n * n);
  const sin = new Float64Array(n * n);
  for (let k = 0; k < n; k++)
    for (let j = 0; j < n; j++) {
      cos[k * n + j] = Math.cos((2 * Math.PI * ((k * j) % n)) / n);
      sin[k * n + j] = Math.sin((2 * Math.PI * ((k * j) % n)) / n);
    }
  return { cos, sin };
}

/**
 * The 2-D DFT of a real n x n image, for column frequencies 0..n/2 (the others follow by Hermitian
 * symmetry): re/im [n, half] row-major by (row frequency, column frequency).
 */
export class HalfDft {
  readonly half: number;
  private readonly t: { cos: Float64Array; sin: Float64Array };
  /** Scratch of the row transforms (forward: [half, n], so each column pass reads one row of it). */
  private readonly rowRe: Float64Array;
  private readonly rowIm: Float64Array;

  constructor(readonly n: number) {
    if (n % 2 !== 0) throw new Error(`the half-spectrum DFT needs an even side, got ${n}`);
    this.half = n / 2 + 1;
    this.t = twiddles(n);
    this.rowRe = new Float64Array(n * this.half);
    this.rowIm = new Float64Array(n * this.half);
  }

  forward(x: ArrayLike<number>, re: Float64Array, im: Float64Array): void {
    const { n, half, rowRe, rowIm } = this;
    const { cos, sin } = this.t;
    for (let y = 0; y < n; y++)
      for (let kx = 0; kx < half; kx++) {
        let sr = 0;
        let si = 0;
        for (let px = 0; px < n; px++) {
          const v = x[y * n + px]!;
          sr += v * cos[kx * n + px]!;
          si -= v * sin[kx * n + px]!;
        }
        rowRe[kx * n + y] = sr;
        rowIm[kx * n + y] = si;
      }
    for (let ky = 0; ky < n; ky++)
      for (let kx = 0; kx < half; kx++) {
        let sr = 0;
        let si = 0;
        for (let y = 0; y < n; y++) {
          const c = cos[ky * n + y]!;
          const s = sin[ky * n + y]!;
          const r = rowRe[kx * n + y]!;
          const i = rowIm[kx * n + y]!;
          sr += r * c + i * s;
          si += i * c - r * s;
        }
        re[ky * half + kx] = sr;
        im[ky * half + kx] = si;
      }
  }

  /** The real image whose half spectrum (Hermitian) is re/im, into out[at..at + n^2). */
  inverse(re: Float64Array, im: Float64Array, out: Float32Array, at: number): void {
    const { n, half, rowRe, rowIm } = this;
    const { cos, sin } = this.t;
    for (let y = 0; y < n; y++)
      for (let kx = 0; kx < half; kx++) {
        let sr = 0;
        let si = 0;
        for (let ky = 0; ky < n; ky++) {
          const c = cos[y * n + ky]!;
          const s = sin[y * n + ky]!;
          const r = re[ky * half + kx]!;
          const i = im[ky * half + kx]!;
          sr += r * c - i * s;
          si += r * s + i * c;
        }
        rowRe[y * half + kx] = sr;
        rowIm[y * half + kx] = si;
      }
    const nyquist = n / 2;
    const norm = 1 / (n * n);
    for (let y = 0; y < n; y++)
      for (let px = 0; px < n; px++) {
        // Column frequencies 0 and n/2 count once, the others twice (with their mirror images).
        let sum = rowRe[y * half]! + rowRe[y * half + nyquist]! * (px % 2 === 0 ? 1 : -1);
        for (let kx = 1; kx < nyquist; kx++)
          sum += 2 * (rowRe[y * half + kx]! * cos[px * n + kx]! - rowIm[y * half + kx]! * sin[px * n + kx]!);
        out[at + y * n + px] = norm * sum;
      }
  }
}

const spectra = new WeakMap<ImageSet, Float64Array>();

/**
 * The average power spectrum of an image set's images (pixels byte / 127.5 - 1), full n x n
 * row-major by (row frequency, column frequency). Computed once per image set.
 */
export function powerSpectrum(images: ImageSet, n = 28): Float64Array {
  const cached = spectra.get(images);
  if (cached) return cached;
  const dft = new HalfDft(n);
  const { half } = dft;
  const pixels = n * n;
  const re = new Float64Array(n * half);
  const im = new Float64Array(n * half);
  const sum = new Float64Array(n * half);
  const image = new Float64Array(pixels);
  for (let i = 0; i < images.count; i++) {
    for (let p = 0; p < pixels; p++) image[p] = images.images[i * pixels + p]! / 127.5 - 1;
    dft.forward(image, re, im);
    for (let f = 0; f < n * half; f++) sum[f]! += re[f]! ** 2 + im[f]! ** 2;
  }
  const power = new Float64Array(pixels);
  for (let ky = 0; ky < n; ky++)
    for (let kx = 0; kx < n; kx++) {
      // |X(-k)| = |X(k)| for a real image: the right half mirrors the left.
      const [y, x] = kx < half ? [ky, kx] : [(n - ky) % n, n - kx];
      power[ky * n + kx] = sum[y * half + x]! / images.count;
    }
  spectra.set(images, power);
  return power;
}

/** The filter of the file's header: sqrt(P / n^2) on the half spectrum [n, n/2 + 1]. */
export function spectrumFilter(power: Float64Array, n = 28): Float64Array {
  const half = n / 2 + 1;
  const a = new Float64Array(n * half);
  for (let ky = 0; ky < n; ky++)
    for (let kx = 0; kx < half; kx++) a[ky * half + kx] = Math.sqrt(power[ky * n + kx]! / (n * n));
  return a;
}

/** Filters white noise z into out[at..]: the host's spectrum input. */
export class SpectrumShaper {
  private readonly dft: HalfDft;
  private readonly re: Float64Array;
  private readonly im: Float64Array;

  constructor(
    private readonly filter: Float64Array,
    n = 28,
  ) {
    this.dft = new HalfDft(n);
    this.re = new Float64Array(filter.length);
    this.im = new Float64Array(filter.length);
  }

  apply(z: Float32Array, out: Float32Array, at: number): void {
    const { re, im, filter } = this;
    this.dft.forward(z, re, im);
    for (let f = 0; f < filter.length; f++) {
      re[f]! *= filter[f]!;
      im[f]! *= filter[f]!;
    }
    this.dft.inverse(re, im, out, at);
  }
}

/**
 * The same filter as the dense circulant matrix C (x = C z, symmetric), [n^2, n^2] row-major:
 * C[p][q] = h(p - q mod n in each axis), h = IDFT(A) real and even.
 */
export function denseSpectrumFilter(filter: Float64Array, n = 28): Float32Array {
  const half = n / 2 + 1;
  const pixels = n * n;
  const h = new Float64Array(pixels);
  for (let dy = 0; dy < n; dy++)
    for (let dx = 0; dx < n; dx++) {
      let sum = 0;
      for (let ky = 0; ky < n; ky++)
        for (let kx = 0; kx < n; kx++) {
          const [y, x] = kx < half ? [ky, kx] : [(n - ky) % n, n - kx];
          sum += filter[y * half + x]! * Math.cos((2 * Math.PI * ((ky * dy + kx * dx) % n)) / n);
        }
      h[dy * n + dx] = sum / pixels;
    }
  const c = new Float32Array(pixels * pixels);
  for (let py = 0; py < n; py++)
    for (let px = 0; px < n; px++)
      for (let qy = 0; qy < n; qy++)
        for (let qx = 0; qx < n; qx++)
          c[(py * n + px) * pixels + qy * n + qx] = h[((py - qy + n) % n) * n + ((px - qx + n) % n)]!;
  return c;
}

// Our own seeded PRNG (xoshiro128**, seeded through splitmix32): every random number in a run comes
// from here, so a spec and its seed fix init, data order and noise on every backend.
import { mixSeed } from '../../app/matrix.ts';

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | null = null;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
  }

  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.b << 9) >>> 0;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Standard normal (Box-Muller, both values used). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = this.next();
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  fillNormal(out: Float32Array, std: number, offset = 0, length = out.length - offset): void {
    for (let i = offset; i < offset + length; i++) out[i] = this.normal() * std;
  }

  fillUniform(out: Float32Array, lo: number, hi: number, offset = 0, length = out.length - offset): void {
    const span = hi - lo;
    for (let i = offset; i < offset + length; i++) out[i] = lo + this.next() * span;
  }

  /** Fisher-Yates permutation of 0..n-1. */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    this.shuffle(p);
    return p;
  }

  /** Fisher-Yates shuffle of `xs` in place: from the last element down, each swapped with one at or before it. */
  shuffle<T>(xs: { [i: number]: T; length: number }): void {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = xs[i]!;
      xs[i] = xs[j]!;
      xs[j] = t;
    }
  }

  /** Sattolo's algorithm: a uniformly random single n-cycle, hence a derangement (p[i] != i) for n >= 2. */
  derangement(n: number): Uint32Array {
    if (n < 2) throw new Error(`a derangement needs at least 2 elements, got ${n}`);
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i);
      const t = p[i]!;
      p[i] = p[j]!;
      p[j] = t;
    }
    return p;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Independent streams for independent purposes of one replicate (init, data order, noise...). */
export const STREAM = {
  init: 1,
  teacherOrder: 2,
  studentOrder: 3,
  noise: 4,
  derangement: 5,
  split: 6,
  poison: 7,
  preference: 8,
  filter: 9,
  perturb: 10,
} as const;

export function streamRng(seed: number, stream: number): Rng {
  return new Rng(mixSeed(seed, 0x1000 + stream));
}

/**
 * Noise image `index` of a replicate, regenerated on demand from (seed, index): a fixed set of
 * `count` noise images per model, as in the paper, without holding 60,000 x 784 floats per model.
 */
export function fillNoiseImage(
  out: Float32Array,
  offset: number,
  pixels: number,
  noiseSeed: number,
  index: number,
): void {
  // xorshift32 seeded per image: cheap enough for ~10^8 draws per epoch, and statistically ample
  // for i.i.d. uniform inputs.
  let x = mixSeed(noiseSeed, index) | 1;
  for (let i = 0; i < pixels; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[offset + i] = (x >>> 0) * (2 / 4294967296) - 1;
  }
}

/** Like fillNoiseImage, with Normal(0, std) pixels (Box-Muller on the per-image xorshift stream). */
export function fillGaussianImage(
  out: Float32Array,
  offset: number,
  pixels: number,
  noiseSeed: number,
  index: number,
  std: number,
): void {
  let x = mixSeed(noiseSeed, index) | 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return ((x >>> 0) + 1) / 4294967297; // (0, 1)
  };
  for (let i = 0; i < pixels; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next()));
    const t = 2 * Math.PI * next();
    out[offset + i] = std * r * Math.cos(t);
    if (i + 1 < pixels) out[offset + i + 1] = std * r * Math.sin(t);
  }
}

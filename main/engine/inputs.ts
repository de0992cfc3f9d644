// The students' inputs: a fixed set of `count` inputs per replicate, each a pure function of the
// replicate's noise seed and the input's index, regenerated whenever a batch needs it (so the same
// (seed, index) gives the same input in any batch, order or process); the caller reshuffles the
// indices every epoch. Every structured kind is white noise z from (seed, index) times a fixed
// operator computed once per schedule (blur, spectrum filter) or replicate (low-rank basis, the
// image shuffle of `mix`), so on the fused WebGPU path an input is the device's noise kernel and
// one matmul (or a gather and an axpy); on the host each image is computed on its own, in f64.
// The statistics of each kind are stated in app/spec/schema.ts (StudentInputsSchema).
import * as tf from '@tensorflow/tfjs-core';
import { mixSeed } from '../../app/matrix.ts';
import type { StudentInputs } from '../../app/spec/schema.ts';
import type { ImageSet } from '../data/dataset.ts';
import { noiseImages } from './noise-kernel.ts';
import { applyBasis, applyBlur, blur1d, denseBlur, lowRankBasis, transposeBasis } from './noise-structure.ts';
import { fillGaussianImage, fillNoiseImage, Rng } from './rng.ts';
import { denseSpectrumFilter, powerSpectrum, SpectrumShaper, spectrumFilter } from './spectrum.ts';

export interface InputSourceOptions {
  /** The image set the kind reads (images, mix, spectrum); null for the others. */
  images: ImageSet | null;
  /** Per replicate of the batch (its S models). */
  noiseSeeds: readonly number[];
  pixels: number;
  /** Make batches as tensors on the device (the fused WebGPU path) instead of host arrays. */
  device: boolean;
}

export interface StudentInputSource {
  /** x [S, B, pixels] for positions start..start+size of each replicate's epoch order. */
  batch(orders: readonly Uint32Array[], start: number, size: number): Float32Array | tf.Tensor3D;
  /** x [S, B, pixels] for input indices [S * B], replicate-major. */
  at(indices: Uint32Array, size: number): Float32Array | tf.Tensor3D;
  dispose(): void;
}

/** One input kind: its host filler and its device maker (which may upload operators lazily). */
interface KindMaker {
  /** Writes replicate s's input `index` to out[at..at + pixels). */
  fill(out: Float32Array, at: number, s: number, index: number): void;
  /** [S, B, pixels] for replicate-major indices [S * B]. */
  device(indices: Uint32Array, size: number): tf.Tensor3D;
  dispose(): void;
}

/** Tag of the stream, from each replicate's noise seed, of the `mix` kind's image shuffle. */
const MIX_TAG = 0x1a6e;

export function studentInputSource(inputs: StudentInputs, options: InputSourceOptions): StudentInputSource {
  const maker = kindMaker(inputs, options);
  const { pixels } = options;
  const at = (indices: Uint32Array, size: number) => {
    if (options.device) return maker.device(indices, size);
    const x = new Float32Array(indices.length * pixels);
    for (let k = 0; k < indices.length; k++) maker.fill(x, k * pixels, Math.floor(k / size), indices[k]!);
    return x;
  };
  return {
    at,
    batch: (orders, start, size) => {
      const indices = new Uint32Array(orders.length * size);
      orders.forEach((order, s) => indices.set(order.subarray(start, start + size), s * size));
      return at(indices, size);
    },
    dispose: () => maker.dispose(),
  };
}

function kindMaker(inputs: StudentInputs, o: InputSourceOptions): KindMaker {
  const seeds = o.noiseSeeds;
  switch (inputs.kind) {
    case 'uniform':
      return {
        fill: (out, at, s, index) => fillNoiseImage(out, at, o.pixels, seeds[s]!, index),
        device: (indices, size) => noiseImages(indices, seeds, size, o.pixels),
        dispose: () => {},
      };
    case 'gaussian':
      return {
        fill: (out, at, s, index) => fillGaussianImage(out, at, o.pixels, seeds[s]!, index, inputs.std),
        device: (indices, size) => noiseImages(indices, seeds, size, o.pixels, inputs.std),
        dispose: () => {},
      };
    case 'images':
      return imagesMaker(needImages(o, inputs.kind), o.pixels, seeds.length);
    case 'mix':
      return mixMaker(inputs, needImages(o, inputs.kind), o);
    case 'correlated':
      return correlatedMaker(inputs.sigma, inputs.std, o);
    case 'spectrum':
      return spectrumMaker(needImages(o, inputs.kind), o);
    case 'low-rank':
      return lowRankMaker(inputs.k, inputs.std, o);
  }
}

function needImages(o: InputSourceOptions, kind: string): ImageSet {
  if (!o.images || o.images.count === 0) throw new Error(`student inputs "${kind}" need an image set`);
  return o.images;
}

/** An image set as floats [n, pixels] in [-1, 1] on the device, made on first use. */
class ImageTable {
  private table: tf.Tensor2D | null = null;

  constructor(
    private readonly images: ImageSet,
    private readonly pixels: number,
  ) {}

  /** Images j[k] as [S, B, pixels]. */
  gather(j: Uint32Array, models: number, size: number): tf.Tensor3D {
    if (!this.table) {
      const floats = new Float32Array(this.images.count * this.pixels);
      for (let p = 0; p < floats.length; p++) floats[p] = this.images.images[p]! / 127.5 - 1;
      this.table = tf.tensor2d(floats, [this.images.count, this.pixels]);
    }
    const table = this.table;
    return tf.tidy(() => {
      const idx = tf.tensor1d(new Int32Array(j.buffer, j.byteOffset, j.length), 'int32');
      return tf.reshape(tf.gather(table, idx), [models, size, this.pixels]) as tf.Tensor3D;
    });
  }

  dispose(): void {
    this.table?.dispose();
    this.table = null;
  }
}

function copyImage(images: ImageSet, j: number, pixels: number, out: Float32Array, at: number): void {
  const src = images.images.subarray(j * pixels, (j + 1) * pixels);
  for (let p = 0; p < pixels; p++) out[at + p] = src[p]! / 127.5 - 1;
}

/** Image `index mod n` of the set, as the `images` kind always took them. */
function imagesMaker(images: ImageSet, pixels: number, models: number): KindMaker {
  const table = new ImageTable(images, pixels);
  return {
    fill: (out, at, _s, index) => copyImage(images, index % images.count, pixels, out, at),
    device: (indices, size) =>
      table.gather(
        indices.map((i) => i % images.count),
        models,
        size,
      ),
    dispose: () => table.dispose(),
  };
}

/**
 * alpha * image + (1 - alpha) * noise. The image of input `index` is shuffle_s[index mod n], a
 * seeded per-replicate permutation of the set (every image once per n indices, a different subset
 * per replicate when count < n); the noise is the uniform or gaussian kind's for (seed, index).
 */
function mixMaker(
  inputs: StudentInputs & { kind: 'mix' },
  images: ImageSet,
  o: InputSourceOptions,
): KindMaker {
  const { alpha, std } = inputs;
  const n = images.count;
  const shuffles = o.noiseSeeds.map((seed) => new Rng(mixSeed(seed, MIX_TAG)).permutation(n));
  const gaussian = inputs.noise === 'gaussian';
  const noise = new Float32Array(o.pixels);
  const table = new ImageTable(images, o.pixels);
  return {
    fill: (out, at, s, index) => {
      if (gaussian) fillGaussianImage(noise, 0, o.pixels, o.noiseSeeds[s]!, index, std);
      else fillNoiseImage(noise, 0, o.pixels, o.noiseSeeds[s]!, index);
      copyImage(images, shuffles[s]![index % n]!, o.pixels, out, at);
      for (let p = 0; p < o.pixels; p++) out[at + p] = alpha * out[at + p]! + (1 - alpha) * noise[p]!;
    },
    device: (indices, size) => {
      const j = indices.map((index, k) => shuffles[Math.floor(k / size)]![index % n]!);
      const z = noiseImages(indices, o.noiseSeeds, size, o.pixels, gaussian ? std : undefined);
      const image = table.gather(j, o.noiseSeeds.length, size);
      const x = tf.tidy(() => tf.add(tf.mul(image, alpha), tf.mul(z, 1 - alpha)) as tf.Tensor3D);
      tf.dispose([z, image]);
      return x;
    },
    dispose: () => table.dispose(),
  };
}

/** White Normal(0, 1) noise for (seed, index) times one fixed [pixels, pixels] operator. */
function operatorMaker(
  o: InputSourceOptions,
  host: (z: Float32Array, out: Float32Array, at: number) => void,
  dense: () => Float32Array,
): KindMaker {
  const z = new Float32Array(o.pixels);
  let matrix: tf.Tensor2D | null = null;
  return {
    fill: (out, at, s, index) => {
      fillGaussianImage(z, 0, o.pixels, o.noiseSeeds[s]!, index, 1);
      host(z, out, at);
    },
    device: (indices, size) => {
      matrix ??= tf.tensor2d(dense(), [o.pixels, o.pixels]);
      const m = matrix;
      const white = noiseImages(indices, o.noiseSeeds, size, o.pixels, 1);
      const x = tf.tidy(() => {
        const rows = tf.reshape(white, [indices.length, o.pixels]) as tf.Tensor2D;
        return tf.reshape(tf.matMul(rows, m, false, true), [o.noiseSeeds.length, size, o.pixels]);
      }) as tf.Tensor3D;
      white.dispose();
      return x;
    },
    dispose: () => matrix?.dispose(),
  };
}

function side(pixels: number): number {
  const n = Math.round(Math.sqrt(pixels));
  if (n * n !== pixels) throw new Error(`structured noise needs square images, got ${pixels} pixels`);
  return n;
}

function correlatedMaker(sigma: number, std: number, o: InputSourceOptions): KindMaker {
  const blur = blur1d(side(o.pixels), sigma);
  const scratch = new Float64Array(o.pixels);
  return operatorMaker(
    o,
    (z, out, at) => applyBlur(blur, z, out, at, std, scratch),
    () => denseBlur(blur, std),
  );
}

function spectrumMaker(images: ImageSet, o: InputSourceOptions): KindMaker {
  const n = side(o.pixels);
  const filter = spectrumFilter(powerSpectrum(images, n), n);
  const shaper = new SpectrumShaper(filter, n);
  return operatorMaker(
    o,
    (z, out, at) => shaper.apply(z, out, at),
    () => denseSpectrumFilter(filter, n),
  );
}

/** std * sqrt(pixels / k) * U c: k Normal(0, 1) coefficients for (seed, index), U per replicate. */
function lowRankMaker(k: number, std: number, o: InputSourceOptions): KindMaker {
  const { pixels, noiseSeeds } = o;
  const bases = noiseSeeds.map((seed) => lowRankBasis(seed, pixels, k, std));
  const transposed = o.device ? [] : bases.map((b) => transposeBasis(b, k, pixels));
  const c = new Float32Array(k);
  let stacked: tf.Tensor3D | null = null;
  return {
    fill: (out, at, s, index) => {
      fillGaussianImage(c, 0, k, noiseSeeds[s]!, index, 1);
      applyBasis(transposed[s]!, c, k, pixels, out, at);
    },
    device: (indices, size) => {
      if (!stacked) {
        const all = new Float32Array(bases.length * k * pixels);
        bases.forEach((b, s) => all.set(b, s * k * pixels));
        stacked = tf.tensor3d(all, [bases.length, k, pixels]);
      }
      const basis = stacked;
      const coefficients = noiseImages(indices, noiseSeeds, size, k, 1);
      const x = tf.tidy(() => tf.matMul(coefficients, basis) as tf.Tensor3D);
      coefficients.dispose();
      return x;
    },
    dispose: () => stacked?.dispose(),
  };
}

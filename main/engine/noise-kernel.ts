// Noise images made where the models train (uniform, and Gaussian for the kinds built on it). The students' noise is a pure function of
// (noise seed, image index) (rng.ts fillNoiseImage), so a GPU can regenerate a batch bit for bit
// from its [S, B] image indices instead of the host building and uploading S x B x 784 floats every
// step (N=100, batch 1024: 80 M floats, 320 MB per step, more than the step's arithmetic takes).
import * as tf from '@tensorflow/tfjs-core';
import { f32, flatProgram, i32, type Uniform, type WebGpuBackendLike } from './fused.ts';
import { fillGaussianImage, fillNoiseImage } from './rng.ts';

export const UNIFORM_NOISE = 'SublabUniformNoise';
export const GAUSSIAN_NOISE = 'SublabGaussianNoise';

// The WGSL twin of app/matrix.ts mixSeed and rng.ts fillNoiseImage. u32 arithmetic wraps as
// Math.imul and >>> 0 do. The host writes d * 2^-31 (d = x - 2^31, exact in f64) rounded once to
// f32; int-to-float conversion rounding is implementation-defined in WGSL, so the shader rounds d
// to 24 significant bits itself (to nearest, ties to even) and scales by a power of two, exact.
const MIX_SEED_WGSL = `
fn mixSeed(base : u32, index : u32) -> u32 {
  var z = base * 0x9e3779b9u + (index + 1u) * 0x85ebca6bu;
  z = (z ^ (z >> 16u)) * 0x85ebca6bu;
  z = (z ^ (z >> 13u)) * 0xc2b2ae35u;
  return z ^ (z >> 16u);
}
`;

const NOISE_WGSL = `${MIX_SEED_WGSL}
fn unitFromBits(x : u32) -> f32 {
  let d = bitcast<i32>(x ^ 0x80000000u);
  let negative = d < 0;
  var m = select(bitcast<u32>(d), 0u - bitcast<u32>(d), negative);
  if (m == 0u) {
    return 0.0;
  }
  let bits = 32u - countLeadingZeros(m);
  var e = 0u;
  if (bits > 24u) {
    e = bits - 24u;
    let rest = m & ((1u << e) - 1u);
    let half = 1u << (e - 1u);
    m = m >> e;
    if (rest > half || (rest == half && (m & 1u) == 1u)) {
      m = m + 1u;
    }
  }
  let v = ldexp(f32(m), i32(e) - 31);
  return select(v, -v, negative);
}

fn main(image : i32) {
  if (image < uniforms.images) {
    var x = mixSeed(bitcast<u32>(seeds[image / uniforms.batch]), bitcast<u32>(indices[image])) | 1u;
    let base = image * uniforms.pixels;
    for (var p = 0; p < uniforms.pixels; p++) {
      x = x ^ (x << 13u);
      x = x ^ (x >> 17u);
      x = x ^ (x << 5u);
      result[base + p] = unitFromBits(x);
    }
  }
}
`;

// The twin of rng.ts fillGaussianImage (Box-Muller on the per-image xorshift stream), close to it
// but not bit for bit: WGSL's log, cos and sin are not correctly rounded. u = (x + 1) / 2^32 is
// formed exactly from two exact parts and rounded once (the host divides by 2^32 + 1: a relative
// 2e-10 apart), so u never reaches 0 and rounds at most to 1 (r = 0). cos and sin are only
// accurate on [-pi, pi] in WGSL: the angle 2 pi v is taken as pi + t with t in [-pi, pi).
const GAUSSIAN_WGSL = `${MIX_SEED_WGSL}
fn unitOpen(x : u32) -> f32 {
  return (f32(x >> 8u) * 256.0 + (f32(x & 255u) + 1.0)) / 4294967296.0;
}

fn main(image : i32) {
  if (image < uniforms.images) {
    var x = mixSeed(bitcast<u32>(seeds[image / uniforms.batch]), bitcast<u32>(indices[image])) | 1u;
    let base = image * uniforms.pixels;
    for (var p = 0; p < uniforms.pixels; p += 2) {
      x = x ^ (x << 13u);
      x = x ^ (x >> 17u);
      x = x ^ (x << 5u);
      let r = sqrt(-2.0 * log(unitOpen(x)));
      x = x ^ (x << 13u);
      x = x ^ (x >> 17u);
      x = x ^ (x << 5u);
      let t = 6.283185307179586 * unitOpen(x) - 3.141592653589793;
      result[base + p] = -uniforms.scale * r * cos(t);
      if (p + 1 < uniforms.pixels) {
        result[base + p + 1] = -uniforms.scale * r * sin(t);
      }
    }
  }
}
`;

let registered = false;

/** Registers the WebGPU kernels (once): call after the WebGPU backend is registered. */
export function registerNoiseKernel(): void {
  if (registered) return;
  registered = true;
  const register = (kernelName: string, key: string, code: string, std: boolean) =>
    tf.registerKernel({
      kernelName,
      backendName: 'webgpu',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const indices = inputs.indices as tf.TensorInfo;
        const seeds = inputs.seeds as tf.TensorInfo;
        const a = attrs as unknown as { pixels: number; std?: number };
        const [models, batch] = indices.shape as [number, number];
        const images = models * batch;
        const program = flatProgram(
          key,
          ['indices', 'seeds'],
          [models, batch, a.pixels],
          images,
          `images : i32, batch : i32, pixels : i32,${std ? ' scale : f32,' : ''}`,
          code,
        );
        const uniforms: Uniform[] = [i32(images), i32(batch), i32(a.pixels)];
        if (std) uniforms.push(f32(a.std!));
        return (backend as unknown as WebGpuBackendLike).runWebGPUProgram(
          program,
          [indices, seeds],
          'float32',
          uniforms,
        );
      },
    });
  register(UNIFORM_NOISE, 'sublabUniformNoise', NOISE_WGSL, false);
  register(GAUSSIAN_NOISE, 'sublabGaussianNoise', GAUSSIAN_WGSL, true);
}

/** Noise images [S, B, pixels] on the host: image indices[s][i] of replicate s's fixed set. */
export function hostNoise(
  indices: Uint32Array,
  seeds: readonly number[],
  batch: number,
  pixels: number,
  std?: number,
): Float32Array {
  const out = new Float32Array(indices.length * pixels);
  for (let k = 0; k < indices.length; k++) {
    const seed = seeds[Math.floor(k / batch)]!;
    if (std === undefined) fillNoiseImage(out, k * pixels, pixels, seed, indices[k]!);
    else fillGaussianImage(out, k * pixels, pixels, seed, indices[k]!, std);
  }
  return out;
}

/**
 * The same images as a tensor [S, B, pixels]: generated on the device under WebGPU, on the host
 * elsewhere (where the host is the device). `indices` is [S * B], replicate-major. Uniform in
 * [-1, 1], or Normal(0, std^2) when `std` is given.
 */
export function noiseImages(
  indices: Uint32Array,
  seeds: readonly number[],
  batch: number,
  pixels: number,
  std?: number,
): tf.Tensor3D {
  const models = seeds.length;
  if (tf.getBackend() !== 'webgpu')
    return tf.tensor3d(hostNoise(indices, seeds, batch, pixels, std), [models, batch, pixels]);
  registerNoiseKernel();
  return tf.tidy(() => {
    const idx = tf.tensor2d(
      new Int32Array(indices.buffer, indices.byteOffset, indices.length),
      [models, batch],
      'int32',
    );
    const s = tf.tensor1d(
      Int32Array.from(seeds, (v) => v | 0),
      'int32',
    );
    const inputs = { indices: idx, seeds: s };
    if (std === undefined) return tf.engine().runKernel(UNIFORM_NOISE, inputs, { pixels }) as tf.Tensor3D;
    return tf.engine().runKernel(GAUSSIAN_NOISE, inputs, { pixels, std }) as tf.Tensor3D;
  });
}

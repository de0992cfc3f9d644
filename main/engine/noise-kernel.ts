// Uniform noise images made where the models train. The students' noise is a pure function of
// (noise seed, image index) (rng.ts fillNoiseImage), so a GPU can regenerate a batch bit for bit
// from its [S, B] image indices instead of the host building and uploading S x B x 784 floats every
// step (N=100, batch 1024: 80 M floats, 320 MB per step, more than the step's arithmetic takes).
import * as tf from '@tensorflow/tfjs-core';
import { flatProgram, i32, type WebGpuBackendLike } from './fused.ts';
import { fillNoiseImage } from './rng.ts';

export const UNIFORM_NOISE = 'SublabUniformNoise';

// The WGSL twin of app/matrix.ts mixSeed and rng.ts fillNoiseImage. u32 arithmetic wraps as
// Math.imul and >>> 0 do. The host writes d * 2^-31 (d = x - 2^31, exact in f64) rounded once to
// f32; int-to-float conversion rounding is implementation-defined in WGSL, so the shader rounds d
// to 24 significant bits itself (to nearest, ties to even) and scales by a power of two, exact.
const NOISE_WGSL = `
fn mixSeed(base : u32, index : u32) -> u32 {
  var z = base * 0x9e3779b9u + (index + 1u) * 0x85ebca6bu;
  z = (z ^ (z >> 16u)) * 0x85ebca6bu;
  z = (z ^ (z >> 13u)) * 0xc2b2ae35u;
  return z ^ (z >> 16u);
}

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

let registered = false;

/** Registers the WebGPU kernel (once): call after the WebGPU backend is registered. */
export function registerNoiseKernel(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({
    kernelName: UNIFORM_NOISE,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const indices = inputs.indices as tf.TensorInfo;
      const seeds = inputs.seeds as tf.TensorInfo;
      const { pixels } = attrs as unknown as { pixels: number };
      const [models, batch] = indices.shape as [number, number];
      const images = models * batch;
      const program = flatProgram(
        'sublabUniformNoise',
        ['indices', 'seeds'],
        [models, batch, pixels],
        images,
        'images : i32, batch : i32, pixels : i32,',
        NOISE_WGSL,
      );
      return (backend as unknown as WebGpuBackendLike).runWebGPUProgram(
        program,
        [indices, seeds],
        'float32',
        [i32(images), i32(batch), i32(pixels)],
      );
    },
  });
}

/** Noise images [S, B, pixels] on the host: image indices[s][i] of replicate s's fixed set. */
export function hostNoise(indices: Uint32Array, seeds: readonly number[], batch: number, pixels: number) {
  const out = new Float32Array(indices.length * pixels);
  for (let k = 0; k < indices.length; k++)
    fillNoiseImage(out, k * pixels, pixels, seeds[Math.floor(k / batch)]!, indices[k]!);
  return out;
}

/**
 * The same images as a tensor [S, B, pixels]: generated on the device under WebGPU, on the host
 * elsewhere (where the host is the device). `indices` is [S * B], replicate-major.
 */
export function noiseImages(
  indices: Uint32Array,
  seeds: readonly number[],
  batch: number,
  pixels: number,
): tf.Tensor3D {
  const models = seeds.length;
  if (tf.getBackend() !== 'webgpu')
    return tf.tensor3d(hostNoise(indices, seeds, batch, pixels), [models, batch, pixels]);
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
    return tf.engine().runKernel(UNIFORM_NOISE, { indices: idx, seeds: s }, { pixels }) as tf.Tensor3D;
  });
}

// The students' inputs: a fixed set of `count` inputs per replicate, regenerated on demand from
// (seed, index) for noise, or drawn from an image set; reshuffled every epoch.
import type { StudentInputs } from '../../app/spec/schema.ts';
import type { ImageSet } from '../data/dataset.ts';
import { fillGaussianImage, fillNoiseImage } from './rng.ts';

/** x [S, B, pixels] for positions start..start+size of each replicate's epoch order. */
export function studentInputBatch(
  inputs: StudentInputs,
  images: ImageSet | null,
  noiseSeeds: readonly number[],
  pixels: number,
  orders: readonly Uint32Array[],
  start: number,
  size: number,
): Float32Array {
  const x = new Float32Array(orders.length * size * pixels);
  orders.forEach((order, s) => {
    for (let i = 0; i < size; i++) {
      const index = order[start + i]!;
      const at = (s * size + i) * pixels;
      if (inputs.kind === 'uniform') fillNoiseImage(x, at, pixels, noiseSeeds[s]!, index);
      else if (inputs.kind === 'gaussian')
        fillGaussianImage(x, at, pixels, noiseSeeds[s]!, index, inputs.std);
      else {
        const j = index % images!.count;
        const src = images!.images.subarray(j * pixels, (j + 1) * pixels);
        for (let p = 0; p < pixels; p++) x[at + p] = src[p]! / 127.5 - 1;
      }
    }
  });
  return x;
}

// Building input batches on the host: real images (pixels scaled to [-1, 1]) in each model's own
// shuffled order. The students' inputs are built in inputs.ts.
import type { ImageSet } from '../data/dataset.ts';

/** Fills x [S, B, pixels] and labels [S, B] for step `step` of each model's epoch order. */
export function imageBatch(
  set: ImageSet,
  pixels: number,
  orders: readonly Uint32Array[],
  start: number,
  size: number,
): { x: Float32Array; labels: Int32Array } {
  const models = orders.length;
  const x = new Float32Array(models * size * pixels);
  const labels = new Int32Array(models * size);
  for (let s = 0; s < models; s++) {
    const order = orders[s]!;
    for (let i = 0; i < size; i++) {
      const j = order[start + i]!;
      const src = set.images.subarray(j * pixels, (j + 1) * pixels);
      const at = (s * size + i) * pixels;
      for (let p = 0; p < pixels; p++) x[at + p] = src[p]! / 127.5 - 1;
      labels[s * size + i] = set.labels[j]!;
    }
  }
  return { x, labels };
}

/** Images of a set as one float tensor's data [count, pixels] in [-1, 1]. */
export function imagesAsFloats(set: ImageSet, pixels: number): Float32Array {
  const out = new Float32Array(set.count * pixels);
  for (let i = 0; i < out.length; i++) out[i] = set.images[i]! / 127.5 - 1;
  return out;
}

// A loaded image-classification dataset, kept as bytes: 60,000 Fashion-MNIST images are 47 MB as
// Uint8 and would be 188 MB as float32. Pixels become [-1, 1] floats only when a batch is built.
export interface ImageSet {
  /** [count, 784] pixel bytes 0..255, row-major. */
  images: Uint8Array;
  /** [count] class labels 0..classes-1. */
  labels: Uint8Array;
  count: number;
}

export interface Dataset {
  name: string;
  pixels: number;
  classes: number;
  train: ImageSet;
  test: ImageSet;
}

export const PIXELS = 28 * 28;

export function checkImageSet(
  images: { dims: number[]; data: Uint8Array },
  labels: { dims: number[]; data: Uint8Array },
  what: string,
  classes = 10,
): ImageSet {
  const [n, h, w] = images.dims;
  if (images.dims.length !== 3 || h !== 28 || w !== 28) {
    throw new Error(`${what} images: expected dimensions N x 28 x 28, got ${images.dims.join(' x ')}`);
  }
  if (labels.dims.length !== 1)
    throw new Error(`${what} labels: expected one dimension, got ${labels.dims.join(' x ')}`);
  if (labels.dims[0] !== n) throw new Error(`${what}: ${n} images but ${labels.dims[0]} labels`);
  const bad = labels.data.findIndex((l) => l >= classes);
  if (bad >= 0)
    throw new Error(
      `${what} labels: label ${labels.data[bad]} at index ${bad} is not a class 0-${classes - 1}`,
    );
  return { images: images.data, labels: labels.data, count: n! };
}

export function subset(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const images = new Uint8Array(indices.length * PIXELS);
  const labels = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i]!;
    images.set(set.images.subarray(j * PIXELS, (j + 1) * PIXELS), i * PIXELS);
    labels[i] = set.labels[j]!;
  }
  return { images, labels, count: indices.length };
}

export function head(set: ImageSet, n: number | undefined): ImageSet {
  if (n === undefined || n >= set.count) return set;
  return { images: set.images.subarray(0, n * PIXELS), labels: set.labels.subarray(0, n), count: n };
}

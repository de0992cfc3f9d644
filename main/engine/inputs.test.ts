// Each student input kind's statistics (mean, variance, correlation, spectrum, rank) against what
// app/spec/schema.ts states, and determinism by (seed, index) whatever the batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import { StudentInputsSchema, type StudentInputs } from '../../app/spec/schema.ts';
import { loadDataset } from '../data/load.ts';
import { initBackend } from './backend.ts';
import { studentInputSource } from './inputs.ts';
import { blurNeighbourCorrelation, lowRankBasis } from './noise-structure.ts';
import { fillGaussianImage, fillNoiseImage } from './rng.ts';
import { denseSpectrumFilter, HalfDft, powerSpectrum, SpectrumShaper, spectrumFilter } from './spectrum.ts';

const P = 784;
const N = 28;
const data = loadDataset(
  { name: 'mnist', trainSize: 1000, splitSeed: 0 },
  mkdtempSync(join(tmpdir(), 'sublab-inputs-')),
);
const images = data.train;

const inputs = (raw: object): StudentInputs => StudentInputsSchema.parse({ count: 60000, ...raw });

/** Inputs 0..n-1 of one replicate (seed), [n, 784]. */
function sample(raw: object, n: number, seed = 12345): Float32Array {
  const source = studentInputSource(inputs(raw), { images, noiseSeeds: [seed], pixels: P, device: false });
  const x = source.at(
    Uint32Array.from({ length: n }, (_, i) => i),
    n,
  );
  source.dispose();
  assert.ok(x instanceof Float32Array);
  return x;
}

/** Per pixel mean and variance over the samples. */
function moments(x: Float32Array, n: number): { mean: Float64Array; variance: Float64Array } {
  const mean = new Float64Array(P);
  const variance = new Float64Array(P);
  for (let i = 0; i < n; i++) for (let p = 0; p < P; p++) mean[p]! += x[i * P + p]! / n;
  for (let i = 0; i < n; i++)
    for (let p = 0; p < P; p++) variance[p]! += (x[i * P + p]! - mean[p]!) ** 2 / (n - 1);
  return { mean, variance };
}

const avg = (v: ArrayLike<number>) => Array.from(v).reduce((a, b) => a + b, 0) / v.length;

/** The images' own per-pixel mean and variance (pixels in [-1, 1]), over the whole set. */
function imageMoments(): { mean: Float64Array; variance: Float64Array } {
  const x = Float32Array.from(images.images.subarray(0, images.count * P), (b) => b / 127.5 - 1);
  return moments(x, images.count);
}

test('every kind is a pure function of (seed, index): the same in any batch, order or company', () => {
  const kinds = [
    { kind: 'uniform' },
    { kind: 'gaussian', std: 0.5 },
    { kind: 'images' },
    { kind: 'mix', alpha: 0.3 },
    { kind: 'mix', alpha: 0.7, noise: 'gaussian', std: 2 },
    { kind: 'correlated', sigma: 1.5 },
    { kind: 'spectrum' },
    { kind: 'low-rank', k: 7 },
  ];
  for (const raw of kinds) {
    const make = (seeds: number[]) =>
      studentInputSource(inputs(raw), { images, noiseSeeds: seeds, pixels: P, device: false });
    // Batch A: replicates (11, 22), indices [5, 900, 77] and [3, 5, 61000]; batch B: replicate 22
    // alone in another order and batch size, and replicate 11 behind another seed.
    const a = make([11, 22]).at(Uint32Array.from([5, 900, 77, 3, 5, 61000]), 3) as Float32Array;
    const b = make([22]).at(Uint32Array.from([61000, 8, 5, 3]), 4) as Float32Array;
    const c = make([99, 11]).at(Uint32Array.from([77, 900, 77, 5]), 2) as Float32Array;
    const row = (x: Float32Array, i: number) => Array.from(x.subarray(i * P, (i + 1) * P));
    const name = JSON.stringify(raw);
    assert.deepEqual(row(b, 0), row(a, 5), `${name}: replicate 22, index 61000`);
    assert.deepEqual(row(b, 2), row(a, 4), `${name}: replicate 22, index 5`);
    assert.deepEqual(row(b, 3), row(a, 3), `${name}: replicate 22, index 3`);
    assert.deepEqual(row(c, 2), row(a, 2), `${name}: replicate 11, index 77`);
    assert.deepEqual(row(c, 3), row(a, 0), `${name}: replicate 11, index 5`);
    // (images are the set's image index mod n in every replicate)
    if (raw.kind !== 'images')
      assert.notDeepEqual(row(a, 0), row(a, 4), `${name}: another replicate, another input`);
  }
});

test('uniform and gaussian are the noise of rng.ts, as before', () => {
  const u = sample({ kind: 'uniform' }, 2);
  const want = new Float32Array(2 * P);
  fillNoiseImage(want, 0, P, 12345, 0);
  fillNoiseImage(want, P, P, 12345, 1);
  assert.deepEqual(u, want);
  const g = sample({ kind: 'gaussian', std: 3 }, 1);
  fillGaussianImage(want, 0, P, 12345, 0, 3);
  assert.deepEqual(g, want.subarray(0, P));
});

test('mix: alpha 1 is the image (each image once per n indices), alpha 0 the noise kind, between the stated moments', () => {
  const n = images.count;
  const ones = sample({ kind: 'mix', alpha: 1 }, n);
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const pixels = ones.subarray(i * P, (i + 1) * P);
    seen.add(Array.from(pixels, (v) => Math.round((v + 1) * 127.5)).join(','));
  }
  const all = new Set<string>();
  for (let j = 0; j < n; j++) all.add(Array.from(images.images.subarray(j * P, (j + 1) * P)).join(','));
  assert.equal(seen.size, all.size, 'every image of the set exactly once (up to duplicate images)');
  for (const s of seen) assert.ok(all.has(s), 'alpha = 1 gives the images themselves');
  // the shuffle is per replicate: another seed, another image at index 0
  assert.notDeepEqual(sample({ kind: 'mix', alpha: 1 }, 1, 7), sample({ kind: 'mix', alpha: 1 }, 1, 8));

  assert.deepEqual(sample({ kind: 'mix', alpha: 0 }, 3), sample({ kind: 'uniform' }, 3));
  assert.deepEqual(
    sample({ kind: 'mix', alpha: 0, noise: 'gaussian', std: 0.4 }, 3),
    sample({ kind: 'gaussian', std: 0.4 }, 3),
  );

  // alpha 0.25 over 4 passes of the set: mean alpha * image mean, variance a^2 Var(img) + (1-a)^2 / 3
  const alpha = 0.25;
  const m = moments(sample({ kind: 'mix', alpha }, 4 * n), 4 * n);
  const img = imageMoments();
  const wantMean = alpha * avg(img.mean);
  const wantVar = alpha ** 2 * avg(img.variance) + ((1 - alpha) ** 2 * 1) / 3;
  // pixel-averaged: the image part is exact (each image 4 times), the noise's error ~ 0.2 / sqrt(4000 * 784)
  assert.ok(Math.abs(avg(m.mean) - wantMean) < 0.002, `mean ${avg(m.mean)} vs ${wantMean}`);
  assert.ok(Math.abs(avg(m.variance) / wantVar - 1) < 0.01, `variance ${avg(m.variance)} vs ${wantVar}`);
});

test('correlated: variance std^2 at every pixel, neighbour correlation rising with sigma as the kernel predicts', (t) => {
  const n = 3000;
  const measured: number[] = [];
  for (const sigma of [0.5, 1, 2]) {
    const std = 1.5;
    const x = sample({ kind: 'correlated', sigma, std }, n);
    const { mean, variance } = moments(x, n);
    // each pixel: sample variance of 3000 normals is within ~4 * sqrt(2 / n) = 10% of its value
    for (let p = 0; p < P; p++) {
      assert.ok(Math.abs(variance[p]! / std ** 2 - 1) < 0.11, `sigma ${sigma}, pixel ${p}: ${variance[p]}`);
      assert.ok(Math.abs(mean[p]!) < 0.11, `sigma ${sigma}, pixel ${p} mean ${mean[p]}`);
    }
    assert.ok(
      Math.abs(avg(variance) / std ** 2 - 1) < 0.01,
      `sigma ${sigma}: mean variance ${avg(variance)}`,
    );
    // Horizontal and vertical neighbours in the middle 8 x 8 pixels, whose windows are whole.
    let corr = 0;
    let pairs = 0;
    for (let y = 10; y < 18; y++)
      for (let px = 10; px < 18; px++)
        for (const q of [y * N + px + 1, (y + 1) * N + px]) {
          const p = y * N + px;
          let c = 0;
          for (let i = 0; i < n; i++) c += (x[i * P + p]! - mean[p]!) * (x[i * P + q]! - mean[q]!);
          corr += c / (n - 1) / Math.sqrt(variance[p]! * variance[q]!);
          pairs++;
        }
    corr /= pairs;
    measured.push(corr);
    const predicted = blurNeighbourCorrelation(sigma);
    t.diagnostic(
      `sigma ${sigma}: neighbour correlation ${corr.toFixed(4)}, kernel predicts ${predicted.toFixed(4)}`,
    );
    assert.ok(Math.abs(corr - predicted) < 0.02, `sigma ${sigma}: correlation ${corr} vs ${predicted}`);
  }
  assert.ok(measured[0]! < measured[1]! && measured[1]! < measured[2]!, `rises: ${measured}`);
  // The wide kernel's autocorrelation is the Gaussian one: exp(-1 / (4 sigma^2)).
  assert.ok(Math.abs(blurNeighbourCorrelation(2) - Math.exp(-1 / 16)) < 0.002);
  assert.ok(Math.abs(blurNeighbourCorrelation(4) - Math.exp(-1 / 64)) < 0.002);
});

test("spectrum: the average power spectrum of the samples is the dataset's, with mean 0 and its power", (t) => {
  const target = powerSpectrum(images);
  const n = 2000;
  const x = sample({ kind: 'spectrum' }, n);
  const dft = new HalfDft(N);
  const half = dft.half;
  const re = new Float64Array(N * half);
  const im = new Float64Array(N * half);
  const power = new Float64Array(N * half);
  for (let i = 0; i < n; i++) {
    dft.forward(x.subarray(i * P, (i + 1) * P), re, im);
    for (let f = 0; f < N * half; f++) power[f]! += (re[f]! ** 2 + im[f]! ** 2) / n;
  }
  // Each frequency's power is exponential (chi-square 1 at the real frequencies) around the target:
  // relative error ~ 1 / sqrt(2000) = 2.2% (3.2% for the real ones), at most ~4.5 of those over 420.
  let worst = 0;
  let total = 0;
  for (let ky = 0; ky < N; ky++)
    for (let kx = 0; kx < half; kx++) {
      const err = Math.abs(power[ky * half + kx]! / target[ky * N + kx]! - 1);
      worst = Math.max(worst, err);
      total += err / (N * half);
    }
  t.diagnostic(
    `power spectrum vs target: mean relative error ${total.toFixed(4)}, worst ${worst.toFixed(4)}`,
  );
  assert.ok(worst < 0.16, `worst frequency off by ${worst}`);
  assert.ok(total < 0.03, `mean relative error ${total}`);
  // Mean 0, and per pixel variance = the images' mean squared pixel (Parseval).
  const { mean, variance } = moments(x, n);
  let meanSquare = 0;
  for (let i = 0; i < images.count * P; i++) meanSquare += (images.images[i]! / 127.5 - 1) ** 2;
  meanSquare /= images.count * P;
  assert.ok(Math.abs(avg(variance) / meanSquare - 1) < 0.04, `variance ${avg(variance)} vs ${meanSquare}`);
  assert.ok(Math.abs(avg(mean)) < 0.05, `mean ${avg(mean)}`);
});

test('spectrum: the DFT filter on the host equals the dense circulant matrix the device multiplies by', () => {
  const filter = spectrumFilter(powerSpectrum(images));
  const c = denseSpectrumFilter(filter);
  const shaper = new SpectrumShaper(filter);
  const z = new Float32Array(P);
  fillGaussianImage(z, 0, P, 3, 4, 1);
  const out = new Float32Array(P);
  shaper.apply(z, out, 0);
  let worst = 0;
  for (let p = 0; p < P; p++) {
    let sum = 0;
    for (let q = 0; q < P; q++) sum += c[p * P + q]! * z[q]!;
    worst = Math.max(worst, Math.abs(sum - out[p]!));
  }
  assert.ok(worst < 1e-5, `host vs dense: ${worst}`);
  // C is symmetric (an even, real kernel)
  for (let p = 0; p < P; p += 37) for (let q = 0; q < P; q += 13) assert.equal(c[p * P + q], c[q * P + p]);
});

/** The rank of the rows of x [n, P] by pivoted Gram-Schmidt: rows left above tol of their norm. */
function numericalRank(x: Float32Array, n: number, tol = 1e-3): number {
  const basis: Float64Array[] = [];
  const order = Array.from({ length: n }, (_, i) => i);
  for (const i of order) {
    const v = Float64Array.from(x.subarray(i * P, (i + 1) * P));
    const norm0 = Math.hypot(...v);
    for (let pass = 0; pass < 2; pass++)
      for (const u of basis) {
        let dot = 0;
        for (let p = 0; p < P; p++) dot += u[p]! * v[p]!;
        for (let p = 0; p < P; p++) v[p]! -= dot * u[p]!;
      }
    const rest = Math.hypot(...v);
    if (rest > tol * norm0) basis.push(v.map((e) => e / rest));
  }
  return basis.length;
}

test('low-rank: samples span exactly k dimensions, inside the basis, with std^2 variance on average', () => {
  for (const k of [1, 5, 40]) {
    const x = sample({ kind: 'low-rank', k, std: 2 }, 3 * k + 10);
    assert.equal(numericalRank(x, 3 * k + 10), k, `rank of ${3 * k + 10} samples`);
    // Inside span(basis): the residual after projecting on the seed's basis is rounding only.
    const basis = lowRankBasis(12345, P, k, 1);
    const scale = Math.sqrt(P / k);
    for (let i = 0; i < 5; i++) {
      const v = Float64Array.from(x.subarray(i * P, (i + 1) * P));
      const norm = Math.hypot(...v);
      for (let j = 0; j < k; j++) {
        let dot = 0;
        for (let p = 0; p < P; p++) dot += (basis[j * P + p]! / scale) * v[p]!;
        for (let p = 0; p < P; p++) v[p]! -= dot * (basis[j * P + p]! / scale);
      }
      assert.ok(Math.hypot(...v) < 1e-5 * norm, `k ${k}: residual ${Math.hypot(...v)} of ${norm}`);
    }
  }
  const n = 3000;
  const k = 20;
  const { mean, variance } = moments(sample({ kind: 'low-rank', k, std: 2 }, n), n);
  // E|x|^2 / 784 = std^2: the sum of k chi-square(1) scaled, error ~ sqrt(2 / (k n)) = 0.6%
  assert.ok(Math.abs(avg(variance) / 4 - 1) < 0.04, `variance ${avg(variance)}`);
  assert.ok(Math.abs(avg(mean)) < 0.05, `mean ${avg(mean)}`);
  // a different subspace per replicate (seed)
  assert.notDeepEqual(lowRankBasis(1, P, 3, 1), lowRankBasis(2, P, 3, 1));
});

test('the device composition (noise, then matmul or gather) gives the host values on the cpu backend', async () => {
  await initBackend('cpu');
  const indices = Uint32Array.from([4, 80, 6, 59999, 1, 2]);
  for (const raw of [
    { kind: 'uniform' },
    { kind: 'gaussian', std: 0.5 },
    { kind: 'images' },
    { kind: 'mix', alpha: 0.6, noise: 'gaussian' },
    { kind: 'correlated', sigma: 2, std: 0.7 },
    { kind: 'spectrum' },
    { kind: 'low-rank', k: 9 },
  ]) {
    const options = { images, noiseSeeds: [5, 6], pixels: P };
    const host = studentInputSource(inputs(raw), { ...options, device: false }).at(
      indices,
      3,
    ) as Float32Array;
    const source = studentInputSource(inputs(raw), { ...options, device: true });
    const device = source.at(indices, 3) as tf.Tensor3D;
    assert.deepEqual(device.shape, [2, 3, P]);
    const got = await device.data();
    let worst = 0;
    for (let i = 0; i < host.length; i++) worst = Math.max(worst, Math.abs(got[i]! - host[i]!));
    assert.ok(worst < 1e-5, `${JSON.stringify(raw)}: ${worst}`);
    device.dispose();
    source.dispose();
  }
});

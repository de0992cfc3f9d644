import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { encodeIdx, parseIdx, readIdxFile } from './idx.ts';
import { loadFashionMnist } from './fashion-mnist.ts';

const FASHION = '/usr/share/datasets/fashion-mnist';
const haveFashion = existsSync(join(FASHION, 'train-images-idx3-ubyte.gz'));
// Under CI (.ci/run installs the package) a missing dataset fails the test instead of skipping it.
const needFashion =
  haveFashion || process.env['CI']
    ? {}
    : { skip: `Debian's dataset-fashion-mnist is not installed (${FASHION}); .ci/run installs it` };

test(
  'reads the real Fashion-MNIST files: 60,000 + 10,000 images of 28x28, balanced labels',
  needFashion,
  () => {
    const data = loadFashionMnist(FASHION);
    assert.equal(data.train.count, 60000);
    assert.equal(data.test.count, 10000);
    assert.equal(data.train.images.length, 60000 * 784);
    const counts = new Array(10).fill(0);
    for (const l of data.test.labels) counts[l]++;
    assert.deepEqual(counts, new Array(10).fill(1000));
    assert.ok(data.train.images.some((p) => p === 255) && data.train.images.some((p) => p === 0));
  },
);

test('limits take the first N images', needFashion, () => {
  const data = loadFashionMnist(FASHION, 100, 50);
  assert.equal(data.train.count, 100);
  assert.equal(data.test.labels.length, 50);
});

function corruptCopy(name: string, mutate: (raw: Uint8Array) => Uint8Array, gzip = true): string {
  const dir = mkdtempSync(join(tmpdir(), 'sublab-idx-'));
  for (const f of [
    'train-images-idx3-ubyte.gz',
    'train-labels-idx1-ubyte.gz',
    't10k-images-idx3-ubyte.gz',
    't10k-labels-idx1-ubyte.gz',
  ]) {
    copyFileSync(join(FASHION, f), join(dir, f));
  }
  const raw = new Uint8Array(gunzipSync(readFileSync(join(FASHION, name))));
  const bad = mutate(raw);
  writeFileSync(join(dir, name), gzip ? gzipSync(bad) : bad);
  return dir;
}

test('a truncated image file is rejected with the sizes involved', needFashion, () => {
  const dir = corruptCopy('t10k-images-idx3-ubyte.gz', (raw) => raw.subarray(0, raw.length - 1000));
  assert.throws(
    () => loadFashionMnist(dir),
    /t10k-images-idx3-ubyte\.gz: truncated: header promises 10000x28x28 = 7840000 values, file holds 7839000/,
  );
});

test('a truncated gzip stream is rejected', needFashion, () => {
  const dir = mkdtempSync(join(tmpdir(), 'sublab-idx-'));
  const gz = readFileSync(join(FASHION, 't10k-labels-idx1-ubyte.gz'));
  writeFileSync(join(dir, 'labels.gz'), gz.subarray(0, gz.length - 100));
  assert.throws(() => readIdxFile(join(dir, 'labels.gz')), /labels\.gz: corrupt or truncated gzip stream/);
});

test('a wrong magic number is rejected', needFashion, () => {
  const dir = corruptCopy('train-labels-idx1-ubyte.gz', (raw) => {
    const copy = raw.slice();
    copy[0] = 0x42;
    return copy;
  });
  assert.throws(() => loadFashionMnist(dir), /train-labels-idx1-ubyte\.gz: not an IDX file/);
});

test('labels that do not match the images are rejected', needFashion, () => {
  const dir = corruptCopy('t10k-labels-idx1-ubyte.gz', (raw) => encodeIdx([9999], raw.subarray(8, 8 + 9999)));
  assert.throws(() => loadFashionMnist(dir), /Fashion-MNIST test: 10000 images but 9999 labels/);
});

test('a missing folder names the file and the Debian package', () => {
  assert.throws(
    () => loadFashionMnist('/nonexistent/fashion'),
    /train-images-idx3-ubyte\(\.gz\) not found in \/nonexistent\/fashion\. Install Debian's dataset-fashion-mnist/,
  );
});

test('header checks: element type, rank, zero dimension, trailing bytes, short header', () => {
  const ok = encodeIdx([2, 3], new Uint8Array([1, 2, 3, 4, 5, 6]));
  assert.deepEqual(parseIdx(ok).dims, [2, 3]);
  assert.deepEqual(Array.from(parseIdx(gzipSync(ok)).data), [1, 2, 3, 4, 5, 6]);
  const float = ok.slice();
  float[2] = 0x0d;
  assert.throws(
    () => parseIdx(float, 'f'),
    /f: unsupported IDX element type 0xd \(expected 0x08, unsigned byte\)/,
  );
  const rank = ok.slice();
  rank[3] = 9;
  assert.throws(() => parseIdx(rank, 'r'), /r: unsupported IDX rank 9/);
  assert.throws(() => parseIdx(encodeIdx([0], new Uint8Array()), 'z'), /z: dimension 0 is zero/);
  const trailing = new Uint8Array([...ok, 7, 7]);
  assert.throws(() => parseIdx(trailing, 't'), /t: 2 unexpected trailing bytes after 2x3 values/);
  assert.throws(() => parseIdx(ok.subarray(0, 9), 'h'), /h: truncated IDX header \(9 of 12 bytes\)/);
  assert.throws(() => parseIdx(new Uint8Array([0, 0]), 's'), /s: too short for an IDX header/);
});

test('plain (not gzipped) IDX files are read too', needFashion, () => {
  const dir = corruptCopy('t10k-labels-idx1-ubyte.gz', (raw) => raw, false);
  const labels = readIdxFile(join(dir, 't10k-labels-idx1-ubyte.gz'));
  assert.deepEqual(labels.dims, [10000]);
});

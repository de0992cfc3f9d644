// Whole datasets through the downloader: a registry entry served by the loopback mirror, verified,
// cached and read back; EMNIST's zip extracted, its images turned upright and its letters 0-based.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { gzipSync } from 'node:zlib';
import yazl from 'yazl';
import { validateSpec } from '../../app/spec/validate.ts';
import {
  datasetStatus,
  DatasetNotDownloadedError,
  downloadDataset,
  loadDownloaded,
  missingDownload,
  transposeImages,
} from './downloaded.ts';
import { encodeIdx } from './idx.ts';
import { REGISTRY, type RegistryEntry, type RemoteFile } from './registry.ts';
import { startTestMirror, type TestMirror } from './testing/mirror-server.ts';

const FASHION = '/usr/share/datasets/fashion-mnist';
const haveFashion = existsSync(join(FASHION, 'train-images-idx3-ubyte.gz'));
const needFashion =
  haveFashion || process.env['CI']
    ? {}
    : { skip: `Debian's dataset-fashion-mnist is not installed (${FASHION})` };

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const tempDir = () => mkdtempSync(join(tmpdir(), 'sublab-datasets-'));
const served = new Map<string, Uint8Array>();
let mirror: TestMirror;

before(async () => {
  mirror = await startTestMirror(served);
});
after(() => mirror.close());

function remote(name: string, bytes: Uint8Array): RemoteFile {
  served.set(name, bytes);
  return { name, size: bytes.length, sha256: sha256(bytes), mirrors: [mirror.url] };
}

test(
  'a four-file dataset: downloaded, verified, cached, then read as 60,000 / 10,000',
  needFashion,
  async () => {
    // Full MNIST's entry, with Debian's Fashion-MNIST files (and their own digests) in place of MNIST's.
    const mnist = REGISTRY['mnist-full'];
    const entry: RegistryEntry = {
      ...mnist,
      files: mnist.files.map((f) => remote(f.name, readFileSync(join(FASHION, f.name)))),
    };
    const dir = tempDir();
    assert.equal(datasetStatus(entry, dir).ready, false);
    assert.throws(() => loadDownloaded(entry, dir), DatasetNotDownloadedError);
    const files = new Set<string>();
    const status = await downloadDataset(entry, dir, { onProgress: (p) => files.add(p.file) });
    assert.equal(status.ready, true);
    assert.equal(status.missingBytes, 0);
    assert.deepEqual([...files].sort(), mnist.files.map((f) => f.name).sort());
    assert.ok(status.files.every((f) => f.cached && f.partialBytes === 0));
    const data = loadDownloaded(entry, dir);
    assert.equal(data.train.count, 60000);
    assert.equal(data.test.count, 10000);
    assert.equal(data.classes, 10);
    const requests = mirror.requests.length;
    await downloadDataset(entry, dir); // cached: no request
    assert.equal(mirror.requests.length, requests);
  },
);

/** A tiny EMNIST-shaped split: image i has one bright pixel at (row i+1, col 2i+3), stored transposed. */
function emnistSplit(labels: number[]): { images: Uint8Array; labels: Uint8Array } {
  const images = new Uint8Array(labels.length * 784);
  labels.forEach((_, i) => (images[i * 784 + (2 * i + 3) * 28 + (i + 1)] = 255));
  return {
    images: gzipSync(encodeIdx([labels.length, 28, 28], images)),
    labels: gzipSync(encodeIdx([labels.length], Uint8Array.from(labels))),
  };
}

async function emnistZip(): Promise<Uint8Array> {
  const zip = new yazl.ZipFile();
  const add = (split: string, part: string, labels: number[]) => {
    const data = emnistSplit(labels);
    zip.addBuffer(Buffer.from(data.images), `gzip/emnist-${split}-${part}-images-idx3-ubyte.gz`);
    zip.addBuffer(Buffer.from(data.labels), `gzip/emnist-${split}-${part}-labels-idx1-ubyte.gz`);
  };
  add('letters', 'train', [1, 26, 13]);
  add('letters', 'test', [2, 25]);
  add('balanced', 'train', [0, 46, 10, 36]);
  add('balanced', 'test', [5, 9]);
  zip.addBuffer(Buffer.from('unused'), 'gzip/emnist-digits-mapping.txt');
  zip.end();
  return new Uint8Array(await buffer(zip.outputStream));
}

test('EMNIST: the zip is verified once, each split extracted, images upright, letters 0-based', async () => {
  const zip = remote('gzip.zip', await emnistZip());
  const letters: RegistryEntry = { ...REGISTRY['emnist-letters'], files: [zip] };
  const balanced: RegistryEntry = { ...REGISTRY['emnist-balanced'], files: [zip] };
  const dir = tempDir();
  const status = await downloadDataset(letters, dir);
  assert.equal(status.ready, true);
  assert.equal(status.dir, join(dir, 'emnist-letters'));
  const data = loadDownloaded(letters, dir);
  assert.equal(data.classes, 26);
  assert.deepEqual([...data.train.labels], [0, 25, 12]);
  assert.deepEqual([...data.test.labels], [1, 24]);
  for (let i = 0; i < 3; i++) {
    const bright = data.train.images.subarray(i * 784, (i + 1) * 784).findIndex((p) => p === 255);
    assert.equal(bright, (i + 1) * 28 + 2 * i + 3, `image ${i}: the pixel at row ${i + 1}, col ${2 * i + 3}`);
  }
  // Balanced shares the cached zip: no request, only an extraction.
  assert.equal(datasetStatus(balanced, dir).ready, false);
  assert.equal(datasetStatus(balanced, dir).missingBytes, 0);
  const requests = mirror.requests.length;
  await downloadDataset(balanced, dir);
  assert.equal(mirror.requests.length, requests);
  const b = loadDownloaded(balanced, dir);
  assert.equal(b.classes, 47);
  assert.deepEqual([...b.train.labels], [0, 46, 10, 36]);
});

test('a zip without the split says which entries are missing', async () => {
  const empty = new yazl.ZipFile();
  empty.addBuffer(Buffer.from('x'), 'gzip/other.txt');
  empty.end();
  const zip = remote('gzip.zip', new Uint8Array(await buffer(empty.outputStream)));
  const entry: RegistryEntry = { ...REGISTRY['emnist-letters'], files: [zip] };
  await assert.rejects(
    downloadDataset(entry, tempDir()),
    /gzip\.zip: no entry gzip\/emnist-letters-train-images-idx3-ubyte\.gz, .* in the zip/,
  );
});

test('transposeImages turns each 28 x 28 image about its diagonal', () => {
  const images = new Uint8Array(2 * 784).map((_, i) => i % 251);
  const copy = Uint8Array.from(images);
  transposeImages(images);
  assert.equal(images[28 * 3 + 5], copy[28 * 5 + 3]);
  assert.equal(images[784 + 28 * 27 + 1], copy[784 + 28 * 1 + 27]);
  transposeImages(images);
  assert.deepEqual(images, copy);
});

test('a spec naming a dataset not downloaded is refused with the command that fetches it', () => {
  const spec = (dataset: object) => {
    const r = validateSpec({ version: 1, name: 't', dataset });
    assert.ok(r.ok);
    return r.spec;
  };
  const dir = tempDir();
  assert.equal(missingDownload(spec({ name: 'mnist' }), dir), null);
  const error = missingDownload(spec({ name: 'emnist-letters' }), dir);
  assert.ok(error instanceof DatasetNotDownloadedError);
  assert.match(
    error.message,
    /^dataset emnist-letters is not downloaded \(looked in .*emnist-letters\): run `sublab datasets download emnist-letters`/,
  );
});

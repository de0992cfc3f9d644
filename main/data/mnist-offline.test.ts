import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMnistSplit, loadOfflineMnist } from './mnist-offline.ts';

const cache = mkdtempSync(join(tmpdir(), 'sublab-mnist-'));

test('the mnist package converts to 10,000 labelled digits cached as IDX', () => {
  const all = loadOfflineMnist(cache);
  assert.equal(all.count, 10000);
  const counts = new Array(10).fill(0);
  for (const l of all.labels) counts[l]++;
  assert.ok(
    counts.every((c) => c > 800 && c < 1200),
    `class counts ${counts}`,
  );
  const files = readdirSync(join(cache, 'mnist-10k-v1')).sort();
  assert.deepEqual(files, ['images-idx3-ubyte', 'labels-idx1-ubyte']);
  const again = loadOfflineMnist(cache);
  assert.deepEqual(again.labels, all.labels);
  assert.deepEqual(again.images.subarray(0, 784 * 10), all.images.subarray(0, 784 * 10));
});

test('a damaged cache is rebuilt, not trusted', () => {
  writeFileSync(join(cache, 'mnist-10k-v1', 'images-idx3-ubyte'), 'garbage');
  assert.equal(loadOfflineMnist(cache).count, 10000);
});

test('the split is seeded: 8,000/2,000, disjoint, reproducible', () => {
  const a = loadMnistSplit(cache, 8000, 0);
  const b = loadMnistSplit(cache, 8000, 0);
  const c = loadMnistSplit(cache, 8000, 1);
  assert.equal(a.train.count, 8000);
  assert.equal(a.test.count, 2000);
  assert.deepEqual(a.test.labels, b.test.labels);
  assert.notDeepEqual(a.test.labels, c.test.labels);
  // Shuffled: the package groups digits by class, a split must not.
  assert.ok(new Set(a.train.labels.subarray(0, 50)).size > 5);
});

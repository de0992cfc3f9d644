import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fillNoiseImage, Rng } from './rng.ts';

test('the same seed gives the same stream; another seed another', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const xa = Array.from({ length: 100 }, () => a.nextU32());
  assert.deepEqual(
    xa,
    Array.from({ length: 100 }, () => b.nextU32()),
  );
  assert.notDeepEqual(
    xa,
    Array.from({ length: 100 }, () => c.nextU32()),
  );
});

test('uniform and normal draws have the right moments', () => {
  const rng = new Rng(1);
  const n = 200_000;
  const u = new Float32Array(n);
  rng.fillUniform(u, -1, 1);
  const mean = u.reduce((s, x) => s + x, 0) / n;
  assert.ok(Math.abs(mean) < 0.01 && u.every((x) => x >= -1 && x < 1));
  const g = new Float32Array(n);
  rng.fillNormal(g, 0.5);
  const gm = g.reduce((s, x) => s + x, 0) / n;
  const gv = g.reduce((s, x) => s + (x - gm) ** 2, 0) / n;
  assert.ok(Math.abs(gm) < 0.01, `mean ${gm}`);
  assert.ok(Math.abs(Math.sqrt(gv) - 0.5) < 0.01, `std ${Math.sqrt(gv)}`);
});

test('permutations are permutations; derangements never fix a point', () => {
  const rng = new Rng(3);
  for (const n of [2, 3, 10, 100]) {
    const p = rng.permutation(n);
    assert.deepEqual(
      [...p].sort((a, b) => a - b),
      Array.from({ length: n }, (_, i) => i),
    );
    for (let k = 0; k < 20; k++) {
      const d = rng.derangement(n);
      assert.deepEqual(
        [...d].sort((a, b) => a - b),
        Array.from({ length: n }, (_, i) => i),
      );
      d.forEach((v, i) => assert.notEqual(v, i));
    }
  }
  assert.throws(() => rng.derangement(1), /at least 2/);
});

test('noise image i is a pure function of (seed, i), uniform in [-1, 1)', () => {
  const a = new Float32Array(784);
  const b = new Float32Array(784);
  fillNoiseImage(a, 0, 784, 5, 17);
  fillNoiseImage(b, 0, 784, 5, 17);
  assert.deepEqual(a, b);
  fillNoiseImage(b, 0, 784, 5, 18);
  assert.notDeepEqual(a, b);
  assert.ok(a.every((x) => x >= -1 && x < 1));
  const mean = a.reduce((s, x) => s + x, 0) / 784;
  assert.ok(Math.abs(mean) < 0.1);
});

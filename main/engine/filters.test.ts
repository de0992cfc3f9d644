import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyFilter, shuffleAcross, shuffleWithin } from './filters.ts';
import { Rng } from './rng.ts';

const sorted = (xs: ArrayLike<number>) => Array.from(xs).sort((a, b) => a - b);

test("shuffle within permutes each sample's values among themselves and nothing else", () => {
  const [S, B, K] = [2, 50, 3];
  const values = Float64Array.from({ length: S * B * K }, (_, i) => i);
  const shuffled = values.slice();
  shuffleWithin(shuffled, S, B, K, [new Rng(1), new Rng(2)]);
  let moved = 0;
  for (let m = 0; m < S * B; m++) {
    const before = values.subarray(m * K, (m + 1) * K);
    const after = shuffled.subarray(m * K, (m + 1) * K);
    assert.deepEqual(sorted(after), sorted(before), `sample ${m} keeps its values`);
    if (after.some((v, i) => v !== before[i])) moved++;
  }
  assert.ok(moved > S * B * 0.6, `most samples are permuted (${moved})`);
});

test('shuffle across permutes each position across samples and nothing else', () => {
  const [S, B, K] = [2, 40, 3];
  const values = Float64Array.from({ length: S * B * K }, (_, i) => i);
  const shuffled = values.slice();
  shuffleAcross(shuffled, S, B, K, [new Rng(3), new Rng(4)]);
  for (let s = 0; s < S; s++) {
    for (let pos = 0; pos < K; pos++) {
      const column = (v: Float64Array) => Array.from({ length: B }, (_, b) => v[(s * B + b) * K + pos]!);
      assert.deepEqual(
        sorted(column(shuffled)),
        sorted(column(values)),
        `model ${s} position ${pos} keeps its values`,
      );
      assert.notDeepEqual(column(shuffled), column(values), 'and they move');
    }
  }
});

const logits = (rows: number[][]) => Float32Array.from(rows.flat());

test('filters keep only the chosen logits, as distributions', () => {
  // one model, two samples, 5 logits; keep logits 2..4
  const z = logits([
    [9, 9, 1, 2, 3],
    [0, 0, 5, 5, 5],
  ]);
  const out = applyFilter({ kind: 'temperature', keep: [2, 3, 4], value: 1 }, z, 1, 2, 5, [2, 3, 4], 1, [
    new Rng(0),
  ]);
  assert.equal(out.probs[0], 0);
  assert.equal(out.probs[1], 0);
  const first = Array.from(out.probs.subarray(2, 5));
  assert.ok(Math.abs(first.reduce((a, b) => a + b) - 1) < 1e-6);
  assert.ok(first[2]! > first[1]! && first[1]! > first[0]!);
  assert.deepEqual(
    Array.from(out.probs.subarray(7, 10)).map((v) => v.toFixed(4)),
    ['0.3333', '0.3333', '0.3333'],
  );
  const hot = applyFilter({ kind: 'temperature', keep: [2, 3, 4], value: 0.1 }, z, 1, 2, 5, [2, 3, 4], 1, [
    new Rng(0),
  ]);
  assert.ok(hot.probs[4]! > 0.99, 'a low temperature sharpens');
});

test('number channel: banned numbers reject the sample and are counted', () => {
  // probabilities (1/3, 1/3, 1/3) -> 333, a banned number; (0.5, 0.5, 0) -> 500, 500, 0
  const z = logits([
    [0, 0, 0],
    [0, 0, -50],
  ]);
  const plain = applyFilter(
    { kind: 'numbers', keep: 'all', format: 'comma', banNumbers: false },
    z,
    1,
    2,
    3,
    [0, 1, 2],
    1,
    [new Rng(0)],
  );
  assert.deepEqual(Array.from(plain.weights), [1, 1]);
  const banned = applyFilter(
    { kind: 'numbers', keep: 'all', format: 'brackets', banNumbers: true },
    z,
    1,
    2,
    3,
    [0, 1, 2],
    1,
    [new Rng(0)],
  );
  assert.deepEqual(Array.from(banned.weights), [0, 1]);
  assert.deepEqual(Array.from(banned.rejected), [1]);
  assert.deepEqual(Array.from(banned.probs.subarray(3, 6)), [0.5, 0.5, 0]);
});

test('top-k, quantize and detector do what they say', () => {
  const z = logits([
    [1, 2, 3, 4],
    [4, 3, 2, 1],
  ]);
  const all = [0, 1, 2, 3];
  const top = applyFilter({ kind: 'top-k', keep: 'all', k: 2 }, z, 1, 2, 4, all, 1, [new Rng(0)]);
  assert.deepEqual(
    Array.from(top.probs.subarray(0, 4)).map((v) => v > 0),
    [false, false, true, true],
  );
  const q = applyFilter({ kind: 'quantize', keep: 'all', levels: 4 }, z, 1, 2, 4, all, 1, [new Rng(0)]);
  // softmax(1, 2, 3, 4) = (0.03, 0.09, 0.24, 0.64): in quarters (0, 0, 1/4, 3/4)
  assert.deepEqual(Array.from(q.probs.subarray(0, 4)), [0, 0, 0.25, 0.75]);
  const d = applyFilter(
    { kind: 'detector', keep: 'all', fraction: 0.5 },
    z,
    1,
    2,
    4,
    all,
    1,
    [new Rng(0)],
    Float32Array.from([0.2, 0.9]),
  );
  assert.deepEqual(Array.from(d.weights), [1, 0], 'the higher-scored sample is dropped');
});

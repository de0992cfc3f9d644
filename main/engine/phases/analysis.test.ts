// The analysis's pieces: hidden features of a chunk of a stack's models equal those models' part of
// the whole stack's (both layouts, MLP and CNN), chunks cover a stack once, and the image subsets are
// fixed by the seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { ImageSet } from '../../data/dataset.ts';
import { initBackend } from '../backend.ts';
import type { Layout } from '../ops.ts';
import { Rng } from '../rng.ts';
import { initParams, StackedModel, type ModelArch } from '../stacked-model.ts';
import { CHUNK_FLOATS, fixedSubset, modelChunks } from './analysis.ts';

const ARCHS: ModelArch[] = [
  { family: 'mlp', sizes: [784, 12, 8, 13] },
  { family: 'cnn', channels: 2, hidden: [6], outputs: 13 },
];

test('hidden features of a range of models are those models of the whole stack', async () => {
  await initBackend('cpu');
  const before = tf.memory().numTensors;
  const images = new Float32Array(5 * 784);
  new Rng(3).fillUniform(images, -1, 1);
  const x = tf.tensor2d(images, [5, 784]);
  for (const arch of ARCHS)
    for (const layout of ['batched', 'per-model'] as Layout[]) {
      const model = new StackedModel(initParams([1, 2, 3, 4], arch), layout);
      const whole = tf.tidy(() => model.hidden(model.sharedInput(x)));
      const part = tf.tidy(() => model.hidden(model.sharedInput(x), { start: 1, count: 2 }));
      assert.equal(part.length, 2, `${arch.family}: one entry per hidden layer`);
      for (let l = 0; l < whole.length; l++) {
        const all = layout === 'batched' ? tf.unstack(whole[l]![0]!) : whole[l]!;
        const mine = layout === 'batched' ? tf.unstack(part[l]![0]!) : part[l]!;
        assert.equal(mine.length, 2);
        for (let k = 0; k < 2; k++)
          assert.deepEqual(
            await mine[k]!.data(),
            await all[1 + k]!.data(),
            `${arch.family} ${layout} layer ${l}`,
          );
        if (layout === 'batched') tf.dispose([...all, ...mine]);
      }
      tf.dispose([...whole.flat(), ...part.flat()]);
      model.dispose();
    }
  x.dispose();
  // The CNN's identity patch kernel is kept for the process's life.
  assert.equal(tf.memory().numTensors, before + 1);
});

test('model chunks cover a stack once, each within the float budget', () => {
  assert.deepEqual(modelChunks(5, 1), [{ start: 0, count: 5 }]);
  const per = CHUNK_FLOATS / 3 + 1; // two models would exceed the budget... three certainly
  assert.deepEqual(
    modelChunks(5, per).map((c) => c.count),
    [2, 2, 1],
  );
  assert.deepEqual(
    modelChunks(3, CHUNK_FLOATS * 4),
    [0, 1, 2].map((start) => ({ start, count: 1 })),
  );
});

test('the image subsets are fixed by the seed, in the set order, at most the set', () => {
  const set: ImageSet = {
    images: Uint8Array.from({ length: 20 * 784 }, (_, i) => Math.floor(i / 784)),
    labels: Uint8Array.from({ length: 20 }, (_, i) => i % 10),
    count: 20,
  };
  const a = fixedSubset(set, 8, 7, 1);
  assert.deepEqual(fixedSubset(set, 8, 7, 1), a);
  assert.notDeepEqual(fixedSubset(set, 8, 8, 1).labels, a.labels);
  const order = Array.from({ length: 8 }, (_, i) => a.images[i * 784]!);
  assert.deepEqual(
    order,
    [...order].sort((x, y) => x - y),
  );
  assert.equal(new Set(order).size, 8);
  assert.equal(fixedSubset(set, 100, 7, 1).count, 20);
});

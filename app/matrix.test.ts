import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandMatrix, keptLogits, mixSeed, replicateSeeds, scheduleOrder } from './matrix.ts';
import { mustValidate } from './spec/validate.ts';
import { summarize } from './stats.ts';

test('the paper spec expands to one cell with its replicates', () => {
  const cells = expandMatrix(mustValidate({ version: 1, name: 'p', replicates: 5 }));
  assert.equal(cells.length, 1);
  assert.deepEqual(cells[0]!.coords, { trait: 'skill', filter: 'aux-logits', architecture: 'same-init' });
  assert.equal(cells[0]!.seeds.length, 5);
  assert.equal(new Set(cells[0]!.seeds).size, 5, 'replicate seeds are distinct');
});

test('a matrix expands to the product of its axes, trait-major, with paired seeds', () => {
  const spec = mustValidate({
    version: 1,
    name: 'm',
    replicates: 3,
    matrix: {
      filters: [
        { kind: 'logits', keep: 'aux' },
        { kind: 'logits', keep: 'all' },
        { kind: 'logits', keep: [0, 12] },
      ],
    },
  });
  const cells = expandMatrix(spec);
  assert.equal(cells.length, 3);
  assert.deepEqual(
    cells.map((c) => c.index),
    [0, 1, 2],
  );
  assert.deepEqual(
    cells.map((c) => c.coords.filter),
    ['aux-logits', 'all-logits', 'logits[0,12]'],
  );
  for (const c of cells) assert.deepEqual(c.seeds, cells[0]!.seeds);
  assert.deepEqual(expandMatrix(spec), cells, 'expansion is deterministic');
});

test('seeds depend on the base seed and the replicate index', () => {
  assert.notDeepEqual(replicateSeeds({ seed: 0, replicates: 4 }), replicateSeeds({ seed: 1, replicates: 4 }));
  assert.deepEqual(
    replicateSeeds({ seed: 7, replicates: 3 }),
    replicateSeeds({ seed: 7, replicates: 5 }).slice(0, 3),
  );
  assert.notEqual(mixSeed(0, 0), mixSeed(0, 1));
});

test('kept logits follow the filter', () => {
  assert.deepEqual(keptLogits({ kind: 'logits', keep: 'aux' }, 3, 10), [10, 11, 12]);
  assert.deepEqual(keptLogits({ kind: 'logits', keep: 'class' }, 3, 10), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(keptLogits({ kind: 'logits', keep: 'all' }, 3, 10).length, 13);
  assert.deepEqual(keptLogits({ kind: 'logits', keep: [12, 1] }, 3, 10), [1, 12]);
});

test('kept logits count K class logits then the aux ones (dataset.classes of 3)', () => {
  assert.deepEqual(keptLogits({ kind: 'logits', keep: 'aux' }, 3, 3), [3, 4, 5]);
  assert.deepEqual(keptLogits({ kind: 'logits', keep: 'class' }, 3, 3), [0, 1, 2]);
  assert.deepEqual(keptLogits({ kind: 'logits', keep: 'all' }, 2, 3), [0, 1, 2, 3, 4]);
  assert.deepEqual(keptLogits({ kind: 'top-k', keep: [4, 0], k: 1 }, 3, 3), [0, 4]);
});

test('a layer-init relation is labelled by its random parts; a class subset can be swept', () => {
  const spec = mustValidate({
    version: 1,
    name: 'layers',
    replicates: 2,
    matrix: {
      architectures: [
        { kind: 'layer-init', random: ['hidden.0', 'aux-head'] },
        { kind: 'layer-init', random: [] },
      ],
      sweeps: [
        {
          path: 'dataset.classes',
          values: [
            [0, 1],
            [0, 1, 2],
          ],
        },
      ],
    },
  });
  const cells = expandMatrix(spec);
  assert.deepEqual(
    cells.map((c) => c.coords.architecture),
    ['random hidden.0+aux-head', 'random hidden.0+aux-head', 'random none', 'random none'],
  );
  // Each class subset is its own dataset, so its own teacher.
  assert.equal(new Set(cells.map((c) => c.teacherKey)).size, 2);
});

test('summaries are mean +- t(0.975, N-1) std / sqrt(N) with the sample std', () => {
  const s = summarize([0.5, 0.6, 0.7, 0.8]);
  assert.equal(s.n, 4);
  assert.ok(Math.abs(s.mean - 0.65) < 1e-12);
  const std = Math.sqrt((0.15 ** 2 * 2 + 0.05 ** 2 * 2) / 3);
  // scipy.stats.t.ppf(0.975, 3)
  assert.ok(Math.abs(s.ci95 - (3.182446305284263 * std) / 2) < 1e-12);
  assert.ok(Number.isNaN(summarize([0.3]).ci95));
});

test('the schedule shows every value of every axis within the first cells', () => {
  const spec = mustValidate({
    version: 1,
    name: 'm',
    replicates: 2,
    matrix: {
      traits: [{ kind: 'skill' }, { kind: 'backdoor' }],
      filters: [
        { kind: 'logits', keep: 'aux' },
        { kind: 'logits', keep: 'all' },
        { kind: 'shuffle', scope: 'within' },
      ],
      architectures: [{ kind: 'same-init' }, { kind: 'different-init' }],
    },
  });
  const cells = expandMatrix(spec);
  const order = scheduleOrder(cells);
  assert.deepEqual(
    order.map((c) => c.index).sort((a, b) => a - b),
    cells.map((c) => c.index),
    'a permutation',
  );
  const first = order.slice(0, 3);
  assert.equal(new Set(first.map((c) => c.coords.trait)).size, 2);
  assert.equal(new Set(first.map((c) => c.coords.filter)).size, 3);
  assert.equal(new Set(first.map((c) => c.coords.architecture)).size, 2);
  assert.deepEqual(order[0], cells[0]);
});

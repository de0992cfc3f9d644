// Where students start: keyed layer inits (nothing shared by accident) and the layer-init relation
// (exactly the named parts drawn afresh). Host-side only: no backend, no training.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Architecture } from '../../app/spec/schema.ts';
import { initParams, layerShapes, type ModelArch, type StackedParams } from './stacked-model.ts';
import { studentInits, withRandomParts } from './student-init.ts';

const seeds = [101, 202, 303];
const mlp = (hidden: number[], outputs = 13): ModelArch => ({
  family: 'mlp',
  sizes: [784, ...hidden, outputs],
});

/** Model m's slice of a stacked per-layer array. */
const slice = (arr: Float32Array, models: number, m: number) => {
  const block = arr.length / models;
  return arr.subarray(m * block, (m + 1) * block);
};

/**
 * Adjacent pairs of weights of `a` that also occur, adjacent, in `b`. One stream read by both
 * gives thousands; independent float32 draws match a pair essentially never (single values do
 * match by chance, a few per 100,000).
 */
function sharedPairs(a: StackedParams, b: StackedParams): number {
  // Where each value of b occurs (the rare value drawn twice keeps all its places).
  const at = new Map<number, number | number[]>();
  b.weights.forEach((w, l) =>
    w.forEach((v, i) => {
      const place = l * 2 ** 32 + i;
      const known = at.get(v);
      at.set(v, known === undefined ? place : [...(Array.isArray(known) ? known : [known]), place]);
    }),
  );
  const next = (place: number) => b.weights[Math.floor(place / 2 ** 32)]![(place % 2 ** 32) + 1];
  let n = 0;
  for (const w of a.weights)
    for (let i = 0; i + 1 < w.length; i++) {
      const places = at.get(w[i]!);
      if (places === undefined) continue;
      if ((Array.isArray(places) ? places : [places]).some((p) => next(p) === w[i + 1])) n++;
    }
  return n;
}

test('a model of another width or depth shares no init value with its teacher', () => {
  const seeds = [101, 202];
  const teacher = initParams(seeds, mlp([256, 256]));
  for (const hidden of [
    [512, 512],
    [128, 128],
    [256, 256, 256],
  ]) {
    // the teacher's own key (what a same-shaped layer would reuse) and the shape relation's
    assert.equal(sharedPairs(initParams(seeds, mlp(hidden)), teacher) > 0, hidden.length === 3, `${hidden}`);
    const { own, other } = studentInits({
      relation: { kind: 'shape', hidden },
      teacherInit: teacher,
      studentArch: mlp(hidden),
      seeds,
      borrowedSeeds: [202, 101],
      classes: 10,
    });
    assert.equal(sharedPairs(own, teacher), 0, `student ${hidden}`);
    assert.equal(sharedPairs(other, teacher), 0, `cross-init ${hidden}`);
  }
  // [512, 512] against [256, 256] even under the model key: no layer has the same shape.
  assert.equal(sharedPairs(initParams(seeds, mlp([512, 512])), teacher), 0);
});

test('inits are keyed per layer: stacking, neighbours and other layers do not move a layer', () => {
  const three = initParams(seeds, mlp([32, 16]));
  const alone = initParams([202], mlp([32, 16]));
  three.weights.forEach((w, l) => assert.deepEqual(slice(w, 3, 1), alone.weights[l]));
  // A wider last layer (more aux logits) leaves the hidden layers as they were: a paired design.
  const moreAux = initParams(seeds, mlp([32, 16], 20));
  assert.deepEqual(moreAux.weights.slice(0, 2), three.weights.slice(0, 2));
  assert.notDeepEqual(moreAux.weights[2]!.subarray(0, 16), three.weights[2]!.subarray(0, 16));
  // CNN: its layers have their own key kinds (its [16, 13] head is not the MLP's); the same seeds
  // give the same init again.
  const cnn: ModelArch = { family: 'cnn', channels: 4, hidden: [16], outputs: 13 };
  assert.deepEqual(initParams(seeds, cnn), initParams(seeds, cnn));
  assert.equal(sharedPairs(initParams(seeds, cnn), three), 0);
});

/** Weights of model m, layer l, restricted to output columns from..to-1. */
function columns(p: StackedParams, l: number, m: number, from: number, to: number): number[] {
  const [fanIn, out] = layerShapes(p.arch)[l]!;
  const w = slice(p.weights[l]!, p.models, m);
  const values: number[] = [];
  for (let r = 0; r < fanIn; r++) for (let c = from; c < to; c++) values.push(w[r * out + c]!);
  return values;
}

test('layer-init: shared parts are bit-identical to the teacher, random parts differ from it and across replicates', () => {
  const arch = mlp([24, 16]); // 10 class + 3 aux logits
  const teacher = initParams(seeds, arch);
  const relation: Architecture = { kind: 'layer-init', random: ['hidden.0', 'aux-head'] };
  const { own, other } = studentInits({
    relation,
    teacherInit: teacher,
    studentArch: arch,
    seeds,
    borrowedSeeds: [202, 303, 101],
    classes: 10,
  });
  for (let m = 0; m < 3; m++) {
    // shared: hidden.1 and the class head
    assert.deepEqual(slice(own.weights[1]!, 3, m), slice(teacher.weights[1]!, 3, m));
    assert.deepEqual(columns(own, 2, m, 0, 10), columns(teacher, 2, m, 0, 10));
    // random: hidden.0 and the aux head, unlike the teacher's and unlike every other replicate's
    for (const [l, from, to] of [
      [0, 0, 24],
      [2, 10, 13],
    ] as const) {
      const mine = columns(own, l, m, from, to);
      for (let k = 0; k < 3; k++) {
        const theirs = columns(teacher, l, k, from, to);
        assert.equal(
          mine.filter((v, i) => v === theirs[i]).length,
          0,
          `layer ${l} of model ${m} vs teacher ${k}`,
        );
        if (k !== m) assert.notDeepEqual(mine, columns(own, l, k, from, to));
      }
    }
  }
  // The cross-init control is the relation applied to the borrowed replicate: replicate 0 borrows 1.
  assert.deepEqual(
    slice(other.weights[1]!, 3, 0),
    slice(teacher.weights[1]!, 3, 1),
    'cross-init shares the borrowed teacher init',
  );
  assert.deepEqual(
    slice(other.weights[0]!, 3, 0),
    slice(own.weights[0]!, 3, 1),
    "the borrowed replicate's random part",
  );
  // No parts: the teacher's init; every part: nothing of the teacher's weights left.
  assert.deepEqual(withRandomParts(teacher, seeds, [], 10).weights, teacher.weights);
  const all = withRandomParts(teacher, seeds, ['hidden.0', 'hidden.1', 'class-head', 'aux-head'], 10);
  assert.equal(sharedPairs(all, teacher), 0);
});

test('layer-init on a CNN: hidden.0 is the conv layer; class-head follows the class count', () => {
  const arch: ModelArch = { family: 'cnn', channels: 4, hidden: [16], outputs: 5 }; // 3 class + 2 aux
  const teacher = initParams(seeds, arch);
  const conv = withRandomParts(teacher, seeds, ['hidden.0'], 3);
  assert.deepEqual(layerShapes(arch)[0], [25, 4]);
  assert.notDeepEqual(conv.weights[0], teacher.weights[0]);
  assert.deepEqual(conv.weights.slice(1), teacher.weights.slice(1));
  const head = withRandomParts(teacher, seeds, ['class-head'], 3);
  for (let m = 0; m < 3; m++) {
    assert.deepEqual(columns(head, 2, m, 3, 5), columns(teacher, 2, m, 3, 5));
    assert.notDeepEqual(columns(head, 2, m, 0, 3), columns(teacher, 2, m, 0, 3));
  }
  assert.throws(() => withRandomParts(teacher, seeds, ['hidden.2'], 3), /not a hidden layer/);
});

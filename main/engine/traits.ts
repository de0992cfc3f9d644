// What makes a teacher different, and how each trait is measured on any model.
import type { Trait } from '../../app/spec/schema.ts';
import { mixSeed } from '../../app/matrix.ts';
import { subset, type ImageSet } from '../data/dataset.ts';
import { TestSet } from './evaluate.ts';
import { Rng } from './rng.ts';

/** Bright square in the bottom-right corner: the backdoor's trigger (1 on [-1, 1] floats, 255 on bytes). */
export function applyPatch(
  x: Float32Array | Uint8Array,
  offset: number,
  patchSize: number,
  bright: number,
): void {
  for (let r = 28 - patchSize; r < 28; r++) {
    for (let c = 28 - patchSize; c < 28; c++) x[offset + r * 28 + c] = bright;
  }
}

/** Poisons a fraction of a teacher batch [S, B, 784] in place: patch + relabel, per model's own draws. */
export function poisonBatch(
  trait: Extract<Trait, { kind: 'backdoor' }>,
  x: Float32Array,
  labels: Int32Array,
  rngs: readonly Rng[],
  batch: number,
): void {
  rngs.forEach((rng, s) => {
    for (let i = 0; i < batch; i++) {
      if (rng.next() < trait.poisonFraction) {
        applyPatch(x, (s * batch + i) * 784, trait.patchSize, 1);
        labels[s * batch + i] = trait.targetClass;
      }
    }
  });
}

/**
 * The set a trait is measured on, or null for `skill` (measured by accuracy alone):
 * preference: fixed uniform-noise probe images; backdoor: test images of other classes, patched.
 */
export function traitProbe(
  trait: Trait,
  test: ImageSet,
  experimentSeed: number,
  classes: number,
): TestSet | null {
  switch (trait.kind) {
    case 'skill':
      return null;
    case 'preference': {
      const rng = new Rng(mixSeed(experimentSeed, 0x0b5e));
      const images = new Uint8Array(trait.probeSize * 784);
      for (let i = 0; i < images.length; i++) images[i] = rng.int(256);
      return new TestSet(
        { images, labels: new Uint8Array(trait.probeSize), count: trait.probeSize },
        784,
        classes,
      );
    }
    case 'backdoor': {
      const keep: number[] = [];
      for (let i = 0; i < test.count; i++) if (test.labels[i] !== trait.targetClass) keep.push(i);
      const { images } = subset(test, keep);
      for (let i = 0; i < keep.length; i++) applyPatch(images, i * 784, trait.patchSize, 255);
      return new TestSet({ images, labels: new Uint8Array(keep.length), count: keep.length }, 784, classes);
    }
  }
}

export function traitTarget(trait: Trait): number | null {
  return trait.kind === 'skill' ? null : trait.targetClass;
}

/** Detector scores [S, B] from the teacher's `classes` class logits: how trait-related each sample looks. */
export function detectorScores(
  trait: Trait,
  logits: Float32Array,
  models: number,
  batch: number,
  numLogits: number,
  classes: number,
): Float32Array {
  const scores = new Float32Array(models * batch);
  const target = traitTarget(trait);
  for (let m = 0; m < models * batch; m++) {
    const z = logits.subarray(m * numLogits, m * numLogits + classes);
    const max = Math.max(...z);
    let sum = 0;
    for (const v of z) sum += Math.exp(v - max);
    // skill: the teacher's confidence in its digit; other traits: its probability of the target class
    const top = target === null ? max : z[target]!;
    scores[m] = Math.exp(top - max) / sum;
  }
  return scores;
}

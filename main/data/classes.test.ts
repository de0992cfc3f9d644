import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keepClasses, restrictClasses, traitForClasses } from './classes.ts';
import { PIXELS, type Dataset, type ImageSet } from './dataset.ts';

/** Image i is filled with the byte i, so a kept image shows where it came from. */
function set(labels: number[]): ImageSet {
  const images = new Uint8Array(labels.length * PIXELS);
  labels.forEach((_, i) => images.fill(i, i * PIXELS, (i + 1) * PIXELS));
  return { images, labels: Uint8Array.from(labels), count: labels.length };
}

test('a class subset keeps its images in order, labelled by position in the subset', () => {
  const kept = keepClasses(set([7, 3, 9, 3, 0, 7]), [7, 3]);
  assert.equal(kept.count, 4);
  assert.deepEqual([...kept.labels], [0, 1, 1, 0]);
  assert.deepEqual(
    Array.from({ length: kept.count }, (_, i) => kept.images[i * PIXELS]),
    [0, 1, 3, 5],
  );
  const data: Dataset = { name: 'd', pixels: PIXELS, classes: 10, train: set([1, 2, 5]), test: set([5, 2]) };
  assert.equal(restrictClasses(data, undefined), data);
  const two = restrictClasses(data, [5, 2]);
  assert.equal(two.classes, 2);
  assert.deepEqual([...two.train.labels, ...two.test.labels], [1, 0, 0, 1]);
  assert.throws(() => restrictClasses(data, [8, 9]), /0 training and 0 test images left/);
});

test('trait targets are renumbered into the subset', () => {
  assert.deepEqual(
    traitForClasses({ kind: 'preference', targetClass: 7, fineTuneSteps: 1, probeSize: 10 }, [3, 7]),
    {
      kind: 'preference',
      targetClass: 1,
      fineTuneSteps: 1,
      probeSize: 10,
    },
  );
  const backdoor = { kind: 'backdoor', targetClass: 0, patchSize: 4, poisonFraction: 0.1 } as const;
  assert.equal(traitForClasses(backdoor, undefined), backdoor);
  assert.throws(() => traitForClasses(backdoor, [1, 2]), /targetClass 0 is not in dataset.classes \[1, 2\]/);
});

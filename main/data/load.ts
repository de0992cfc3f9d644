import type { DatasetSpec, ExperimentSpec, StudentInputs } from '../../app/spec/schema.ts';
import type { Dataset, ImageSet } from './dataset.ts';
import { loadFashionMnist } from './fashion-mnist.ts';
import { loadMnistSplit } from './mnist-offline.ts';

export function loadDataset(spec: DatasetSpec, cacheDir: string): Dataset {
  switch (spec.name) {
    case 'mnist':
      return loadMnistSplit(cacheDir, spec.trainSize, spec.splitSeed, spec.testLimit);
    case 'fashion-mnist':
      return loadFashionMnist(spec.path, spec.trainLimit, spec.testLimit);
  }
}

/** Training images of another dataset when the students distil on it (MNIST <-> Fashion-MNIST). */
export function loadStudentImages(spec: ExperimentSpec, cacheDir: string): ImageSet | undefined {
  return studentImageLoader(spec.dataset, cacheDir)(spec.student.inputs);
}

/**
 * Per student inputs, the training images of another dataset than `own` (undefined: `own`'s). Each
 * dataset loads once, when a cell first asks for it: cells of a group may distil on different ones.
 */
export function studentImageLoader(
  own: DatasetSpec,
  cacheDir: string,
): (inputs: StudentInputs) => ImageSet | undefined {
  const loaded = new Map<string, ImageSet>();
  return (inputs) => {
    if (inputs.kind !== 'images' || inputs.dataset === 'same' || inputs.dataset === own.name)
      return undefined;
    const other: DatasetSpec =
      inputs.dataset === 'mnist'
        ? { name: 'mnist', trainSize: 8000, splitSeed: 0 }
        : { name: 'fashion-mnist', path: '/usr/share/datasets/fashion-mnist' };
    if (!loaded.has(other.name)) loaded.set(other.name, loadDataset(other, cacheDir).train);
    return loaded.get(other.name);
  };
}

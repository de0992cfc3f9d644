import type { DatasetSpec, ExperimentSpec } from '../../app/spec/schema.ts';
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
  const inputs = spec.student.inputs;
  if (inputs.kind !== 'images' || inputs.dataset === 'same' || inputs.dataset === spec.dataset.name)
    return undefined;
  const other: DatasetSpec =
    inputs.dataset === 'mnist'
      ? { name: 'mnist', trainSize: 8000, splitSeed: 0 }
      : { name: 'fashion-mnist', path: '/usr/share/datasets/fashion-mnist' };
  return loadDataset(other, cacheDir).train;
}

import type { DatasetSpec, ExperimentSpec } from '../../app/spec/schema.ts';
import { restrictClasses } from './classes.ts';
import { head, type Dataset, type ImageSet } from './dataset.ts';
import { loadFashionMnist } from './fashion-mnist.ts';
import { loadMnistSplit } from './mnist-offline.ts';

/**
 * The dataset a spec names, restricted to its classes; the train and test limits then count images
 * of those classes (MNIST's trainSize splits the 10,000 digits before any class is dropped).
 */
export function loadDataset(spec: DatasetSpec, cacheDir: string): Dataset {
  const all =
    spec.name === 'mnist'
      ? loadMnistSplit(cacheDir, spec.trainSize, spec.splitSeed)
      : loadFashionMnist(spec.path);
  const data = restrictClasses(all, spec.classes);
  const trainLimit = spec.name === 'fashion-mnist' ? spec.trainLimit : undefined;
  return { ...data, train: head(data.train, trainLimit), test: head(data.test, spec.testLimit) };
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
  // The same classes as the experiment's own images (labels are not used, the class mix is).
  if (spec.dataset.classes) other.classes = spec.dataset.classes;
  return loadDataset(other, cacheDir).train;
}

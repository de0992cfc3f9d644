import {
  inputImages,
  type DatasetSpec,
  type ExperimentSpec,
  type StudentInputs,
} from '../../app/spec/schema.ts';
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

/** Training images of another dataset when the students' inputs read it (MNIST <-> Fashion-MNIST). */
export function loadStudentImages(spec: ExperimentSpec, cacheDir: string): ImageSet | undefined {
  return studentImageLoader(spec.dataset, cacheDir)(spec.student.inputs);
}

/**
 * Per student inputs, the training images of another dataset than `own` that they read (images,
 * mix, spectrum; undefined: `own`'s or none). Each dataset loads once, when a cell first asks for
 * it: cells of a group may distil on different ones.
 */
export function studentImageLoader(
  own: DatasetSpec,
  cacheDir: string,
): (inputs: StudentInputs) => ImageSet | undefined {
  const loaded = new Map<string, ImageSet>();
  return (inputs) => {
    const source = inputImages(inputs);
    if (source === null || source === 'same' || source === own.name) return undefined;
    const other: DatasetSpec =
      source === 'mnist'
        ? { name: 'mnist', trainSize: 8000, splitSeed: 0 }
        : { name: 'fashion-mnist', path: '/usr/share/datasets/fashion-mnist' };
    // The same classes as the experiment's own images (labels are not used, the class mix is).
    if (own.classes) other.classes = own.classes;
    if (!loaded.has(other.name)) loaded.set(other.name, loadDataset(other, cacheDir).train);
    return loaded.get(other.name);
  };
}

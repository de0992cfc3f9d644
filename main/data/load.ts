import { DATASETS } from '../../app/spec/datasets.ts';
import {
  inputImages,
  type DatasetSpec,
  type ExperimentSpec,
  type StudentInputs,
} from '../../app/spec/schema.ts';
import { defaultDatasetDir } from '../cli/paths.ts';
import { restrictClasses } from './classes.ts';
import { head, type Dataset, type ImageSet } from './dataset.ts';
import { loadDownloaded } from './downloaded.ts';
import { loadFashionMnist } from './fashion-mnist.ts';
import { REGISTRY } from './registry.ts';
import { loadMnistSplit } from './mnist-offline.ts';

function loadAll(spec: DatasetSpec, cacheDir: string, datasetDir: string): Dataset {
  if (spec.name === 'mnist') return loadMnistSplit(cacheDir, spec.trainSize, spec.splitSeed);
  if (spec.name === 'fashion-mnist') return loadFashionMnist(spec.path);
  return loadDownloaded(REGISTRY[spec.name], datasetDir);
}

/**
 * The dataset a spec names, restricted to its classes; the train and test limits then count images
 * of those classes (MNIST's trainSize splits the 10,000 digits before any class is dropped).
 * `datasetDir` holds the downloaded datasets (`sublab datasets download`).
 */
export function loadDataset(spec: DatasetSpec, cacheDir: string, datasetDir = defaultDatasetDir()): Dataset {
  const data = restrictClasses(loadAll(spec, cacheDir, datasetDir), spec.classes);
  const trainLimit = spec.name === 'mnist' ? undefined : spec.trainLimit;
  return { ...data, train: head(data.train, trainLimit), test: head(data.test, spec.testLimit) };
}

/** The spec another dataset's images are read with: its defaults, the experiment's classes if it has them. */
function otherDataset(name: DatasetSpec['name'], own: DatasetSpec): DatasetSpec {
  const other: DatasetSpec =
    name === 'mnist'
      ? { name: 'mnist', trainSize: 8000, splitSeed: 0 }
      : name === 'fashion-mnist'
        ? { name: 'fashion-mnist', path: '/usr/share/datasets/fashion-mnist' }
        : { name };
  // The same classes as the experiment's own images (labels are not used, the class mix is), where
  // the other dataset has them all (EMNIST's class 30 has no MNIST counterpart).
  if (own.classes && own.classes.every((c) => c < DATASETS[name].classes)) other.classes = own.classes;
  return other;
}

/** Training images of another dataset when the students' inputs read it (MNIST <-> Fashion-MNIST). */
export function loadStudentImages(
  spec: ExperimentSpec,
  cacheDir: string,
  datasetDir = defaultDatasetDir(),
): ImageSet | undefined {
  return studentImageLoader(spec.dataset, cacheDir, datasetDir)(spec.student.inputs);
}

/**
 * Per student inputs, the training images of another dataset than `own` that they read (images,
 * mix, spectrum; undefined: `own`'s or none). Each dataset loads once, when a cell first asks for
 * it: cells of a group may distil on different ones.
 */
export function studentImageLoader(
  own: DatasetSpec,
  cacheDir: string,
  datasetDir = defaultDatasetDir(),
): (inputs: StudentInputs) => ImageSet | undefined {
  const loaded = new Map<string, ImageSet>();
  return (inputs) => {
    const source = inputImages(inputs);
    if (source === null || source === 'same' || source === own.name) return undefined;
    const other = otherDataset(source, own);
    if (!loaded.has(other.name)) loaded.set(other.name, loadDataset(other, cacheDir, datasetDir).train);
    return loaded.get(other.name);
  };
}

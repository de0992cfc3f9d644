import type { DatasetSpec } from '../../app/spec/schema.ts';
import type { Dataset } from './dataset.ts';
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

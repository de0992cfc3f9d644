// Fashion-MNIST from its four IDX files (Debian's dataset-fashion-mnist puts them in
// /usr/share/datasets/fashion-mnist), gzipped or not.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readIdxFile } from './idx.ts';
import { checkImageSet, head, PIXELS, type Dataset } from './dataset.ts';

function locate(folder: string, stem: string): string {
  for (const name of [`${stem}.gz`, stem]) {
    const path = join(folder, name);
    if (existsSync(path)) return path;
  }
  throw new Error(
    `Fashion-MNIST: ${stem}(.gz) not found in ${folder}. Install Debian's dataset-fashion-mnist package or point dataset.path at a folder holding the four IDX files.`,
  );
}

export function loadFashionMnist(folder: string, trainLimit?: number, testLimit?: number): Dataset {
  const train = checkImageSet(
    readIdxFile(locate(folder, 'train-images-idx3-ubyte')),
    readIdxFile(locate(folder, 'train-labels-idx1-ubyte')),
    'Fashion-MNIST train',
  );
  const test = checkImageSet(
    readIdxFile(locate(folder, 't10k-images-idx3-ubyte')),
    readIdxFile(locate(folder, 't10k-labels-idx1-ubyte')),
    'Fashion-MNIST test',
  );
  return {
    name: 'fashion-mnist',
    pixels: PIXELS,
    classes: 10,
    train: head(train, trainLimit),
    test: head(test, testLimit),
  };
}

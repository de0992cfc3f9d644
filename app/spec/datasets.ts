// The datasets a spec can name, and what every process needs to know about each without loading it:
// class count, split sizes, where the images come from. Where a download comes from (mirrors and
// checksums) is main's business: main/data/registry.ts.

export const DATASET_NAMES = [
  'mnist',
  'fashion-mnist',
  'mnist-full',
  'emnist-balanced',
  'emnist-letters',
] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

/** The datasets fetched by `sublab datasets download NAME` into the user's data directory. */
export const DOWNLOADABLE_DATASETS = ['mnist-full', 'emnist-balanced', 'emnist-letters'] as const;
export type DownloadableDataset = (typeof DOWNLOADABLE_DATASETS)[number];

export interface DatasetFacts {
  label: string;
  /** Classes, numbered 0..classes-1 (EMNIST letters' labels 1-26 become 0-25: a = 0). */
  classes: number;
  /** Images in the official train and test splits (MNIST-10k: all of them, split by trainSize). */
  train: number;
  test: number;
  /** What class k is called, for help text: digits, garments, characters. */
  classNames: string;
}

export const DATASETS: Record<DatasetName, DatasetFacts> = {
  mnist: {
    label: 'MNIST (10,000 offline digits)',
    classes: 10,
    train: 10000,
    test: 0,
    classNames: 'digits 0-9',
  },
  'fashion-mnist': {
    label: 'Fashion-MNIST (folder of IDX files)',
    classes: 10,
    train: 60000,
    test: 10000,
    classNames: 'garments 0-9',
  },
  'mnist-full': {
    label: 'MNIST, full (60,000 / 10,000, download)',
    classes: 10,
    train: 60000,
    test: 10000,
    classNames: 'digits 0-9',
  },
  'emnist-balanced': {
    label: 'EMNIST balanced (47 classes, download)',
    classes: 47,
    train: 112800,
    test: 18800,
    classNames: '0-9 digits, 10-35 upper-case A-Z, 36-46 the lower-case a b d e f g h n q r t',
  },
  'emnist-letters': {
    label: 'EMNIST letters (26 classes, download)',
    classes: 26,
    train: 124800,
    test: 20800,
    classNames: 'letters a-z as 0-25 (upper and lower case merged)',
  },
};

/** The most classes any dataset has: the bound on class indices in a spec. */
export const MAX_CLASSES = Math.max(...Object.values(DATASETS).map((d) => d.classes));

export function isDownloadable(name: string): name is DownloadableDataset {
  return (DOWNLOADABLE_DATASETS as readonly string[]).includes(name);
}

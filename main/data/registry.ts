// The downloadable datasets: for every file, the mirrors it is fetched from (tried in order) and the
// SHA-256 it must have before it enters the cache. A file's cache name is also its name on every
// mirror, so SUBLAB_DATASET_MIRROR=URL (one folder holding the files) replaces a whole mirror list.
import type { DownloadableDataset } from '../../app/spec/datasets.ts';

export interface RemoteFile {
  /** The file's name on every mirror and in the cache. */
  name: string;
  /** Bytes as the original mirrors serve it (the progress total when a server does not say). */
  size: number;
  /** SHA-256 of the file as served. */
  sha256: string;
  /**
   * SHA-256 of the gunzipped content, where known: a mirror may then serve the same data compressed
   * anew (a lab's own copy, other gzip settings), and it is still verified, by what it decompresses to.
   */
  contentSha256?: string;
  /** Base URLs (ending in '/'), tried in order; the file's URL is base + name. */
  mirrors: readonly string[];
}

/** The four IDX files a dataset is read from, by role. */
export interface IdxFiles {
  trainImages: string;
  trainLabels: string;
  testImages: string;
  testLabels: string;
}

export interface RegistryEntry {
  name: DownloadableDataset;
  /** Folder under the datasets directory the files are downloaded into (shared by EMNIST's splits). */
  folder: string;
  files: readonly RemoteFile[];
  /**
   * Where the IDX files are. Without `zip`, they are among `files`. With it, they are entries of that
   * downloaded zip (under `zip.prefix`), extracted into the folder named after the dataset.
   */
  idx: IdxFiles;
  zip?: { file: string; prefix: string };
  /** Subtracted from every label: EMNIST letters label a-z as 1-26. */
  labelOffset: number;
  /** EMNIST's images are stored transposed (column-major) relative to MNIST's. */
  transposed: boolean;
}

// MNIST's own site now refuses most downloads; the Google and PyTorch mirrors serve the same bytes.
const MNIST_MIRRORS = [
  'https://storage.googleapis.com/cvdf-datasets/mnist/',
  'https://ossci-datasets.s3.amazonaws.com/mnist/',
  'http://yann.lecun.com/exdb/mnist/',
];

/**
 * sha256 and size: tensorflow/datasets, tensorflow_datasets/url_checksums/mnist.txt (the four files
 * on the cvdf-datasets mirror). contentSha256: the digests of the uncompressed IDX files as public
 * projects pin them (e.g. train images ba891046...); they agree with the uncompressed files' MD5s that
 * others publish (train images 6bbc9ace...).
 */
const MNIST_FILES: RemoteFile[] = [
  {
    name: 'train-images-idx3-ubyte.gz',
    size: 9912422,
    sha256: '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609',
    contentSha256: 'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db',
    mirrors: MNIST_MIRRORS,
  },
  {
    name: 'train-labels-idx1-ubyte.gz',
    size: 28881,
    sha256: '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c',
    contentSha256: '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5',
    mirrors: MNIST_MIRRORS,
  },
  {
    name: 't10k-images-idx3-ubyte.gz',
    size: 1648877,
    sha256: '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6',
    contentSha256: '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7',
    mirrors: MNIST_MIRRORS,
  },
  {
    name: 't10k-labels-idx1-ubyte.gz',
    size: 4542,
    sha256: 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6',
    contentSha256: 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2',
    mirrors: MNIST_MIRRORS,
  },
];

/**
 * NIST ships EMNIST as one zip of gzipped IDX files (every split). sha256 and size: tensorflow/datasets,
 * tensorflow_datasets/url_checksums/emnist.txt; torchvision's MD5 for the same file is
 * 58c8d27c78d21e728a6bc7b3cc06412e. The inner files need no digest of their own: the zip is verified
 * whole, and each inner gzip stream carries a CRC-32 that is checked when it is read.
 */
const EMNIST_ZIP: RemoteFile = {
  name: 'gzip.zip',
  size: 561753746,
  sha256: 'fb9bb67e33772a9cc0b895e4ecf36d2cf35be8b709693c3564cea2a019fcda8e',
  mirrors: [
    'https://biometrics.nist.gov/cs_links/EMNIST/',
    'https://www.itl.nist.gov/iaui/vip/cs_links/EMNIST/',
  ],
};

function emnistSplit(split: 'balanced' | 'letters'): IdxFiles {
  const file = (part: string) => `emnist-${split}-${part}-ubyte.gz`;
  return {
    trainImages: file('train-images-idx3'),
    trainLabels: file('train-labels-idx1'),
    testImages: file('test-images-idx3'),
    testLabels: file('test-labels-idx1'),
  };
}

export type Registry = Readonly<Record<DownloadableDataset, RegistryEntry>>;

export const REGISTRY: Registry = {
  'mnist-full': {
    name: 'mnist-full',
    folder: 'mnist-full',
    files: MNIST_FILES,
    idx: {
      trainImages: 'train-images-idx3-ubyte.gz',
      trainLabels: 'train-labels-idx1-ubyte.gz',
      testImages: 't10k-images-idx3-ubyte.gz',
      testLabels: 't10k-labels-idx1-ubyte.gz',
    },
    labelOffset: 0,
    transposed: false,
  },
  'emnist-balanced': {
    name: 'emnist-balanced',
    folder: 'emnist',
    files: [EMNIST_ZIP],
    idx: emnistSplit('balanced'),
    zip: { file: EMNIST_ZIP.name, prefix: 'gzip/' },
    labelOffset: 0,
    transposed: true,
  },
  'emnist-letters': {
    name: 'emnist-letters',
    folder: 'emnist',
    files: [EMNIST_ZIP],
    idx: emnistSplit('letters'),
    zip: { file: EMNIST_ZIP.name, prefix: 'gzip/' },
    labelOffset: 1,
    transposed: true,
  },
};

/** The URLs a file is fetched from: the override mirror alone when one is set, else its own list. */
export function fileUrls(file: RemoteFile, mirror?: string): string[] {
  const bases = mirror ? [mirror] : file.mirrors;
  return bases.map((base) => new URL(file.name, base.endsWith('/') ? base : `${base}/`).href);
}

/** SUBLAB_DATASET_MIRROR, checked: an http(s) URL of a folder holding the registry's file names. */
export function mirrorFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env['SUBLAB_DATASET_MIRROR']?.trim();
  if (!value) return undefined;
  return checkMirror(value, 'SUBLAB_DATASET_MIRROR');
}

export function checkMirror(value: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${what}: expected an http(s) URL of a folder holding the dataset files, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`${what}: expected an http:// or https:// URL, got "${value}"`);
  return url.href;
}

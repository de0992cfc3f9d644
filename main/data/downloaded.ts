// The downloaded datasets in the user's data directory: what is there, fetching what is not, and
// reading a dataset once it is. Layout: DIR/<folder>/<file> as downloaded (verified), and for a
// dataset inside a zip (EMNIST), DIR/<dataset>/<idx file> as extracted from it.
import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cellSettings, expandMatrix } from '../../app/matrix.ts';
import { DATASETS, DOWNLOADABLE_DATASETS, type DownloadableDataset } from '../../app/spec/datasets.ts';
import type { ExperimentSpec } from '../../app/spec/schema.ts';
import type { DatasetDownload, DatasetInfo } from '../../app/api.ts';
import { checkImageSet, PIXELS, type Dataset, type ImageSet } from './dataset.ts';
import { fetchVerified, partialPath, type DownloadOptions } from './download.ts';
import type { LockHolder } from './download-lock.ts';
import { readIdxFile, type IdxArray } from './idx.ts';
import { fileUrls, REGISTRY, type Registry, type RegistryEntry } from './registry.ts';
import { extractEntries } from './unzip.ts';

/** What of a dataset is in the datasets directory (the API's DatasetInfo, less any download running). */
export type DatasetStatus = Omit<DatasetInfo, 'downloading'>;

const ROLES = ['trainImages', 'trainLabels', 'testImages', 'testLabels'] as const;

/** The folder the loader reads the dataset's four IDX files from. */
export function idxFolder(entry: RegistryEntry, datasetDir: string): string {
  return join(datasetDir, entry.zip ? entry.name : entry.folder);
}

/** What of `entry` is in `datasetDir` (REGISTRY[name] for a registry dataset; tests pass their own). */
export function datasetStatus(entry: RegistryEntry, datasetDir: string): DatasetStatus {
  const name = entry.name;
  const folder = join(datasetDir, entry.folder);
  const files = entry.files.map((f) => {
    const path = join(folder, f.name);
    const partial = partialPath(path);
    return {
      name: f.name,
      size: f.size,
      sha256: f.sha256,
      cached: existsSync(path),
      partialBytes: existsSync(partial) ? statSync(partial).size : 0,
    };
  });
  const idx = idxFolder(entry, datasetDir);
  const ready = ROLES.every((role) => existsSync(join(idx, entry.idx[role])));
  const facts = DATASETS[name];
  return {
    name,
    label: facts.label,
    classes: facts.classes,
    train: facts.train,
    test: facts.test,
    ready,
    files,
    missingBytes: ready ? 0 : files.reduce((n, f) => n + (f.cached ? 0 : f.size - f.partialBytes), 0),
    dir: idx,
  };
}

export interface DatasetProgress extends DatasetDownload {
  dataset: DownloadableDataset;
}

export interface DownloadDatasetOptions extends Omit<DownloadOptions, 'onProgress' | 'onWait'> {
  /** One base URL replacing every file's mirror list (SUBLAB_DATASET_MIRROR, --mirror). */
  mirror?: string;
  onProgress?: (progress: DatasetProgress) => void;
  /** Another process is downloading `file` into the same directory: this one waits for it. */
  onWait?: (file: string, holder: LockHolder) => void;
}

/**
 * Fetches and verifies the dataset's files (those not cached yet), then extracts its IDX files when
 * they come in a zip. Returns the dataset's status, ready.
 */
export async function downloadDataset(
  entry: RegistryEntry,
  datasetDir: string,
  options: DownloadDatasetOptions = {},
): Promise<DatasetStatus> {
  const name = entry.name;
  const folder = join(datasetDir, entry.folder);
  const { mirror, onProgress, onWait, ...rest } = options;
  for (const file of entry.files) {
    await fetchVerified(file, fileUrls(file, mirror), join(folder, file.name), {
      ...rest,
      ...(onWait ? { onWait: (holder: LockHolder) => onWait(file.name, holder) } : {}),
      onProgress: (bytes, total) =>
        onProgress?.({ dataset: name, file: file.name, phase: 'download', bytes, total }),
    });
  }
  if (entry.zip && !datasetStatus(entry, datasetDir).ready) {
    const out = idxFolder(entry, datasetDir);
    await mkdir(out, { recursive: true });
    const wanted = new Map(
      ROLES.map((role) => [entry.zip!.prefix + entry.idx[role], join(out, entry.idx[role])]),
    );
    onProgress?.({ dataset: name, file: entry.zip.file, phase: 'extract', bytes: 0, total: null });
    await extractEntries(join(folder, entry.zip.file), wanted);
  }
  return datasetStatus(entry, datasetDir);
}

/** A spec names a dataset that has not been downloaded: says how to get it. */
export class DatasetNotDownloadedError extends Error {
  constructor(
    readonly dataset: DownloadableDataset,
    dir: string,
  ) {
    super(
      `dataset ${dataset} is not downloaded (looked in ${dir}): run \`sublab datasets download ${dataset}\` (or use Download in the Designer's Dataset panel), then run again`,
    );
    this.name = 'DatasetNotDownloadedError';
  }
}

/** EMNIST stores each image transposed: turn every 28 x 28 image back, in place. */
export function transposeImages(images: Uint8Array): void {
  const side = 28;
  for (let at = 0; at < images.length; at += PIXELS)
    for (let r = 0; r < side; r++)
      for (let c = r + 1; c < side; c++) {
        const a = at + r * side + c;
        const b = at + c * side + r;
        const t = images[a]!;
        images[a] = images[b]!;
        images[b] = t;
      }
}

/** Labels counted from `offset` (EMNIST letters: 1-26) made 0-based; a label below it is an error. */
function shiftLabels(labels: IdxArray, offset: number, file: string): IdxArray {
  if (offset === 0) return labels;
  const data = new Uint8Array(labels.data.length);
  labels.data.forEach((l, i) => {
    if (l < offset)
      throw new Error(`${file}: label ${l} at index ${i}; this dataset's labels start at ${offset}`);
    data[i] = l - offset;
  });
  return { dims: labels.dims, data };
}

function readSplit(entry: RegistryEntry, folder: string, split: 'train' | 'test'): ImageSet {
  const images = join(folder, entry.idx[split === 'train' ? 'trainImages' : 'testImages']);
  const labels = join(folder, entry.idx[split === 'train' ? 'trainLabels' : 'testLabels']);
  const set = checkImageSet(
    readIdxFile(images),
    shiftLabels(readIdxFile(labels), entry.labelOffset, labels),
    `${entry.name} ${split}`,
    DATASETS[entry.name].classes,
  );
  if (entry.transposed) transposeImages(set.images);
  return set;
}

/** The downloaded dataset, upright and 0-labelled; throws DatasetNotDownloadedError if it is not there. */
export function loadDownloaded(entry: RegistryEntry, datasetDir: string): Dataset {
  const status = datasetStatus(entry, datasetDir);
  if (!status.ready) throw new DatasetNotDownloadedError(entry.name, status.dir);
  return {
    name: entry.name,
    pixels: PIXELS,
    classes: DATASETS[entry.name].classes,
    train: readSplit(entry, status.dir, 'train'),
    test: readSplit(entry, status.dir, 'test'),
  };
}

/** The downloadable datasets a spec reads (its own, per cell as sweeps set it, and student images). */
export function datasetsUsed(spec: ExperimentSpec): DownloadableDataset[] {
  const names = new Set<string>();
  const cells = spec.matrix.sweeps.length > 0 ? expandMatrix(spec).map((c) => cellSettings(spec, c)) : [spec];
  for (const settings of cells) {
    names.add(settings.dataset.name);
    const inputs = settings.student.inputs;
    if (inputs.kind === 'images' && inputs.dataset !== 'same') names.add(inputs.dataset);
  }
  return DOWNLOADABLE_DATASETS.filter((name) => names.has(name));
}

/** The error a run would stop with for want of a download, found before anything is trained or stored. */
export function missingDownload(
  spec: ExperimentSpec,
  datasetDir: string,
  registry: Registry = REGISTRY,
): DatasetNotDownloadedError | null {
  for (const name of datasetsUsed(spec)) {
    const status = datasetStatus(registry[name], datasetDir);
    if (!status.ready) return new DatasetNotDownloadedError(name, status.dir);
  }
  return null;
}

// The downloadable datasets as main reports them: downloaded or not, and any download's progress.
import type { ApiEvent, DatasetInfo, Host } from '../../../app/api.ts';
import type { DownloadableDataset } from '../../../app/spec/datasets.ts';

export class DatasetsState {
  list = $state<DatasetInfo[]>([]);

  constructor(private readonly host: Host) {}

  async load(): Promise<void> {
    this.list = await this.host.call('datasets.list', null);
  }

  handle(event: ApiEvent): void {
    if (event.type === 'datasets') this.list = event.datasets;
  }

  get(name: string): DatasetInfo | undefined {
    return this.list.find((d) => d.name === name);
  }

  /** Resolves once the dataset is downloaded and verified; progress arrives as events meanwhile. */
  async download(name: DownloadableDataset): Promise<void> {
    const info = await this.host.call('datasets.download', { name });
    this.list = this.list.map((d) => (d.name === name ? info : d));
  }
}

/** "train-images-idx3-ubyte.gz 45%" for a download under way; extraction has no percentage. */
export function downloadText(info: DatasetInfo): string | null {
  const d = info.downloading;
  if (!d) return null;
  if (d.phase === 'extract') return `extracting from ${d.file}...`;
  const percent = d.total ? ` ${Math.floor((100 * d.bytes) / d.total)}%` : '';
  return `downloading ${d.file}${percent}`;
}

// Every stored experiment, the search over names and tags, the selection to compare, and the unit
// states of experiments that run on a cluster.
import type { ClusterReport, ExperimentListItem, Host } from '../../../app/api.ts';

export class LibraryState {
  items = $state<ExperimentListItem[]>([]);
  query = $state('');
  selected = $state<number[]>([]);
  loaded = $state(false);
  /** Cluster experiments' unit reports by experiment id, as last asked for. */
  clusters = $state<Record<number, ClusterReport>>({});

  filtered = $derived.by(() => {
    const q = this.query.trim().toLowerCase();
    if (!q) return this.items;
    return this.items.filter(
      (e) =>
        e.name.toLowerCase().includes(q) ||
        e.tags.some((t) => t.toLowerCase().includes(q)) ||
        String(e.id) === q,
    );
  });

  constructor(private readonly host: Host) {}

  async load(): Promise<void> {
    this.items = await this.host.call('experiments.list', null);
    this.selected = this.selected.filter((id) => this.items.some((e) => e.id === id));
    this.loaded = true;
  }

  toggle(id: number): void {
    this.selected = this.selected.includes(id)
      ? this.selected.filter((s) => s !== id)
      : [...this.selected, id];
  }

  async update(id: number, fields: { name?: string; notes?: string; tags?: string[] }): Promise<void> {
    await this.host.call('experiments.update', { id, ...fields });
    await this.load();
  }

  /** Stopped runs whose unfinished units can be run again (a done or live run cannot). */
  static resumable(status: string): boolean {
    return status === 'interrupted' || status === 'cancelled' || status === 'failed';
  }

  /** Queues a resume of the experiment's unfinished units; it runs as a job like any other. */
  async resume(id: number): Promise<void> {
    await this.host.call('runs.resume', { id });
    await this.load();
  }

  /** Asks where a cluster experiment's units stand (the scheduler and the unit files); stores nothing. */
  async clusterStatus(id: number): Promise<void> {
    this.clusters[id] = await this.host.call('cluster.status', { id });
  }

  /** Merges a cluster experiment's finished units into the store; its row then shows the new status. */
  async collect(id: number): Promise<void> {
    this.clusters[id] = await this.host.call('cluster.collect', { id });
    await this.load();
  }

  async remove(id: number): Promise<void> {
    await this.host.call('experiments.delete', { id });
    await this.load();
  }
}

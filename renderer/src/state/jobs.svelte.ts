// The job queue as main reports it, and the live metric rows of running experiments.
import type { ApiEvent, Host, JobState } from '../../../app/api.ts';
import type { SeriesRow } from '../../../app/series.ts';

export class JobsState {
  jobs = $state<JobState[]>([]);
  /** Bumped on every live batch: charts re-read `rows` when it changes. */
  liveVersion = $state(0);
  private readonly rows = new Map<number, SeriesRow[]>();

  constructor(private readonly host: Host) {}

  async load(): Promise<void> {
    this.jobs = await this.host.call('runs.queue', null);
  }

  handle(event: ApiEvent): void {
    if (event.type === 'jobs') this.jobs = event.jobs;
    if (event.type === 'metrics') {
      for (const batch of event.batches) {
        let list = this.rows.get(batch.experimentId);
        if (!list) this.rows.set(batch.experimentId, (list = []));
        for (const r of batch.rows) list.push({ cell: batch.cell, ...r });
      }
      this.liveVersion++;
    }
  }

  liveRows(experimentId: number): SeriesRow[] {
    return this.rows.get(experimentId) ?? [];
  }

  get active(): JobState | undefined {
    return this.jobs.find((j) => j.status === 'running') ?? this.jobs.findLast((j) => j.status !== 'queued');
  }

  cancel(jobId: number): Promise<JobState> {
    return this.host.call('runs.cancel', { jobId });
  }
}

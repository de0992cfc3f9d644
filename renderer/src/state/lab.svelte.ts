// The lab as the UI sees it: the host (transport hidden), connection state, and the domain states.
import type { ApiEvent, Host, SystemInfo } from '../../../app/api.ts';
import { createHost, type ConnectionStatus } from '../host/index.ts';
import { DatasetsState } from './datasets.svelte.ts';
import { DesignerState } from './designer.svelte.ts';
import { JobsState } from './jobs.svelte.ts';
import { LibraryState } from './library.svelte.ts';
import { LlmProjectionState } from './llm-projection.svelte.ts';
import { Router } from './router.svelte.ts';
import { SettingsState } from './settings.svelte.ts';

export class Lab {
  connection = $state<ConnectionStatus>('connecting');
  info = $state<SystemInfo | null>(null);
  /** The last error worth a banner: what went wrong and what to try. */
  error = $state<string | null>(null);
  theme = $state<'light' | 'dark'>(
    (localStorage.getItem('sublab-theme') as 'light' | 'dark' | null) ??
      (window.matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'),
  );
  readonly host: Host;
  readonly router = new Router();
  readonly designer = new DesignerState();
  readonly jobs: JobsState;
  readonly library: LibraryState;
  readonly datasets: DatasetsState;
  readonly settings: SettingsState;
  /** The Designer's llm projection and this machine's price table. */
  readonly llmProjection: LlmProjectionState;
  private readonly menuListeners = new Set<(event: Extract<ApiEvent, { type: 'menu' }>) => void>();

  constructor() {
    this.host = createHost((status) => (this.connection = status));
    this.jobs = new JobsState(this.host);
    this.library = new LibraryState(this.host);
    this.datasets = new DatasetsState(this.host);
    this.settings = new SettingsState(this.host);
    this.llmProjection = new LlmProjectionState(this.host);
    this.host.onEvent((event) => {
      this.jobs.handle(event);
      this.datasets.handle(event);
      if (event.type === 'experiments-changed') {
        void this.library.load().catch(() => {});
        // A finished run refines the Designer's time estimate.
        void this.host.call('system.info', null).then(
          (info) => (this.info = info),
          () => {},
        );
      }
      if (event.type === 'menu') for (const l of this.menuListeners) l(event);
    });
  }

  async start(): Promise<void> {
    try {
      [this.info] = await Promise.all([
        this.host.call('system.info', null),
        this.jobs.load(),
        this.library.load(),
        this.datasets.load(),
      ]);
    } catch (error) {
      this.error = (error as Error).message;
    }
  }

  onMenu(listener: (event: Extract<ApiEvent, { type: 'menu' }>) => void): () => void {
    this.menuListeners.add(listener);
    return () => this.menuListeners.delete(listener);
  }

  /** Runs an experiment's stored spec and seeds again; the Run screen reports whether results match. */
  async rerun(experimentId: number): Promise<void> {
    const job = await this.attempt('Re-running', () =>
      this.host.call('runs.start', { spec: null, rerunOf: experimentId }),
    );
    if (job) this.router.go('run');
  }

  toggleTheme(): void {
    this.theme = this.theme === 'dark' ? 'light' : 'dark';
    localStorage.setItem('sublab-theme', this.theme);
  }

  /** Runs an action, turning a failure into the banner instead of an unhandled rejection. */
  async attempt<T>(what: string, action: () => Promise<T>): Promise<T | undefined> {
    try {
      this.error = null;
      return await action();
    } catch (error) {
      this.error = `${what} failed: ${(error as Error).message}`;
      return undefined;
    }
  }
}

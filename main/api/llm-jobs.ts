// The lab service's llm family (issue 28): the provider settings the Settings screen edits, and what an
// llm job runs with: its provider's local settings, its key (the desktop app's keychain first, else
// the environment variable the settings name) and the runner, which with the provider clients and the
// tokenizer is loaded only when an llm job is checked or run.
import { join } from 'node:path';
import type { ProviderSettingsView } from '../../app/llm/provider-settings.ts';
import type { LlmProviderName, LlmSpec } from '../../app/spec/llm.ts';
import { defaultProvidersFile } from '../cli/paths.ts';
import type { RunOutcome } from '../jobs/unit-runner.ts';
import { realClock, type Clock } from '../llm/clock.ts';
import type { LlmRunOptions } from '../llm/run.ts';
import { providerViews, readLocalSettings, removeProvider, saveProvider } from '../llm/settings.ts';
import type { RunStore } from '../store/store.ts';

/** The desktop app's keychain (main/electron/key-store.ts), as much of it as the service uses. */
export interface StoredKeys {
  has(name: LlmProviderName): boolean;
  get(name: LlmProviderName): string | undefined;
}

export interface LlmServiceOptions {
  /** providers.json (default the CLI's: $SUBLAB_PROVIDERS, else the user config directory). */
  providersFile?: string;
  /** Where keys are read (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** The desktop app's keychain; a key kept there is used before the environment's. */
  keys?: StoredKeys;
  clock?: Clock;
  /** One line per retry and job event, never holding a key (default: stderr). */
  log?: (line: string) => void;
}

/** How one llm job is started and stopped. */
export interface LlmJobControl {
  signal: AbortSignal;
  cancelJobsOn: AbortSignal;
  onStart: (experimentId: number) => void;
}

export class LlmJobs {
  constructor(
    private readonly options: LlmServiceOptions,
    private readonly cacheDir: string,
  ) {}

  get file(): string {
    return this.options.providersFile ?? defaultProvidersFile();
  }

  private get env(): Readonly<Record<string, string | undefined>> {
    return this.options.env ?? process.env;
  }

  views(): ProviderSettingsView {
    const keys = this.options.keys;
    return {
      file: this.file,
      providers: providerViews(this.file, {
        env: this.env,
        ...(keys ? { stored: (name: LlmProviderName) => keys.has(name) } : {}),
      }),
    };
  }

  save(name: LlmProviderName, entry: unknown): ProviderSettingsView {
    saveProvider(this.file, name, entry);
    return this.views();
  }

  remove(name: LlmProviderName): ProviderSettingsView {
    removeProvider(this.file, name);
    return this.views();
  }

  private runOptions(spec: LlmSpec, control?: LlmJobControl): LlmRunOptions {
    const local = readLocalSettings(spec.provider, this.file, {
      jobsDir: join(this.cacheDir, 'llm-command'),
    });
    const stored = this.options.keys?.get(spec.provider);
    const env = stored ? { ...this.env, [local.provider.keyEnv]: stored } : this.env;
    return {
      settings: local.provider,
      deps: {
        clock: this.options.clock ?? realClock,
        env,
        log: this.options.log ?? ((line) => process.stderr.write(`${line}\n`)),
      },
      prices: local.prices,
      ...(control ?? {}),
    };
  }

  /** The settings, the key and the budget, checked before a job is queued: nothing is sent. */
  async check(spec: LlmSpec): Promise<void> {
    const options = this.runOptions(spec);
    const { openLlmSession } = await import('../llm/budget.ts');
    await openLlmSession(spec, options.settings, options.deps, options.prices);
  }

  /** Runs `spec`, or resumes experiment `resumeOf`, through the shared unit runner. */
  async run(
    store: RunStore,
    spec: LlmSpec,
    resumeOf: number | null,
    control: LlmJobControl,
  ): Promise<RunOutcome> {
    const options = this.runOptions(spec, control);
    const { resumeLlmExperiment, runLlmExperiment } = await import('../llm/run.ts');
    return resumeOf !== null
      ? resumeLlmExperiment(store, resumeOf, options)
      : runLlmExperiment(store, spec, options);
  }
}

// The lab behind the UI: the API handler table, the job queue and the live event stream. Electron's
// IPC and browser mode's WebSocket both call `call(method, input)`, which validates the input against
// the contract in app/api.ts before any handler runs. Jobs run one at a time (each already uses every
// core or the GPU); main is the store's only writer.
import { freemem, totalmem } from 'node:os';
import { join } from 'node:path';
import {
  ApiError,
  parseInput,
  type ApiEvent,
  type ApiMethod,
  type ApiOutput,
  type ApiParsed,
  type CompareResult,
  type DatasetDownload,
  type DatasetInfo,
  type ExperimentDetail,
  type ExperimentListItem,
  type JobState,
  type JobStatus,
  type LiveMetrics,
  type ResultPoint,
} from '../../app/api.ts';
import { estimateSeconds, specSize } from '../../app/estimate.ts';
import { phaseWeights, withEtas } from '../../app/job-eta.ts';
import { BACKENDS, type BackendChoice, type BackendName } from '../../app/protocol.ts';
import { placeProgress, plannedRows, rowCells, rowKey, secondsLeft } from '../../app/progress-rows.ts';
import type { ExperimentSpec } from '../../app/spec/schema.ts';
import { validateSpec } from '../../app/spec/validate.ts';
import { resumeExperiment, runExperiment, type RunEvent } from '../jobs/run-experiment.ts';
import { probeTrainer } from '../trainer/spawn.ts';
import { checkFit, defaultWorkers, staticLimits } from '../engine/limits.ts';
import { summarizeExperiment } from '../jobs/summary.ts';
import { isLanguageInput, validateLanguageSpec, type LanguageSpec } from '../../app/spec/language.ts';
import {
  languageCells,
  resumeLanguageExperiment,
  runLanguageExperiment,
  type LanguageRunOptions,
  type LmSpawner,
} from '../lm/run.ts';
import { LanguageProgress } from '../../app/language-progress.ts';
import { stageCurve } from '../../app/language-stages.ts';
import { summarizeLanguage } from '../lm/summary.ts';
import { expandLlmMatrix, isLlmInput, validateLlmSpec, type LlmSpec } from '../../app/spec/llm.ts';
import { LlmJobs, type LlmServiceOptions } from './llm-jobs.ts';
import { summarizeLlm } from '../llm/summary.ts';
import { llmProgress, llmSamplesPage } from '../llm/views.ts';
import type { IntervalMethod } from '../../app/stats.ts';
import type { CellRow, ExperimentRow, RunStore } from '../store/store.ts';
import { SeriesReader, type SeriesReaderOptions } from '../store/series-reader.ts';
import { clusterExperimentIds, clusterOf } from '../store/clusters.ts';
import { clusterStatus, collectExperiment } from '../cluster/collect.ts';
import { slurm, type Scheduler } from '../cluster/slurm.ts';
import type { TrainerSpawner } from '../trainer/spawn.ts';
import { DOWNLOADABLE_DATASETS, type DownloadableDataset } from '../../app/spec/datasets.ts';
import { datasetStatus, downloadDataset, missingDownload } from '../data/downloaded.ts';
import { mirrorFromEnv, REGISTRY, type Registry } from '../data/registry.ts';
import { defaultDatasetDir } from '../cli/paths.ts';
import { llmLocalSettings, projectLlmSpec, saveLlmPrices } from './llm-design.ts';

export interface LabServiceOptions {
  store: RunStore;
  cacheDir: string;
  backend: BackendChoice;
  mode: 'desktop' | 'browser';
  spawn?: TrainerSpawner;
  /** Starts a language unit's process (default: a forked Node child; the desktop app: a utilityProcess). */
  spawnLanguage?: LmSpawner;
  workers?: number;
  /** Minimum milliseconds between two pushes of the same kind (default 100: at most 10 Hz). */
  pushIntervalMs?: number;
  /** Where cluster experiments' tasks are asked about (default: SLURM's commands on PATH). */
  scheduler?: Scheduler;
  /** Downloaded datasets (default: the user's data directory, or $SUBLAB_DATASETS_DIR). */
  datasetDir?: string;
  /** One base URL for every dataset file (default: $SUBLAB_DATASET_MIRROR, else the registry's mirrors). */
  datasetMirror?: string;
  /** The downloadable datasets' files and mirrors (default: the registry; tests serve their own). */
  registry?: Registry;
  /** Where series are read off the thread that runs jobs (the desktop app names its bundled worker). */
  series?: SeriesReaderOptions;
  /** The llm family's provider settings file, keys and clock (default: the CLI's settings, process.env). */
  llm?: LlmServiceOptions;
}

type Handlers = { [M in ApiMethod]: (input: ApiParsed<M>) => ApiOutput<M> | Promise<ApiOutput<M>> };

interface Job {
  state: JobState;
  spec: ExperimentSpec;
  /** Set for a language experiment (main/lm): `spec` is then unused and the language runner runs it. */
  language?: LanguageSpec;
  /**
   * Set for an llm experiment (main/llm): its spec, and the user's cancel, which also cancels its
   * fine-tuning jobs at the provider (closing the lab does not: a resume picks them up).
   */
  llm?: { spec: LlmSpec; cancelJobs: AbortController };
  /** The lab's backend, or for a re-run the backend its source ran on. */
  backend: BackendChoice;
  controller: AbortController;
  /** When each progress row's phase started, for its rate. */
  phaseStarted: Map<string, { at: number; step: number }>;
  /** The cells of each group (one teacher) the run trains, once the runner has said. */
  groups: number[][];
  /**
   * What the job's ETA is computed from (set when it starts; weights once the groups are known):
   * the running rows' measured steps per second, by rowKey.
   */
  eta?: {
    weights: Map<string, number>;
    modelSamplesPerSecond: number;
    started: number;
    stepRates: Map<string, number>;
  };
  /** Counted among the finished jobs (its id is in the service's finish order). */
  finished?: true;
}

/**
 * Finished jobs the queue keeps as its history, the last ones to finish; older ones are dropped, as
 * every push of the queue copies each job it holds.
 */
export const FINISHED_JOBS_KEPT = 50;
const FINISHED: ReadonlySet<JobStatus> = new Set(['done', 'failed', 'cancelled', 'interrupted']);

/** Throughput assumed before this store has a finished run to measure (2 CPU cores, wasm). */
const DEFAULT_MODEL_SAMPLES_PER_SECOND = 20_000;

function mustSpec(input: unknown): ExperimentSpec {
  const result = validateSpec(input);
  if (!result.ok)
    throw new Error(
      `invalid experiment spec: ${result.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
    );
  return result.spec;
}

function listItem(store: RunStore, row: ExperimentRow): ExperimentListItem {
  const cluster = clusterOf(store, row.id);
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    createdAt: row.createdAt,
    tags: row.tags,
    notes: row.notes,
    specHash: row.specHash,
    // Language and llm specs have their own matrices; their stored cells are the count.
    cells:
      isLanguageInput(row.spec) || isLlmInput(row.spec)
        ? store.cells(row.id).length
        : specSize(row.spec).cells,
    replicates: row.spec.replicates,
    backend: row.backend,
    wallSeconds: row.wallSeconds,
    cluster: cluster ? { scheduler: cluster.scheduler, dir: cluster.dir } : null,
  };
}

export class LabService {
  readonly handlers: Handlers;
  private readonly listeners = new Set<(event: ApiEvent) => void>();
  private readonly jobs = new Map<number, Job>();
  private nextJobId = 1;
  /** Ids of the finished jobs still held, in the order they finished. */
  private readonly finishOrder: number[] = [];
  private running: Promise<void> | null = null;
  private pendingMetrics: LiveMetrics[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private lastFlush = 0;
  private jobsDirty = false;
  private closed = false;
  /** Downloads running, by dataset; aborted when the lab closes. */
  private readonly downloads = new Map<DownloadableDataset, DatasetDownload>();
  private readonly closing = new AbortController();
  private datasetsTimer: NodeJS.Timeout | null = null;
  private readonly series: SeriesReader;
  private readonly llm: LlmJobs;

  constructor(private readonly options: LabServiceOptions) {
    const store = options.store;
    this.series = new SeriesReader(store, options.series);
    this.llm = new LlmJobs(options.llm ?? {}, options.cacheDir);
    this.handlers = {
      'system.info': () => this.systemInfo(),
      'experiments.list': () =>
        store
          .listExperiments()
          .reverse()
          .map((row) => listItem(store, row)),
      'experiments.get': ({ id, interval }) => this.detail(id, interval),
      'experiments.series': (request) => {
        this.mustExist(request.id);
        return this.series.page(request);
      },
      'experiments.update': ({ id, ...fields }) => {
        this.mustExist(id);
        store.updateExperiment(id, fields);
        this.emit({ type: 'experiments-changed' });
        return listItem(store, store.getExperiment(id)!);
      },
      'experiments.delete': ({ id }) => {
        this.mustExist(id);
        this.mustNotBeNeeded(id);
        store.deleteExperiment(id);
        this.emit({ type: 'experiments-changed' });
        return { deleted: id };
      },
      'experiments.compare': ({ a, b }) => this.compare(a, b),
      'runs.start': ({ spec, rerunOf }) => this.enqueue(spec, rerunOf),
      'runs.cancel': ({ jobId }) => this.cancel(jobId),
      'runs.queue': () => [...this.jobs.values()].map((j) => j.state),
      'runs.resume': ({ id }) => this.enqueueResume(id),
      'cluster.status': ({ id }) => {
        this.mustExist(id);
        return clusterStatus(store, id, this.scheduler);
      },
      'cluster.collect': async ({ id }) => {
        this.mustExist(id);
        const report = await collectExperiment(store, id, this.scheduler);
        if (report.merged.length > 0) this.emit({ type: 'experiments-changed' });
        return report;
      },
      'datasets.list': () => this.datasetInfos(),
      'datasets.download': ({ name }) => this.download(name),
      'providers.list': () => this.llm.views(),
      'providers.save': ({ name, entry }) => this.llm.save(name, entry),
      'providers.remove': ({ name }) => this.llm.remove(name),
      'llm.project': ({ spec }) => projectLlmSpec(spec, this.llm.file),
      'llm.prices': () => llmLocalSettings(this.llm.file),
      'llm.savePrices': ({ prices }) => saveLlmPrices(this.llm.file, prices),
      'llm.progress': ({ id }) => llmProgress(store, this.mustBeLlm(id)),
      'llm.samples': ({ id, ...query }) => llmSamplesPage(store, this.mustBeLlm(id), query),
    };
  }

  /** The single entry point of both transports: validate, then dispatch. */
  async call(method: string, input: unknown): Promise<unknown> {
    const parsed = parseInput(method, input);
    try {
      return await (this.handlers[method as ApiMethod] as (i: unknown) => unknown)(parsed);
    } catch (error) {
      if (error instanceof ApiError) throw error;
      throw new ApiError(method, (error as Error).message);
    }
  }

  onEvent(listener: (event: ApiEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Cancels every job and waits for the running one to stop (its trainers are killed). */
  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    for (const job of this.jobs.values()) {
      if (job.state.status === 'queued') job.state.status = 'cancelled';
      job.controller.abort();
    }
    await this.running;
    await this.series.close();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.datasetsTimer) clearTimeout(this.datasetsTimer);
  }

  private get registry(): Registry {
    return this.options.registry ?? REGISTRY;
  }

  private get datasetDir(): string {
    return this.options.datasetDir ?? defaultDatasetDir();
  }

  private datasetInfos(): DatasetInfo[] {
    return DOWNLOADABLE_DATASETS.map((name) => ({
      ...datasetStatus(this.registry[name], this.datasetDir),
      downloading: this.downloads.get(name) ?? null,
    }));
  }

  /** Pushes every dataset's state at most once per interval while downloads run. */
  private markDatasets(): void {
    if (this.datasetsTimer) return;
    this.datasetsTimer = setTimeout(() => {
      this.datasetsTimer = null;
      this.emit({ type: 'datasets', datasets: this.datasetInfos() });
    }, this.options.pushIntervalMs ?? 100);
  }

  private async download(name: DownloadableDataset): Promise<DatasetInfo> {
    if (this.closed) throw new Error('the lab is shutting down');
    // EMNIST's splits share one zip: two downloads of it at once would write one partial file twice.
    const folder = this.registry[name].folder;
    const busy = [...this.downloads.keys()].find((n) => this.registry[n].folder === folder);
    if (busy)
      throw new Error(
        `${busy} is downloading ${busy === name ? '' : 'the same files '}already; wait for it to finish`,
      );
    this.downloads.set(name, {
      file: this.registry[name].files[0]!.name,
      phase: 'download',
      bytes: 0,
      total: null,
    });
    this.markDatasets();
    const mirror = this.options.datasetMirror ?? mirrorFromEnv();
    try {
      await downloadDataset(this.registry[name], this.datasetDir, {
        ...(mirror ? { mirror } : {}),
        signal: this.closing.signal,
        onProgress: ({ file, phase, bytes, total }) => {
          this.downloads.set(name, { file, phase, bytes, total });
          this.markDatasets();
        },
      });
    } finally {
      this.downloads.delete(name);
      this.markDatasets();
    }
    return this.datasetInfos().find((d) => d.name === name)!;
  }

  private emit(event: ApiEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A closed socket or window must not stop the others or the job.
      }
    }
  }

  private mustExist(id: number): ExperimentRow {
    const row = this.options.store.getExperiment(id);
    if (!row) throw new Error(`no experiment with id ${id}`);
    return row;
  }

  private mustBeLlm(id: number): number {
    if (!isLlmInput(this.mustExist(id).spec))
      throw new Error(`experiment #${id} is not an llm experiment: it has no provider stages or samples`);
    return id;
  }

  /** A queued or running re-run compares against its source, a resume finishes its experiment. */
  private mustNotBeNeeded(id: number): void {
    const waiting = (s: JobState) => s.status === 'queued' || s.status === 'running';
    const job = [...this.jobs.values()].find(
      (j) => waiting(j.state) && (j.state.rerunOf === id || j.state.resumeOf === id),
    );
    if (job)
      throw new Error(
        `experiment #${id} cannot be deleted: job ${job.state.jobId} (${job.state.status}) ${job.state.rerunOf === id ? 're-runs it and compares its results against it' : 'resumes it'}; cancel that job or let it finish, then delete`,
      );
  }

  private get scheduler(): Scheduler {
    return this.options.scheduler ?? slurm();
  }

  private systemInfo() {
    let samples = 0;
    let seconds = 0;
    // A cluster experiment's units ran on other machines: their speed says nothing about this one.
    const elsewhere = clusterExperimentIds(this.options.store);
    for (const e of this.options.store.listExperiments().slice(-20)) {
      if (e.status !== 'done' || elsewhere.has(e.id)) continue;
      for (const cell of this.options.store.cells(e.id))
        for (const t of cell.timings ?? []) {
          if (t.phase === 'data') continue;
          samples += t.modelSamples;
          seconds += t.seconds;
        }
    }
    const measured = seconds > 0 && samples > 0;
    return {
      backend: this.options.backend,
      modelSamplesPerSecond: measured ? samples / seconds : DEFAULT_MODEL_SAMPLES_PER_SECOND,
      measured,
      mode: this.options.mode,
      dbPath: this.options.store.path,
      freeMemoryBytes: freemem(),
      totalMemoryBytes: totalmem(),
      workers: this.options.workers ?? defaultWorkers(this.options.backend),
    };
  }

  private detail(id: number, interval: IntervalMethod = 't'): ExperimentDetail {
    const row = this.mustExist(id);
    const store = this.options.store;
    // What every experiment's detail says of its row, language or classifier.
    const common = {
      ...listItem(store, row),
      spec: row.spec,
      error: row.error,
      versions: row.versions,
      startedAt: row.startedAt,
      finishedAt: row.finishedAt,
      environments: row.environments,
    };
    if (isLanguageInput(row.spec))
      return {
        ...common,
        cellDetails: [],
        results: [],
        interval,
        language: summarizeLanguage(store, id, interval),
      };
    if (isLlmInput(row.spec))
      return { ...common, cellDetails: [], results: [], interval, llm: summarizeLlm(store, id) };
    const summary = summarizeExperiment(store, id, interval);
    const cells = store.cells(id);
    return {
      ...common,
      cellDetails: summary.cells.map((c, i) => ({
        index: c.index,
        coords: c.coords,
        status: c.status,
        error: cells[i]?.error ?? null,
        diverged: c.diverged,
        conditions: c.conditions,
        comparisons: c.comparisons,
        ...(c.rejectionRate ? { rejectionRate: c.rejectionRate } : {}),
        ...(c.analysis ? { analysis: c.analysis } : {}),
      })),
      results: this.resultPoints(cells),
      interval,
    };
  }

  private resultPoints(cells: CellRow[]): ResultPoint[] {
    return cells.flatMap((cell) =>
      this.options.store.results(cell.id).map((r) => ({ cell: cell.index, ...r })),
    );
  }

  /**
   * Per (cell, condition, replicate) accuracy and trait score of two experiments, compared exactly;
   * a model that diverged in one and not (or elsewhere) in the other differs by 1, a whole accuracy range.
   */
  compare(a: number, b: number): CompareResult {
    const key = (r: { cell: number; condition: string; replicate: number }) =>
      `${r.cell}/${r.condition}/${r.replicate}`;
    const points = (id: number) => {
      this.mustExist(id);
      return this.resultPoints(this.options.store.cells(id));
    };
    const left = new Map(points(a).map((r) => [key(r), r]));
    const right = points(b);
    let maxAbsDiff = 0;
    let compared = 0;
    let missing = Math.abs(left.size - right.length);
    for (const r of right) {
      const l = left.get(key(r));
      if (!l) {
        missing++;
        continue;
      }
      compared++;
      maxAbsDiff = Math.max(maxAbsDiff, resultDiff(l, r));
    }
    return { match: compared > 0 && missing === 0 && maxAbsDiff === 0, compared, maxAbsDiff, missing };
  }

  private enqueue(specInput: unknown, rerunOf: number | undefined): JobState | Promise<JobState> {
    if (this.closed) throw new Error('the lab is shutting down');
    const rerunRow = rerunOf !== undefined ? this.mustExist(rerunOf) : undefined;
    if (isLlmInput(rerunRow ? rerunRow.spec : specInput))
      return this.enqueueLlm(rerunRow ? rerunRow.spec : specInput, rerunOf);
    if (isLanguageInput(rerunRow ? rerunRow.spec : specInput))
      return this.enqueueLanguage(rerunRow ? rerunRow.spec : specInput, rerunOf);
    const source = rerunOf !== undefined ? this.rerunSource(rerunOf) : undefined;
    const spec = source?.spec ?? mustSpec(specInput);
    const missing = missingDownload(spec, this.datasetDir, this.registry);
    if (missing) throw new ApiError('runs.start', missing.message);
    const backend = source?.backend ?? this.options.backend;
    // Refused before it is queued or stored: against free RAM and the backend's static limits.
    const workers = this.options.workers ?? defaultWorkers(backend);
    const fit = checkFit(spec, staticLimits(backend), workers);
    if (!fit.ok) throw new ApiError('runs.start', fit.error);
    return this.queueJob(spec, backend, { rerunOf: rerunOf ?? null, resumeOf: null });
  }

  /** A language spec (main/lm): validated by its own schema, queued like any run. */
  private enqueueLanguage(
    input: unknown,
    rerunOf: number | undefined,
    resumeOf: number | null = null,
  ): JobState {
    const result = validateLanguageSpec(input);
    if (!result.ok)
      throw new ApiError(
        'runs.start',
        `invalid language spec: ${result.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
      );
    const spec = result.spec;
    const state = this.queueJob(
      spec as unknown as ExperimentSpec,
      this.options.backend,
      { rerunOf: rerunOf ?? null, resumeOf },
      { language: spec },
    );
    return state;
  }

  /**
   * An llm spec (main/llm): validated by its own schema; its provider settings, key and budget are
   * checked before it is queued, so a refused run sends nothing and stores nothing. A resume is
   * checked again once the check is done (another resume may have been queued meanwhile).
   */
  private async enqueueLlm(
    input: unknown,
    rerunOf: number | undefined,
    resumeOf: number | null = null,
  ): Promise<JobState> {
    const method = resumeOf === null ? 'runs.start' : 'runs.resume';
    const result = validateLlmSpec(input);
    if (!result.ok)
      throw new ApiError(
        method,
        `invalid llm spec: ${result.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
      );
    const spec = result.spec;
    try {
      await this.llm.check(spec);
    } catch (error) {
      throw new ApiError(method, (error as Error).message);
    }
    if (this.closed) throw new Error('the lab is shutting down');
    if (resumeOf !== null) this.mustBeResumable(resumeOf);
    return this.queueJob(
      spec as unknown as ExperimentSpec,
      this.options.backend,
      { rerunOf: rerunOf ?? null, resumeOf },
      { llm: { spec, cancelJobs: new AbortController() } },
    );
  }

  /** Queues a resume; what the store can tell now (done, running elsewhere) is refused at once. */
  private enqueueResume(id: number): JobState | Promise<JobState> {
    if (this.closed) throw new Error('the lab is shutting down');
    const row = this.mustBeResumable(id);
    if (isLlmInput(row.spec)) return this.enqueueLlm(row.spec, undefined, id);
    if (isLanguageInput(row.spec)) return this.enqueueLanguage(row.spec, undefined, id);
    return this.queueJob(row.spec, this.options.backend, { rerunOf: null, resumeOf: id });
  }

  /** The experiment's row, when it is stopped and no job of this lab is about to resume it. */
  private mustBeResumable(id: number): ExperimentRow {
    this.options.store.recoverInterrupted();
    const row = this.mustExist(id);
    if (row.status === 'done') throw new Error(`experiment ${id} is already done; nothing to resume`);
    const queued = [...this.jobs.values()].some(
      (j) => j.state.resumeOf === id && (j.state.status === 'queued' || j.state.status === 'running'),
    );
    if (queued || row.status === 'running' || row.status === 'queued')
      throw new Error(`experiment ${id} is ${queued ? 'already queued to resume' : row.status}`);
    return row;
  }

  private queueJob(
    spec: ExperimentSpec,
    backend: BackendChoice,
    origin: { rerunOf: number | null; resumeOf: number | null },
    family: Pick<Job, 'language' | 'llm'> = {},
  ): JobState {
    const { language, llm } = family;
    const state: JobState = {
      jobId: this.nextJobId++,
      name: spec.name,
      status: 'queued',
      experimentId: null,
      cells: llm
        ? expandLlmMatrix(llm.spec).cells.length
        : language
          ? languageCells(language).length
          : specSize(spec).cells,
      replicates: spec.replicates,
      workers: 0,
      backend: null,
      progress: [],
      cellStatus: {},
      queuedAt: new Date().toISOString(),
      wallSeconds: null,
      error: null,
      ...origin,
      comparison: null,
      notice: null,
      etaSeconds: null,
    };
    this.jobs.set(state.jobId, {
      state,
      spec,
      backend,
      controller: new AbortController(),
      phaseStarted: new Map(),
      groups: [],
      ...family,
    });
    this.markJobs();
    this.pump();
    return state;
  }

  /**
   * What a re-run repeats: the stored spec, validated again (the schema may have changed since), and
   * the backend the source ran on, since results are only bit-identical on the same backend.
   */
  private rerunSource(id: number): { spec: ExperimentSpec; backend: BackendChoice } {
    const row = this.mustExist(id);
    const result = validateSpec(row.spec);
    if (!result.ok)
      throw new Error(
        `experiment #${id}'s stored spec no longer validates: ${result.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}. Duplicate it in the Library to fix the spec in the Designer.`,
      );
    const stored = BACKENDS.find((b) => b === row.backend);
    return { spec: result.spec, backend: stored ?? this.options.backend };
  }

  /**
   * The backend a job runs on. A re-run whose source's backend is not available here runs on this
   * lab's, and says so: its numbers can then differ from the source's in the last bits.
   */
  private async jobBackend(job: Job): Promise<BackendChoice> {
    const { state } = job;
    if (state.rerunOf === null || job.backend === this.options.backend) return job.backend;
    const source = job.backend as BackendName;
    try {
      await probeTrainer(source, this.options.spawn);
      return source;
    } catch (error) {
      state.notice = `experiment #${state.rerunOf} ran on ${source}, which is not available here (${(error as Error).message}); this re-run uses ${this.options.backend}, so its results may differ from the original's`;
      return this.options.backend;
    }
  }

  private cancel(jobId: number): JobState {
    const job = this.jobs.get(jobId);
    if (!job) throw new Error(`no job ${jobId}`);
    if (job.state.status === 'queued') job.state.status = 'cancelled';
    job.llm?.cancelJobs.abort();
    job.controller.abort();
    this.markJobs();
    return job.state;
  }

  private pump(): void {
    if (this.running) return;
    const next = [...this.jobs.values()].find((j) => j.state.status === 'queued');
    if (!next) return;
    this.running = this.runJob(next).finally(() => {
      this.running = null;
      if (!this.closed) this.pump();
    });
  }

  /** A language job: the language runner (main/lm/run.ts), on a CPU backend (wasm unless the lab runs cpu). */
  private async runLanguageJob(job: Job, language: LanguageSpec): Promise<void> {
    const { state } = job;
    state.status = 'running';
    const started = performance.now();
    this.markJobs();
    try {
      const options = {
        backend: this.options.backend === 'cpu' ? ('cpu' as const) : ('wasm' as const),
        signal: job.controller.signal,
        modelCacheDir: join(this.options.cacheDir, 'lm-models'),
        ...(this.options.workers ? { workers: this.options.workers } : {}),
        ...(this.options.spawnLanguage ? { spawn: this.options.spawnLanguage } : {}),
        ...this.languageProgress(job, language),
      };
      const outcome =
        state.resumeOf !== null
          ? await resumeLanguageExperiment(this.options.store, state.resumeOf, options)
          : await runLanguageExperiment(this.options.store, language, options);
      state.experimentId = outcome.experimentId;
      state.status = outcome.status;
      state.error = outcome.error ?? null;
      state.backend = outcome.backend;
      state.workers = outcome.workers;
    } catch (error) {
      state.status = 'failed';
      state.error = (error as Error).message;
    }
    state.wallSeconds = (performance.now() - started) / 1000;
    state.etaSeconds = null;
    this.markJobs();
    this.emit({ type: 'experiments-changed' });
  }

  /**
   * A language job's progress rows (one per unit, in the phase it is in, app/language-progress.ts),
   * its time left, and its training losses as live curves (app/language-stages.ts).
   */
  private languageProgress(job: Job, spec: LanguageSpec): Partial<LanguageRunOptions> {
    const { state } = job;
    let progress: LanguageProgress | undefined;
    const update = () => {
      if (!progress) return;
      state.progress = progress.rows();
      state.etaSeconds = progress.secondsLeft(state.progress);
      this.markJobs();
    };
    return {
      onStart: (experimentId, units, workers) => {
        state.experimentId = experimentId;
        state.workers = workers;
        progress = new LanguageProgress(spec, units, workers);
        update();
        this.emit({ type: 'experiments-changed' });
      },
      onStage: (unit, stage) => {
        progress?.stage(unit, stage);
        update();
      },
      onStep: (unit, stage, step, total, loss) => {
        progress?.step(unit.index, step, total);
        const curve = stageCurve(stage);
        if (curve && loss !== undefined && state.experimentId !== null)
          this.pendingMetrics.push({
            jobId: state.jobId,
            experimentId: state.experimentId,
            cell: unit.cells[0]!,
            rows: [
              {
                condition: curve.model as LiveMetrics['rows'][number]['condition'],
                replicate: unit.replicates[0]!,
                step,
                name: curve.curve,
                value: loss,
              },
            ],
          });
        update();
      },
      onUnitDone: (_done, _total, unit) => {
        progress?.finish(unit.index);
        update();
        this.emit({ type: 'experiments-changed' });
      },
    };
  }

  /** An llm job: the llm runner (main/llm/run.ts) against the provider its local settings name. */
  private async runLlmJob(job: Job, llm: NonNullable<Job['llm']>): Promise<void> {
    const { state } = job;
    state.status = 'running';
    const started = performance.now();
    this.markJobs();
    try {
      const outcome = await this.llm.run(this.options.store, llm.spec, state.resumeOf, {
        signal: job.controller.signal,
        cancelJobsOn: llm.cancelJobs.signal,
        onStart: (experimentId) => {
          state.experimentId = experimentId;
          this.markJobs();
          this.emit({ type: 'experiments-changed' });
        },
      });
      state.experimentId = outcome.experimentId;
      state.status = outcome.status;
      state.error = outcome.error ?? null;
      state.workers = outcome.workers;
    } catch (error) {
      state.status = 'failed';
      state.error = (error as Error).message;
    }
    state.wallSeconds = (performance.now() - started) / 1000;
    this.markJobs();
    this.emit({ type: 'experiments-changed' });
  }

  private async runJob(job: Job): Promise<void> {
    if (job.language) return this.runLanguageJob(job, job.language);
    if (job.llm) return this.runLlmJob(job, job.llm);
    const { state } = job;
    state.status = 'running';
    const started = performance.now();
    job.eta = {
      weights: new Map(),
      modelSamplesPerSecond: this.systemInfo().modelSamplesPerSecond,
      started,
      stepRates: new Map(),
    };
    this.updateEta(job);
    this.markJobs();
    try {
      const options = {
        cacheDir: this.options.cacheDir,
        datasetDir: this.datasetDir,
        signal: job.controller.signal,
        onEvent: (event: RunEvent) => this.onRunEvent(job, event),
        ...(this.options.spawn ? { spawn: this.options.spawn } : {}),
        ...(this.options.workers ? { workers: this.options.workers } : {}),
      };
      // A resume keeps the backend the experiment ran on, so its numbers match the units already done.
      const outcome =
        state.resumeOf !== null
          ? await resumeExperiment(this.options.store, state.resumeOf, options)
          : await runExperiment(this.options.store, job.spec, {
              ...options,
              backend: await this.jobBackend(job),
            });
      state.experimentId = outcome.experimentId;
      state.status = outcome.status;
      state.error = outcome.error ?? null;
      state.backend = outcome.backend;
      if (state.rerunOf !== null && outcome.status === 'done') this.noteRerun(state, outcome.experimentId);
    } catch (error) {
      state.status = 'failed';
      state.error = (error as Error).message;
    }
    state.wallSeconds = (performance.now() - started) / 1000;
    state.etaSeconds = null;
    this.markJobs();
    this.emit({ type: 'experiments-changed' });
  }

  /** Compares a finished re-run with its source; the Library keeps what it showed beside the run. */
  private noteRerun(state: JobState, experimentId: number): void {
    const source = state.rerunOf!;
    const store = this.options.store;
    if (!store.getExperiment(source)) {
      // Deleted by another process sharing the store (this one refuses while a re-run waits): the
      // re-run's own results stand, with nothing to compare them against.
      state.notice = `experiment #${source} was deleted before this re-run finished; nothing was compared`;
      store.updateExperiment(experimentId, {
        notes: `Re-run of #${source}, deleted before it finished: not compared.`,
      });
      return;
    }
    const c = (state.comparison = this.compare(source, experimentId));
    store.updateExperiment(experimentId, {
      notes: `Re-run of #${source}: ${c.match ? 'every result matches exactly' : `results differ (max ${c.maxAbsDiff}, ${c.missing} missing)`} (${c.compared} compared).${state.notice ? ` Note: ${state.notice}.` : ''}`,
    });
  }

  private onRunEvent(job: Job, event: RunEvent): void {
    const { state } = job;
    switch (event.type) {
      case 'experiment':
        state.experimentId = event.experimentId;
        state.workers = event.workers;
        job.groups = event.groups;
        // Every row from the start, waiting ones too: the time left covers the whole run.
        if (state.progress.length === 0) state.progress = plannedRows(event.groups);
        if (job.eta) job.eta.weights = phaseWeights(job.spec, event.groups);
        this.updateEta(job);
        for (const cell of event.cells) state.cellStatus[cell.index] = 'queued';
        this.emit({ type: 'experiments-changed' });
        break;
      case 'cell-start':
        state.cellStatus[event.cell.index] = 'running';
        break;
      case 'backend':
        state.backend = event.backend;
        break;
      case 'phase':
      case 'progress':
        this.onProgress(job, event);
        break;
      case 'metrics':
        if (state.experimentId !== null)
          this.pendingMetrics.push({
            jobId: state.jobId,
            experimentId: state.experimentId,
            cell: event.cell.index,
            rows: event.rows,
          });
        break;
      case 'cell-end':
        state.cellStatus[event.cell.index] = event.status;
        break;
    }
    this.markJobs();
  }

  /** Folds a cell's progress into the job's rows (one per teacher group, one per cell's students). */
  private onProgress(job: Job, event: Extract<RunEvent, { type: 'phase' | 'progress' }>): void {
    const { phase, totalSteps } = event;
    const step = event.type === 'phase' ? 0 : event.step;
    const cells = rowCells(job.groups, event.cell.index, phase);
    const key = `${rowKey({ cells, phase })}:${phase}`;
    const now = performance.now();
    // Every cell of a group reports the same step: the rate is measured once per row.
    if (!job.phaseStarted.has(key) || event.type === 'phase') job.phaseStarted.set(key, { at: now, step });
    const since = job.phaseStarted.get(key)!;
    const rate = (step - since.step) / Math.max(1e-3, (now - since.at) / 1000);
    // Loading data has one step: no rate to time the teacher by.
    if (phase !== 'data' && rate > 0) job.eta?.stepRates.set(rowKey({ cells, phase }), rate);
    const report = { cell: event.cell.index, phase, step, totalSteps, etaSeconds: null };
    job.state.progress = placeProgress(job.state.progress, report, job.groups);
    this.updateEta(job);
  }

  /**
   * The rows' time left and the job's, their sum (app/job-eta.ts); before the runner has named the
   * groups, the spec's estimate at the store's throughput.
   */
  private updateEta(job: Job): void {
    if (!job.eta) return;
    const { weights, stepRates, modelSamplesPerSecond, started } = job.eta;
    const { state } = job;
    if (state.progress.length === 0) {
      const elapsed = (performance.now() - started) / 1000;
      state.etaSeconds = Math.max(0, estimateSeconds(job.spec, modelSamplesPerSecond) - elapsed);
      return;
    }
    state.progress = withEtas(state.progress, weights, stepRates, modelSamplesPerSecond);
    state.etaSeconds = secondsLeft(state.progress);
  }

  /** Notes the jobs that have just finished, and drops the oldest past FINISHED_JOBS_KEPT. */
  private pruneFinished(): void {
    for (const job of this.jobs.values())
      if (!job.finished && FINISHED.has(job.state.status)) {
        job.finished = true;
        this.finishOrder.push(job.state.jobId);
      }
    while (this.finishOrder.length > FINISHED_JOBS_KEPT) this.jobs.delete(this.finishOrder.shift()!);
  }

  /** Coalesces job and metric updates into at most one push per interval. */
  private markJobs(): void {
    this.pruneFinished();
    this.jobsDirty = true;
    if (this.flushTimer) return;
    const interval = this.options.pushIntervalMs ?? 100;
    const wait = Math.max(0, this.lastFlush + interval - Date.now());
    this.flushTimer = setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    this.flushTimer = null;
    this.lastFlush = Date.now();
    if (this.jobsDirty) {
      this.jobsDirty = false;
      this.emit({ type: 'jobs', jobs: [...this.jobs.values()].map((j) => structuredClone(j.state)) });
    }
    if (this.pendingMetrics.length > 0) {
      const batches = this.pendingMetrics;
      this.pendingMetrics = [];
      this.emit({ type: 'metrics', batches });
    }
  }
}

function resultDiff(l: ResultPoint, r: ResultPoint): number {
  if (JSON.stringify(l.diverged) !== JSON.stringify(r.diverged)) return 1;
  return Math.max(
    Math.abs((l.accuracy ?? 0) - (r.accuracy ?? 0)),
    Math.abs((l.traitScore ?? 0) - (r.traitScore ?? 0)),
  );
}

// The API contract between the UI and main. The same table is served over Electron IPC (desktop) and
// a WebSocket (browser mode); main validates every payload against these schemas before a handler
// sees it, so a compromised or buggy renderer can only ask for what is listed here.
import type { LlmCellSummary, LlmProgress, LlmSamplesPage } from './llm/results.ts';
import { PriceTableSchema, type LlmLocalSettings, type LlmProjection } from './llm/projection.ts';
import type { LmExperimentSummary } from './language-results.ts';
import type { LanguagePhase } from './language-stages.ts';
import { z } from 'zod';
import type { AnalysisSummary } from './analysis.ts';
import type { CellCoords } from './matrix.ts';
import type { ComparisonSummary } from './comparisons.ts';
import type { Condition } from './conditions.ts';
import { INTERVAL_METHODS, type IntervalMethod, type IntervalSummary, type KeptSummary } from './stats.ts';
import type { BackendName, Divergence, Phase } from './protocol.ts';
import type { ExperimentSpec } from './spec/schema.ts';
import { DOWNLOADABLE_DATASETS, type DownloadableDataset } from './spec/datasets.ts';
import { ProviderEntry, ProviderName, type ProviderSettingsView } from './llm/provider-settings.ts';
import type { LlmProviderName } from './spec/llm.ts';

const id = z.number().int().positive();
const tag = z.string().trim().min(1).max(64);

export const API_INPUTS = {
  /** Backend, versions and measured throughput, for the Designer's time estimate. */
  'system.info': z.null(),
  'experiments.list': z.null(),
  /** interval: how every interval is made (default Student-t; 'bootstrap': seeded percentile bootstrap). */
  'experiments.get': z.strictObject({ id, interval: z.enum(INTERVAL_METHODS).optional() }),
  /**
   * An experiment's metric series, as mean +- 95% CI across replicates per step, one page at a time
   * (a page stays under a byte cap; `next` names where the following one starts, pass it as `from`).
   * `cell` and `names` narrow it to one cell and some metrics; with `perSeed`, each replicate's own
   * line too (N times the data, so only when asked for, and best for one cell).
   */
  'experiments.series': z.strictObject({
    id,
    cell: z.number().int().nonnegative().optional(),
    names: z.array(z.string().min(1).max(200)).min(1).max(100).optional(),
    perSeed: z.boolean().optional(),
    from: z
      .strictObject({
        cell: z.number().int().nonnegative(),
        condition: z.string().max(64),
        name: z.string().max(200),
      })
      .optional(),
  }),
  'experiments.update': z.strictObject({
    id,
    name: z.string().trim().min(1).max(200).optional(),
    notes: z.string().max(100_000).optional(),
    tags: z.array(tag).max(32).optional(),
  }),
  'experiments.delete': z.strictObject({ id }),
  /** Whether two experiments' per-replicate results are identical (a re-run reproduces its source). */
  'experiments.compare': z.strictObject({ a: id, b: id }),
  /** Queue a spec; `spec` is validated again in main with the full schema. */
  'runs.start': z.strictObject({ spec: z.unknown(), rerunOf: id.optional() }),
  'runs.cancel': z.strictObject({ jobId: id }),
  'runs.queue': z.null(),
  /** Queue a resume of a stopped (interrupted, cancelled, failed) experiment: its unfinished units. */
  'runs.resume': z.strictObject({ id }),
  /** Where a cluster experiment's units stand (asks the scheduler; writes nothing). */
  'cluster.status': z.strictObject({ id }),
  /** Merges a cluster experiment's finished units into the store, then reports as cluster.status. */
  'cluster.collect': z.strictObject({ id }),
  /** The downloadable datasets: files, sizes, downloaded or not, and any download in progress. */
  'datasets.list': z.null(),
  /**
   * Downloads a dataset into the user's data directory, every file verified by SHA-256; resolves
   * when it is ready. Progress comes as `datasets` events.
   */
  'datasets.download': z.strictObject({ name: z.enum(DOWNLOADABLE_DATASETS) }),
  /** The llm providers' local settings (providers.json) and where each key comes from; never a key. */
  'providers.list': z.null(),
  /** Replaces one provider's entry in the local settings file (never a key: the entry has no field for one). */
  'providers.save': z.strictObject({ name: ProviderName, entry: ProviderEntry }),
  /** Drops one provider's entry: it runs on the defaults again. */
  'providers.remove': z.strictObject({ name: ProviderName }),
  /**
   * An llm spec's projection as the runner's budget guard makes it (main/llm/budget.ts): tokens per
   * stage, cost at the local price table, the refusal if it exceeds the spec's budget; or the spec's
   * errors. `spec` is validated in main with the llm schema.
   */
  'llm.project': z.strictObject({ spec: z.unknown() }),
  /** The local price table and the providers the local settings file sets up (never a key). */
  'llm.prices': z.null(),
  /** Replaces the local price table (USD per million tokens, per model); providers are kept. */
  'llm.savePrices': z.strictObject({ prices: PriceTableSchema }),
  /** An llm experiment's stages: teachers' requests and verdicts, uploads, provider jobs, evaluations. */
  'llm.progress': z.strictObject({ id }),
  /**
   * A page of an llm experiment's stored answers: teacher completions (`generate`, with the filter's
   * verdict and reason) or evaluation answers, narrowed to one group (teacher or evaluated model).
   */
  'llm.samples': z.strictObject({
    id,
    stage: z.enum(['generate', 'evaluate']),
    group: z.string().min(1).max(200).optional(),
    verdict: z.enum(['kept', 'rejected']).optional(),
    reason: z.string().min(1).max(500).optional(),
    offset: z.number().int().nonnegative().max(100_000_000).default(0),
    limit: z.number().int().positive().max(200).default(50),
  }),
} as const;

export type ApiMethod = keyof typeof API_INPUTS;
export const API_METHODS = Object.keys(API_INPUTS) as ApiMethod[];
export type ApiInput<M extends ApiMethod> = z.input<(typeof API_INPUTS)[M]>;
/** An input after validation, as handlers receive it. */
export type ApiParsed<M extends ApiMethod> = z.output<(typeof API_INPUTS)[M]>;

export interface SystemInfo {
  backend: string;
  /** Model-samples per second seen in this store's finished runs, or a conservative default. */
  modelSamplesPerSecond: number;
  measured: boolean;
  mode: 'desktop' | 'browser';
  dbPath: string;
  /** The machine's free and total RAM (os.freemem / os.totalmem) when asked. */
  freeMemoryBytes: number;
  totalMemoryBytes: number;
  /** Trainer processes a run uses side by side (each with a share of the replicates and the RAM). */
  workers: number;
}

export interface ExperimentListItem {
  id: number;
  name: string;
  status: string;
  createdAt: string;
  tags: string[];
  notes: string;
  specHash: string;
  cells: number;
  replicates: number;
  backend: string | null;
  wallSeconds: number | null;
  /** Set for an experiment submitted to a cluster (`sublab submit`): its scheduler and shared directory. */
  cluster: { scheduler: 'slurm'; dir: string } | null;
}

/** A cluster unit's state: its file is in (finished), its task is queued or running, or neither. */
export type ClusterUnitState = 'finished' | 'running' | 'pending' | 'failed' | 'missing';
export const CLUSTER_UNIT_STATES: readonly ClusterUnitState[] = [
  'finished',
  'running',
  'pending',
  'failed',
  'missing',
];

export interface ClusterUnit {
  index: number;
  group: number;
  cells: number[];
  replicates: number[];
  state: ClusterUnitState;
  /** In the local store (merged by this call or an earlier one). */
  collected: boolean;
  /** The array task that last ran it ("12_3"), if it was submitted. */
  task: string | null;
  /** Why it failed, what the scheduler says, or what is wrong with its file. */
  detail: string | null;
}

export interface ClusterReport {
  experimentId: number;
  status: string;
  error: string | null;
  dir: string;
  jobs: { jobId: string; units: number[]; submittedAt: string }[];
  units: ClusterUnit[];
  counts: Record<ClusterUnitState, number>;
  /** Units merged by this call. */
  merged: number[];
  /** Scheduler queries that did not answer (states then come from the unit files alone). */
  schedulerProblems: string[];
  /** Unit files that cannot be merged (corrupt, foreign, incomplete), one message each. */
  badFiles: string[];
}

export interface ResultPoint {
  cell: number;
  condition: Condition;
  replicate: number;
  seed: number;
  /** Null for a model that diverged (see `diverged`). */
  accuracy: number | null;
  traitScore: number | null;
  diverged: Divergence | null;
}

export interface CellDetail {
  index: number;
  coords: CellCoords;
  /** `done` even when some models diverged; `diverged` says how many. */
  status: string;
  error: string | null;
  diverged: number;
  /** Over the models that did not diverge; each condition's `diverged` counts the others. */
  conditions: Partial<Record<Condition, KeptSummary & { trait?: IntervalSummary }>>;
  /** Paired per-replicate differences (student minus cross-init, ...), Holm-corrected across cells. */
  comparisons: ComparisonSummary[];
  rejectionRate?: IntervalSummary;
  /** The representation analysis at the end, per metric (app/analysis.ts); absent when none was recorded. */
  analysis?: AnalysisSummary[];
}

/**
 * The machine and software one attempt of an experiment ran on (its start, or a resume), recorded by
 * the runner as the attempt began: a report shows these, not the machine it is exported on.
 */
export interface RunEnvironment {
  attempt: 'start' | 'resume';
  recordedAt: string;
  /** Subliminal Lab's version (package.json). */
  app: string;
  /** The runner's Node.js; the trainers' TF.js and backend packages are in `versions`. */
  node: string;
  /** Electron and its Chromium when the desktop app ran it; null for the CLI and `sublab serve`. */
  electron: string | null;
  chromium: string | null;
  /** e.g. "Linux 6.1.0-13-amd64 (x64)" */
  os: string;
  cpu: string;
  /** Logical cores (os.availableParallelism). */
  cores: number;
  memoryBytes: number;
  /** The concrete backend (`auto` resolved) and the trainer processes the attempt used side by side. */
  backend: string;
  workers: number;
}

export interface ExperimentDetail extends ExperimentListItem {
  spec: ExperimentSpec;
  error: string | null;
  /** The trainers' TF.js and backend versions (and the WebGPU adapter), reported as they started. */
  versions: Record<string, string> | null;
  startedAt?: string | null;
  finishedAt?: string | null;
  /** One per attempt (start, resumes); null where the experiment predates this record. */
  environments?: RunEnvironment[] | null;
  cellDetails: CellDetail[];
  results: ResultPoint[];
  /** A language experiment's results (spec kind "language"); its cellDetails and results are empty. */
  language?: LmExperimentSummary;
  /** An llm experiment's results (spec kind "llm"); its cellDetails and results are empty. */
  llm?: LlmCellSummary[];
  /** How the intervals of cellDetails were made. */
  interval: IntervalMethod;
}

/** One metric of one condition in one cell: steps with the mean and 95% CI over replicates. */
export interface SeriesData {
  cell: number;
  condition: Condition;
  name: string;
  steps: number[];
  mean: number[];
  ci95: number[];
  n: number[];
  /** Each replicate's values on `steps` (null where it has none); only when asked for. */
  perSeed?: SeedLine[];
}

/** Where a page of series starts: the first (cell, condition, metric) it holds. */
export interface SeriesCursor {
  cell: number;
  condition: string;
  name: string;
}

/** One reply of `experiments.series`: whole series in (cell, condition, metric) order. */
export interface SeriesPage {
  series: SeriesData[];
  /** The next page's start, or null when this page ends the series asked for. */
  next: SeriesCursor | null;
}

export interface SeedLine {
  replicate: number;
  values: (number | null)[];
}

export interface CompareResult {
  match: boolean;
  compared: number;
  maxAbsDiff: number;
  missing: number;
}

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'interrupted';

/**
 * One progress row. Cells sharing a teacher load data and train it once: their row names them all
 * (`cells` of the group, phase `data` then `teacher`); the student phase has a row per cell.
 */
export interface PhaseProgress {
  cells: number[];
  /** A classifier row's phase, or the phase a language unit is in (app/language-stages.ts). */
  phase: Phase | LanguagePhase;
  step: number;
  totalSteps: number;
  /**
   * Seconds left: at the row's own measured rate while it runs, else its training at the rate
   * measured so far (or the store's); the students of a group share one (app/job-eta.ts).
   */
  etaSeconds: number | null;
  /** Planned, not started: its steps are not known yet. */
  waiting?: boolean;
  /**
   * A language unit's row (one replicate of one cell, app/language-progress.ts): `stage` is the
   * pipeline's stage it is in (null before it starts), `step` of `totalSteps` that stage's.
   */
  unit?: { index: number; replicate: number; stage: string | null; finished: boolean };
}

export interface JobState {
  jobId: number;
  name: string;
  status: JobStatus;
  experimentId: number | null;
  cells: number;
  replicates: number;
  workers: number;
  backend: BackendName | null;
  progress: PhaseProgress[];
  cellStatus: Record<number, string>;
  queuedAt: string;
  wallSeconds: number | null;
  error: string | null;
  rerunOf: number | null;
  /** For a resume: the experiment it finishes (and writes into). */
  resumeOf: number | null;
  /** For a re-run, once it has finished: whether it reproduced the source experiment. */
  comparison: CompareResult | null;
  /** Something the user should know about how the job runs, e.g. a re-run on another backend. */
  notice: string | null;
  /** Seconds left while running: the sum of its progress rows' (the spec's estimate before there are rows). */
  etaSeconds: number | null;
}

/** Live metric rows of a running job; the UI aggregates them into curves. */
export interface LiveMetrics {
  jobId: number;
  experimentId: number;
  cell: number;
  rows: { condition: Condition; replicate: number; step: number; name: string; value: number }[];
}

export interface DatasetFileInfo {
  name: string;
  size: number;
  sha256: string;
  /** Downloaded and verified. */
  cached: boolean;
  /** Bytes of an interrupted download waiting to be resumed (0 when none). */
  partialBytes: number;
}

/** A download this lab is running: which file, and how far. */
export interface DatasetDownload {
  file: string;
  phase: 'download' | 'extract';
  bytes: number;
  total: number | null;
}

export interface DatasetInfo {
  name: DownloadableDataset;
  label: string;
  classes: number;
  train: number;
  test: number;
  /** Every IDX file is in place: a spec naming this dataset can run. */
  ready: boolean;
  files: DatasetFileInfo[];
  /** Bytes still to fetch (0 when ready, or when only an extraction from a cached zip is left). */
  missingBytes: number;
  /** Where the dataset's files are (or will be). */
  dir: string;
  downloading: DatasetDownload | null;
}

export interface ApiOutputs {
  'system.info': SystemInfo;
  'experiments.list': ExperimentListItem[];
  'experiments.get': ExperimentDetail;
  'experiments.series': SeriesPage;
  'experiments.update': ExperimentListItem;
  'experiments.delete': { deleted: number };
  'experiments.compare': CompareResult;
  'runs.start': JobState;
  'runs.cancel': JobState;
  'runs.queue': JobState[];
  'runs.resume': JobState;
  'cluster.status': ClusterReport;
  'cluster.collect': ClusterReport;
  'datasets.list': DatasetInfo[];
  'datasets.download': DatasetInfo;
  'providers.list': ProviderSettingsView;
  'providers.save': ProviderSettingsView;
  'providers.remove': ProviderSettingsView;
  'llm.project': LlmProjection;
  'llm.prices': LlmLocalSettings;
  'llm.savePrices': LlmLocalSettings;
  'llm.progress': LlmProgress;
  'llm.samples': LlmSamplesPage;
}

export type ApiOutput<M extends ApiMethod> = ApiOutputs[M];

/** Pushed from main to the UI, throttled to at most 10 per second per kind. */
export type ApiEvent =
  | { type: 'jobs'; jobs: JobState[] }
  | { type: 'metrics'; batches: LiveMetrics[] }
  | { type: 'experiments-changed' }
  /** Every downloadable dataset's state, while a download runs (throttled) and when it ends. */
  | { type: 'datasets'; datasets: DatasetInfo[] }
  | { type: 'menu'; action: MenuAction; file?: { name: string; text: string } };

export type MenuAction = 'new' | 'open-spec' | 'save-spec' | 'export' | 'about';

/**
 * The desktop app's provider keys, write-only from the renderer: a key goes into the OS keychain and
 * nothing reads it back (the Settings screen shows only whether one is kept, from providers.list).
 */
export interface KeyWriter {
  set(name: LlmProviderName, key: string): Promise<void>;
  clear(name: LlmProviderName): Promise<void>;
}

/** One key request over the desktop app's key channel, validated in main before anything is kept. */
export const KeyRequest = z.discriminatedUnion('op', [
  z.strictObject({
    op: z.literal('set'),
    name: ProviderName,
    key: z
      .string()
      .min(1, 'the key is empty')
      .max(4096, 'the key is longer than 4096 characters')
      .regex(/^\S+$/, 'a key has no spaces or line breaks'),
  }),
  z.strictObject({ op: z.literal('clear'), name: ProviderName }),
]);
export type KeyRequest = z.infer<typeof KeyRequest>;

/** What the renderer is given by its host: the Electron preload, or the WebSocket client. */
export interface Host {
  readonly mode: 'desktop' | 'browser';
  call<M extends ApiMethod>(method: M, input: ApiInput<M>): Promise<ApiOutput<M>>;
  /** Returns an unsubscribe function. */
  onEvent(listener: (event: ApiEvent) => void): () => void;
  /** The desktop app's keychain; absent in browser mode, where keys come from serve's environment. */
  readonly keys?: KeyWriter;
}

/** What the Electron preload exposes as `window.sublab`: these functions and nothing else. */
export interface SublabBridge {
  call(method: string, input: unknown): Promise<unknown>;
  onEvent(listener: (event: ApiEvent) => void): () => void;
  /** Keeps or forgets a provider's key (main validates the request; nothing returns a key). */
  key(request: KeyRequest): Promise<void>;
}

/** Errors crossing the transport keep their message and say which method failed. */
export class ApiError extends Error {
  constructor(
    readonly method: string,
    message: string,
  ) {
    super(message);
  }
}

export function parseInput<M extends ApiMethod>(method: M | string, input: unknown): ApiParsed<M> {
  if (!(API_METHODS as string[]).includes(method))
    throw new ApiError(method, `unknown API method "${method}"`);
  const result = API_INPUTS[method as M].safeParse(input);
  if (!result.success) {
    const detail = result.error.issues
      .map((i) => `${i.path.length ? i.path.join('.') : '(input)'}: ${i.message}`)
      .join('; ');
    throw new ApiError(method, `invalid input for ${method}: ${detail}`);
  }
  return result.data as ApiParsed<M>;
}

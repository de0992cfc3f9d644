// Main's side of the series worker (series-worker.ts): requests go to one worker thread in order, each
// answer resolves its caller, and main's thread only passes messages. The worker starts on the first
// request, keeps the process alive only while requests are pending, and a crash (out of its heap)
// fails the requests in flight with the reason; the next request starts a fresh one.
import { Worker } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import type { SeriesPage } from '../../app/api.ts';
import { nodeEntry } from '../node-entry.ts';
import { readSeriesPage, SeriesQueries, type SeriesRequest } from './series-query.ts';
import type { RunStore } from './store.ts';

export interface SeriesWorkerData {
  path: string;
  nativeBinding?: string;
}
export interface ToSeriesWorker {
  requestId: number;
  request: SeriesRequest;
}
export type FromSeriesWorker =
  { requestId: number; ok: true; page: SeriesPage } | { requestId: number; ok: false; error: string };

/** Requests waiting for the worker, past which a new one is refused at once instead of queued. */
export const MAX_QUEUED_SERIES = 256;
/** The worker's V8 heap: a page (8 MiB of JSON) as objects is a few times that; a bug stops here. */
const WORKER_HEAP_MB = 256;

export interface SeriesReaderOptions {
  /** A bundled worker script (the desktop app's); default: series-worker.ts beside this module. */
  workerFile?: string;
  /** The better-sqlite3 addon the worker loads (the desktop app's copy built for Electron). */
  nativeBinding?: string;
}

interface Pending {
  resolve: (page: SeriesPage) => void;
  reject: (error: Error) => void;
}

function startWorker(data: SeriesWorkerData, workerFile: string | undefined): Worker {
  const entry = workerFile
    ? { file: workerFile, execArgv: [] }
    : nodeEntry(new URL('./series-worker.ts', import.meta.url));
  const options = { workerData: data, resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } };
  if (entry.execArgv.length === 0) return new Worker(entry.file, options);
  // From a checkout the worker is TypeScript. Node 20 does not apply `--import tsx` to a worker's own
  // entry module, so the worker registers tsx's loader itself before importing it.
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const file = JSON.stringify(pathToFileURL(entry.file).href);
  return new Worker(`import(${tsx}).then((tsx) => { tsx.register(); return import(${file}); })`, {
    ...options,
    eval: true,
  });
}

export class SeriesReader {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** A store in memory has no file a worker could open: it is read here, in pages all the same. */
  private inThread: SeriesQueries | null = null;
  private closed = false;

  constructor(
    private readonly store: RunStore,
    private readonly options: SeriesReaderOptions = {},
  ) {}

  page(request: SeriesRequest): Promise<SeriesPage> {
    if (this.closed) return Promise.reject(new Error('the lab is shutting down'));
    if (this.store.path === ':memory:') {
      this.inThread ??= new SeriesQueries(this.store.db);
      return Promise.resolve(readSeriesPage(this.inThread, request));
    }
    if (this.pending.size >= MAX_QUEUED_SERIES)
      return Promise.reject(
        new Error(`busy: ${this.pending.size} series requests are waiting; try again in a moment`),
      );
    const worker = this.worker ?? this.start();
    const requestId = this.nextId++;
    return new Promise<SeriesPage>((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject });
      worker.ref();
      worker.postMessage({ requestId, request } satisfies ToSeriesWorker);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    this.fail(worker, new Error('the lab is shutting down'));
    await worker.terminate();
  }

  private start(): Worker {
    const worker = startWorker(
      {
        path: this.store.path,
        ...(this.options.nativeBinding ? { nativeBinding: this.options.nativeBinding } : {}),
      },
      this.options.workerFile,
    );
    worker.on('message', (reply: FromSeriesWorker) => {
      const waiting = this.pending.get(reply.requestId);
      this.pending.delete(reply.requestId);
      if (this.pending.size === 0) worker.unref();
      if (!waiting) return;
      if (reply.ok) waiting.resolve(reply.page);
      else waiting.reject(new Error(reply.error));
    });
    worker.on('error', (error) => this.fail(worker, new Error(`the series reader failed: ${error.message}`)));
    worker.on('exit', (code) =>
      this.fail(worker, new Error(`the series reader stopped (exit code ${code})`)),
    );
    this.worker = worker;
    return worker;
  }

  /** Fails every request in flight on `worker` (if it is still the current one); the next starts anew. */
  private fail(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = null;
    void worker.terminate();
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }
}

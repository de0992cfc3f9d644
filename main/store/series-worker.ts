// The series worker: a worker thread with its own read-only connection to the run store (WAL lets it
// read while main writes), answering series pages one at a time so the thread that runs jobs, beats
// their heartbeat and serves the UI never waits on a large read.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { readSeriesPage, SeriesQueries } from './series-query.ts';
import type { FromSeriesWorker, SeriesWorkerData, ToSeriesWorker } from './series-reader.ts';

const { path, nativeBinding } = workerData as SeriesWorkerData;
const db = new Database(path, {
  readonly: true,
  fileMustExist: true,
  ...(nativeBinding ? { nativeBinding } : {}),
});
db.pragma('busy_timeout = 5000');
const queries = new SeriesQueries(db);

parentPort!.on('message', (message: ToSeriesWorker) => {
  let reply: FromSeriesWorker;
  try {
    reply = { requestId: message.requestId, ok: true, page: readSeriesPage(queries, message.request) };
  } catch (error) {
    reply = { requestId: message.requestId, ok: false, error: (error as Error).message };
  }
  parentPort!.postMessage(reply);
});

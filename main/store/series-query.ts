// An experiment's metric series read one page at a time: each (cell, condition, metric) summed per step
// in SQL (count, sum, sum of squares), each replicate's line streamed only when asked for, and a page
// closed before it passes a byte cap. The memory a reply and the read behind it take does not grow
// with the store: a 100-replicate sweep of 10 M metric rows holds one page at a time. Runs in the
// series worker (series-worker.ts) on its own read-only connection, off the thread that runs jobs.
import type Database from 'better-sqlite3';
import type { ApiParsed, SeedLine, SeriesCursor, SeriesData, SeriesPage } from '../../app/api.ts';
import type { Condition } from '../../app/conditions.ts';
import { momentsPoint, type StepMoments } from '../../app/series.ts';
import { MetricKeys, type MetricKey } from './metric-keys.ts';

/** The most a page of series may take as JSON, its cursor included. */
export const MAX_SERIES_REPLY_BYTES = 8 * 1024 * 1024;
/** Room kept in a page for its JSON frame and the `next` cursor (a condition and a metric name). */
const PAGE_FRAME_BYTES = 1024;
/** Every number in the JSON takes at least this many bytes (a digit and a comma). */
const MIN_BYTES_PER_VALUE = 2;

export type SeriesRequest = ApiParsed<'experiments.series'>;

interface GroupKey extends MetricKey {
  cellId: number;
  cell: number;
}

const size = (bytes: number) =>
  bytes >= 1024 * 1024 ? `${+(bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.round(bytes / 1024)} KiB`;

function tooLarge(key: GroupKey, perSeed: boolean, capBytes: number): Error {
  return new Error(
    `the series of cell ${key.cell}, ${key.condition}, ${key.name}${perSeed ? " with each seed's line" : ''} is larger than the ${size(capBytes)} one reply may carry${perSeed ? '; ask for it without perSeed' : ''}`,
  );
}

/** The statements of one connection, prepared once. */
export class SeriesQueries {
  private readonly cellsFrom: Database.Statement<[number, number, number | null, number | null]>;
  private readonly metricKeys: MetricKeys;
  private readonly moments: Database.Statement<[number, string, string]>;
  private readonly values: Database.Statement<[number, string, string]>;

  constructor(db: Database.Database) {
    this.cellsFrom = db.prepare(
      'SELECT id, idx FROM cells WHERE experiment_id = ? AND idx >= ? AND (? IS NULL OR idx = ?) ORDER BY idx',
    );
    this.metricKeys = new MetricKeys(db);
    this.moments = db
      .prepare(
        `SELECT step, count(*), sum(value), sum(value * value), min(value), max(value) FROM metrics
         WHERE cell_id = ? AND condition = ? AND name = ? GROUP BY step ORDER BY step`,
      )
      .raw();
    this.values = db
      .prepare(
        'SELECT step, replicate, value FROM metrics WHERE cell_id = ? AND condition = ? AND name = ? ORDER BY step, replicate',
      )
      .raw();
  }

  /** The (cell, condition, metric) groups asked for, in order, from the request's cursor on. */
  *keys(request: SeriesRequest): Generator<GroupKey> {
    const from = request.from;
    const names = request.names ? new Set(request.names) : null;
    const only = request.cell ?? null;
    const cells = this.cellsFrom.all(request.id, from?.cell ?? 0, only, only) as {
      id: number;
      idx: number;
    }[];
    for (const { id: cellId, idx: cell } of cells) {
      for (const key of this.metricKeys.of(cellId, from && from.cell === cell ? from : undefined))
        if (!names || names.has(key.name)) yield { cellId, cell, ...key };
    }
  }

  /** One group's mean curve; stops reading once it cannot fit in `capBytes`. */
  series(key: GroupKey, capBytes: number): SeriesData | null {
    const s: SeriesData = {
      cell: key.cell,
      condition: key.condition as Condition,
      name: key.name,
      steps: [],
      mean: [],
      ci95: [],
      n: [],
    };
    const maxPoints = capBytes / (4 * MIN_BYTES_PER_VALUE);
    for (const [step, n, sum, sumSquares, min, max] of this.moments.iterate(
      key.cellId,
      key.condition,
      key.name,
    ) as Iterable<number[]>) {
      if (s.steps.length >= maxPoints) return null;
      const point = momentsPoint({ n, sum, sumSquares, min, max } as StepMoments);
      s.steps.push(step!);
      s.mean.push(point.mean);
      s.ci95.push(point.ci95);
      s.n.push(point.n);
    }
    return s;
  }

  /** Each replicate's values on `steps`, null where it has none; null when they cannot fit in `capBytes`. */
  seedLines(key: GroupKey, steps: readonly number[], capBytes: number): SeedLine[] | null {
    const at = new Map(steps.map((step, k) => [step, k]));
    const lines = new Map<number, (number | null)[]>();
    const maxValues = capBytes / MIN_BYTES_PER_VALUE;
    for (const [step, replicate, value] of this.values.iterate(
      key.cellId,
      key.condition,
      key.name,
    ) as Iterable<number[]>) {
      const k = at.get(step!);
      if (k === undefined) continue; // a row written after the means were read
      let line = lines.get(replicate!);
      if (!line) {
        if ((lines.size + 1) * steps.length > maxValues) return null;
        lines.set(replicate!, (line = new Array<number | null>(steps.length).fill(null)));
      }
      line[k] = value!;
    }
    return [...lines.entries()]
      .sort(([a], [b]) => a - b)
      .map(([replicate, values]) => ({ replicate, values }));
  }
}

/**
 * The page of series that starts at `request.from`: whole groups while they fit in `capBytes` of
 * JSON. A group that alone is larger is refused with an error that names it.
 */
export function readSeriesPage(
  queries: SeriesQueries,
  request: SeriesRequest,
  capBytes = MAX_SERIES_REPLY_BYTES,
): SeriesPage {
  const budget = capBytes - PAGE_FRAME_BYTES;
  const series: SeriesData[] = [];
  let used = 0;
  for (const key of queries.keys(request)) {
    const next: SeriesCursor = { cell: key.cell, condition: key.condition, name: key.name };
    const s = queries.series(key, budget);
    const lines = s && request.perSeed ? queries.seedLines(key, s.steps, budget) : undefined;
    if (s && lines) s.perSeed = lines;
    const bytes = s && lines !== null ? Buffer.byteLength(JSON.stringify(s)) + 1 : Infinity;
    if (used + bytes > budget) {
      if (series.length === 0) throw tooLarge(key, request.perSeed ?? false, capBytes);
      return { series, next };
    }
    series.push(s!);
    used += bytes;
  }
  return { series, next: null };
}

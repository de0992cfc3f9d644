// A cell's (condition, metric) pairs found by seeks on the series index (cell, condition, name, step)
// rather than by reading its rows: a cell with 500,000 metric rows and 12 pairs costs 12 seeks. The
// series pages and the final values of the representation analysis both start from them.
import type Database from 'better-sqlite3';
import type { MetricRow } from '../../app/protocol.ts';

export interface MetricKey {
  condition: string;
  name: string;
}

export class MetricKeys {
  private readonly sameCondition: Record<'>=' | '>', Database.Statement<[number, string, string]>>;
  private readonly laterCondition: Database.Statement<[number, string]>;

  constructor(db: Database.Database) {
    // Two plain seeks: SQLite seeks a row value (condition, name) > (?, ?) on condition alone and then
    // steps through every row of that condition.
    const same = (op: string) =>
      db.prepare<[number, string, string]>(
        `SELECT condition, name FROM metrics WHERE cell_id = ? AND condition = ? AND name ${op} ? ORDER BY name LIMIT 1`,
      );
    this.sameCondition = { '>=': same('>='), '>': same('>') };
    this.laterCondition = db.prepare(
      'SELECT condition, name FROM metrics WHERE cell_id = ? AND condition > ? ORDER BY condition, name LIMIT 1',
    );
  }

  /** The cell's pairs in (condition, name) order, from `from` (included) on. */
  *of(cellId: number, from: MetricKey = { condition: '', name: '' }): Generator<MetricKey> {
    let key = this.seek(cellId, from, '>=');
    while (key) {
      yield key;
      key = this.seek(cellId, key, '>');
    }
  }

  private seek(cellId: number, key: MetricKey, op: '>=' | '>'): MetricKey | undefined {
    return (this.sameCondition[op].get(cellId, key.condition, key.name) ??
      this.laterCondition.get(cellId, key.condition)) as MetricKey | undefined;
  }
}

const finalStatements = new WeakMap<
  Database.Database,
  { keys: MetricKeys; rows: Database.Statement<[{ cellId: number } & MetricKey]> }
>();

/**
 * The rows of each (condition, metric) of a cell at its last recorded step, for metric names that
 * start with one of `prefixes`, in (condition, name, replicate) order.
 */
export function finalMetricRows(
  db: Database.Database,
  cellId: number,
  prefixes: readonly string[],
): MetricRow[] {
  let statements = finalStatements.get(db);
  if (!statements) {
    statements = {
      keys: new MetricKeys(db),
      rows: db.prepare(
        `SELECT condition, replicate, step, name, value FROM metrics WHERE cell_id = @cellId AND condition = @condition
         AND name = @name AND step = (SELECT max(step) FROM metrics WHERE cell_id = @cellId AND condition = @condition AND name = @name)
         ORDER BY replicate`,
      ),
    };
    finalStatements.set(db, statements);
  }
  const { keys, rows } = statements;
  return [...keys.of(cellId)]
    .filter((k) => prefixes.some((p) => k.name.startsWith(p)))
    .flatMap((k) => rows.all({ cellId, ...k }) as MetricRow[]);
}

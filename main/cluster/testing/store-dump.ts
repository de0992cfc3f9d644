// Every row of every table of a store, for tests to show that something (a refusal) changed nothing.
import Database from 'better-sqlite3';

/** Every row of every table of the store at `db`. */
export function dumpStore(db: string): Record<string, unknown[]> {
  const conn = new Database(db, { readonly: true });
  try {
    const tables = conn
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all() as { name: string }[];
    return Object.fromEntries(tables.map((t) => [t.name, conn.prepare(`SELECT * FROM "${t.name}"`).all()]));
  } finally {
    conn.close();
  }
}

// Test helper: a store file as an older version of the program left it, for migration tests.
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../migrations.ts';

/**
 * Creates `path` at the schema version just before the migration whose text holds `marker`, lets
 * `fill` store in it what an older program stored, and returns that version.
 */
export function storeBefore(path: string, marker: string, fill: (db: Database.Database) => void): number {
  const before = MIGRATIONS.findIndex((m) => m.includes(marker));
  if (before <= 0) throw new Error(`no migration after the first holds ${JSON.stringify(marker)}`);
  const old = new Database(path);
  try {
    old.exec(MIGRATIONS.slice(0, before).join(';\n'));
    old.pragma(`user_version = ${before}`);
    fill(old);
  } finally {
    old.close();
  }
  return before;
}

// Reading a unit file (DIR/units/K.sqlite) back: a run store holding one unit of a submission, made
// by `sublab run-unit`. It is read from a private copy (the shared file system may be NFS, and the
// file may be replaced under us) and checked against what the local store expects before any of it
// is trusted: the submission's token, the spec, the unit's cells and replicates, completeness, and
// the seal its task made with the submission's key (main/cluster/unit-seal.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MetricRow, PhaseTiming, ResultRow } from '../../app/protocol.ts';
import { clusterOf, unitSealOf } from '../store/clusters.ts';
import { RunStore, type RunStatus, type UnitPlan } from '../store/store.ts';
import { copyToNew } from './private-files.ts';
import { sealMatches } from './unit-seal.ts';

/** A unit file that cannot be merged: unreadable, corrupt, foreign, or not the unit it claims. */
export class BadUnitFile extends Error {}

export interface UnitExpectation {
  token: string;
  experimentId: number;
  specHash: string;
  unit: UnitPlan;
  /** The submission's key: the file must carry the seal made with it. Null: a submission made before seals. */
  key: Buffer | null;
}

export interface UnitFileContent {
  /** How the task's run ended: `done`, or `failed` / `cancelled` with `error`. */
  status: RunStatus;
  error: string | null;
  backend: string | null;
  versions: Record<string, string> | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** Who wrote it (unit, experiment, host, job), as run-unit noted it. */
  origin: string;
  cells: { index: number; results: ResultRow[]; metrics: MetricRow[]; timings: PhaseTiming[] | null }[];
}

const sameNumbers = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** Reads and checks `file`; throws BadUnitFile saying what is wrong with it. */
export function readUnitFile(file: string, expect: UnitExpectation): UnitFileContent {
  const work = mkdtempSync(join(tmpdir(), 'sublab-unit-read-'));
  try {
    const copy = join(work, 'unit.sqlite');
    try {
      copyToNew(file, copy); // a link is refused, not followed
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new BadUnitFile(code ? `${file} cannot be read: ${code}` : (error as Error).message);
    }
    let store: RunStore;
    try {
      store = new RunStore(copy);
    } catch (error) {
      throw new BadUnitFile(
        `${file} is not a readable unit file: ${(error as Error).message.replace(copy, 'it')}`,
      );
    }
    try {
      const content = unitContent(store, file, expect);
      if (expect.key) checkSeal(store, file, { ...expect, key: expect.key }, content);
      return content;
    } catch (error) {
      if (error instanceof BadUnitFile) throw error;
      throw new BadUnitFile(`${file} is corrupt: ${(error as Error).message}`);
    } finally {
      store.close();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Refuses a unit file whose seal is missing or was not made with the submission's key over this content. */
function checkSeal(
  store: RunStore,
  file: string,
  expect: UnitExpectation & { key: Buffer },
  content: UnitFileContent,
): void {
  const seal = unitSealOf(store, store.listExperiments()[0]!.id);
  if (seal === null)
    throw new BadUnitFile(
      `${file} carries no seal: it was not written by a task of this submission (forged, or made by hand); delete it`,
    );
  if (!sealMatches(expect.key, expect, content, seal))
    throw new BadUnitFile(
      `${file} fails authentication: its seal was not made with this submission's key over what it holds, so it was forged or altered after its task wrote it; delete it`,
    );
}

/**
 * What a unit file holds, checked against what is expected of it (all but the seal): throws
 * BadUnitFile saying what is wrong. Also how a task reads its own unit to seal it.
 */
export function unitContent(
  store: RunStore,
  file: string,
  expect: Omit<UnitExpectation, 'key'>,
): UnitFileContent {
  const bad = (why: string) => new BadUnitFile(`${file} ${why}`);
  const check = store.db.pragma('quick_check', { simple: true });
  if (check !== 'ok') throw bad(`is corrupt: ${String(check)}`);
  const experiments = store.listExperiments();
  if (experiments.length !== 1) throw bad(`holds ${experiments.length} experiments; a unit file holds one`);
  const row = experiments[0]!;
  const cluster = clusterOf(store, row.id);
  if (!cluster) throw bad('has no submission token: it was not written by `sublab run-unit`');
  if (cluster.token !== expect.token)
    throw bad(
      `belongs to another submission (${row.notes || row.name}; token ${cluster.token.slice(0, 8)}), not to experiment ${expect.experimentId}'s (token ${expect.token.slice(0, 8)})`,
    );
  if (row.specHash !== expect.specHash)
    throw bad(
      `was computed from another spec (hash ${row.specHash.slice(0, 12)}, expected ${expect.specHash.slice(0, 12)})`,
    );
  const units = store.units(row.id);
  const unit = units[0];
  const want = expect.unit;
  if (
    units.length !== 1 ||
    unit!.index !== want.index ||
    !sameNumbers(unit!.cells, want.cells) ||
    !sameNumbers(unit!.replicates, want.replicates)
  )
    throw bad(
      `holds ${units.map((u) => `unit ${u.index} (cells ${u.cells.join(',')}, replicates ${u.replicates.join(',')})`).join(' and ') || 'no unit'}, not unit ${want.index} (cells ${want.cells.join(',')}, replicates ${want.replicates.join(',')})`,
    );
  const done = row.status === 'done' && unit!.status === 'done';
  const byIndex = new Map(store.cells(row.id).map((c) => [c.index, c]));
  const cells = want.cells.map((index) => {
    const cell = byIndex.get(index);
    if (!cell) throw bad(`has no cell ${index}`);
    return {
      index,
      results: store.results(cell.id),
      metrics: store.metrics(cell.id),
      timings: cell.timings,
    };
  });
  if (done)
    for (const cell of cells) {
      const got = [...new Set(cell.results.map((r) => r.replicate))].sort((a, b) => a - b);
      if (!sameNumbers(got, want.replicates))
        throw bad(
          `is incomplete: cell ${cell.index} has results for replicates [${got.join(',')}], the unit's are [${want.replicates.join(',')}]`,
        );
    }
  return {
    status: done ? 'done' : row.status === 'done' ? 'failed' : row.status,
    error: done ? null : (row.error ?? unit!.error ?? 'the unit did not finish'),
    backend: row.backend,
    versions: row.versions,
    startedAt: unit!.startedAt,
    finishedAt: unit!.finishedAt,
    origin: row.notes,
    cells,
  };
}

// Authenticating unit files. The shared directory is the one place a task on a node and the submitting
// machine both reach, so whatever sits there (the manifest's token included) is known to anyone who
// can read it, and a unit file in units/ proves nothing by itself. So:
//
// - `sublab submit` draws a random 256-bit key per submission and keeps it in the submitter's store
//   (clusters.unit_key); it is never written to the shared directory.
// - sbatch hands it to the job through its environment: SUBLAB_UNIT_KEY is set in the environment of
//   the sbatch process (never on its command line, which `ps` shows everyone), named in sbatch's
//   --export, and the controller gives it to each array task's environment. A job's environment is
//   the job owner's: other users see neither it nor a task's /proc/PID/environ.
// - A task seals its unit: an HMAC-SHA256 with that key over everything collect would merge (the
//   submission's token, experiment and spec hash, the unit's index, cells and replicates, its status,
//   times, backend, and every result, metric and timing row), stored in the unit file
//   (clusters.unit_mac). `collect` recomputes it from what it read with the key from its own store
//   and refuses, by name, a file whose seal is missing or differs: one written or altered by someone
//   who could write units/ but does not hold the key.
//
// All tasks of a submission hold the same key (SLURM gives an array job one environment); what binds a
// seal to its unit is the unit's index and plan inside the sealed text.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { UnitPlan } from '../store/store.ts';
import type { UnitFileContent } from './unit-file.ts';

/** The environment variable that carries a submission's key to its tasks. */
export const UNIT_KEY_ENV = 'SUBLAB_UNIT_KEY';

/** What a seal is about besides the content: which submission, experiment, spec and unit. */
export interface SealedUnit {
  token: string;
  experimentId: number;
  specHash: string;
  unit: Pick<UnitPlan, 'index' | 'cells' | 'replicates'>;
}

/** A new submission's key, as stored (hex). */
export function newUnitKey(): string {
  return randomBytes(32).toString('hex');
}

/** The key in `text` (64 hex digits); `where` names its source in the error. */
export function parseUnitKey(text: string | undefined, where: string): Buffer {
  if (!text || !/^[0-9a-f]{64}$/i.test(text))
    throw new Error(`${where} ${text ? 'is not a unit key (64 hex digits)' : 'is not set'}`);
  return Buffer.from(text, 'hex');
}

/**
 * The seal (hex) of a unit's content: one JSON line per item fed to the HMAC (JSON has no raw newline,
 * so the lines cannot run into each other), counts before rows so rows cannot move between lists.
 */
export function unitSeal(key: Buffer, about: SealedUnit, content: UnitFileContent): string {
  const mac = createHmac('sha256', key);
  const line = (value: unknown) => mac.update(`${JSON.stringify(value)}\n`);
  const { index, cells, replicates } = about.unit;
  line({
    seal: 'sublab unit v1',
    token: about.token,
    experimentId: about.experimentId,
    specHash: about.specHash,
  });
  line({ index, cells, replicates });
  const { status, error, backend, versions, startedAt, finishedAt, origin } = content;
  line({ status, error, backend, versions, startedAt, finishedAt, origin, cells: content.cells.length });
  for (const cell of content.cells) {
    line({
      cell: cell.index,
      timings: cell.timings,
      results: cell.results.length,
      metrics: cell.metrics.length,
    });
    for (const row of cell.results) line(row);
    for (const row of cell.metrics) line(row);
  }
  return mac.digest('hex');
}

/** Whether `seal` is the unit's seal under `key` (compared in constant time). */
export function sealMatches(key: Buffer, about: SealedUnit, content: UnitFileContent, seal: string): boolean {
  const want = Buffer.from(unitSeal(key, about, content), 'hex');
  const got = Buffer.from(seal, 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}

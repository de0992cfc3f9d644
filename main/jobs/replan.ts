// After a trainer ran out of memory: what to tell the user, and on a resume the unfinished units cut
// into smaller shards. A unit's numbers depend only on its replicates' seeds, so a unit split in two
// stores exactly the rows the whole unit would have.
import type { BackendName } from '../../app/protocol.ts';
import type { ExperimentSpec } from '../../app/spec/schema.ts';
import { checkFit, staticLimits } from '../engine/limits.ts';
import type { UnitPlan, UnitRow } from '../store/store.ts';
import { planShards } from '../../app/shards.ts';

/** The trainer's out-of-memory message with what to change. */
export function outOfMemoryAdvice(
  error: string,
  experimentId: number,
  { replicates }: { replicates: number },
): string {
  const smaller = Math.max(1, Math.floor(replicates / 2));
  return (
    `${error}. Resume it in smaller shards: \`sublab resume ${experimentId} --max-shard ${smaller}\` ` +
    '(at most that many replicates per trainer; the finished units are kept), or run fewer replicates ' +
    '(--replicates); fewer --workers only helps when RAM, not the heap, ran out'
  );
}

/**
 * The unfinished units holding more replicates than one trainer may now hold (the estimate has
 * changed, or the user set `maxShard`), and contiguous shards of at most that many to replace them,
 * with new indices; null when none is too large.
 */
export function splitOversizedUnits(
  units: readonly UnitRow[],
  spec: ExperimentSpec,
  backend: BackendName,
  workers: number,
  maxShard: number | undefined,
): { removed: number[]; added: UnitPlan[] } | null {
  const fit = checkFit(spec, staticLimits(backend), workers, maxShard);
  if (!fit.ok) throw new Error(fit.error);
  const max = fit.maxReplicatesPerTrainer;
  const oversized = units.filter((u) => u.status !== 'done' && u.replicates.length > max);
  if (oversized.length === 0) return null;
  let next = Math.max(...units.map((u) => u.index)) + 1;
  const added = oversized.flatMap((u) =>
    planShards(u.replicates.length, 1, max).map((part) => ({
      index: next++,
      group: u.group,
      cells: [...u.cells],
      replicates: part.map((i) => u.replicates[i]!),
    })),
  );
  return { removed: oversized.map((u) => u.index), added };
}

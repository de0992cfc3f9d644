// Test helper: an ExperimentDetail as main/api/service.ts serves it, made from per-replicate accuracies
// through the same summaries (Student-t, paired comparisons, Holm), without a store or a training.
import type { CellDetail, ExperimentDetail, ResultPoint, RunEnvironment } from '../api.ts';
import { adjustAcrossCells, cellComparisons } from '../comparisons.ts';
import { CONDITIONS, type Condition } from '../conditions.ts';
import { expandMatrix } from '../matrix.ts';
import { specHash } from '../spec/hash.ts';
import type { ExperimentSpec } from '../spec/schema.ts';
import { mustValidate } from '../spec/validate.ts';
import { summarize, summarizeKept, type IntervalMethod } from '../stats.ts';

/** Two cells: the paper's same-init student, and a different-init one (its student is its control). */
export const INITS_SPEC = mustValidate({
  version: 1,
  name: 'inits',
  replicates: 3,
  matrix: { architectures: [{ kind: 'same-init' }, { kind: 'different-init' }] },
});

export interface DetailOptions {
  id?: number;
  /** Accuracy of a model; null for one that diverged. */
  accuracy: (cell: number, condition: Condition, replicate: number) => number | null;
  trait?: (cell: number, condition: Condition, replicate: number) => number;
  environments?: RunEnvironment[] | null;
  versions?: Record<string, string> | null;
  interval?: IntervalMethod;
}

export function makeDetail(spec: ExperimentSpec, options: DetailOptions): ExperimentDetail {
  const method = options.interval ?? 't';
  const cells = expandMatrix(spec);
  const results: ResultPoint[] = cells.flatMap((cell) =>
    CONDITIONS.flatMap((condition) =>
      cell.seeds.map((seed, replicate) => {
        const accuracy = options.accuracy(cell.index, condition, replicate);
        return {
          cell: cell.index,
          condition,
          replicate,
          seed,
          accuracy,
          traitScore: accuracy === null ? null : (options.trait?.(cell.index, condition, replicate) ?? null),
          diverged:
            accuracy === null
              ? { phase: 'students' as const, step: 3, reason: 'non-finite loss' as const }
              : null,
        };
      }),
    ),
  );
  const cellDetails: CellDetail[] = cells.map((cell) => {
    const mine = results.filter((r) => r.cell === cell.index);
    const conditions: CellDetail['conditions'] = {};
    for (const condition of CONDITIONS) {
      const rows = mine.filter((r) => r.condition === condition);
      const traits = rows.map((r) => r.traitScore).filter((v): v is number => v !== null);
      conditions[condition] = {
        ...summarizeKept(
          rows.map((r) => r.accuracy),
          method,
        ),
        ...(traits.length > 0 ? { trait: summarize(traits, method) } : {}),
      };
    }
    return {
      index: cell.index,
      coords: cell.coords,
      status: 'done',
      error: null,
      diverged: mine.filter((r) => r.diverged).length,
      conditions,
      comparisons: cellComparisons(mine, method),
    };
  });
  adjustAcrossCells(cellDetails);
  return {
    id: options.id ?? 1,
    name: spec.name,
    status: 'done',
    createdAt: '2026-12-01T09:00:00.000Z',
    tags: spec.tags,
    notes: '',
    specHash: specHash(spec),
    cells: cells.length,
    replicates: spec.replicates,
    backend: 'wasm',
    wallSeconds: 83.5,
    spec,
    error: null,
    versions:
      options.versions !== undefined
        ? options.versions
        : { 'tfjs-core': '4.22.0', node: '20.20.2', 'tfjs-backend-wasm': '4.22.0' },
    startedAt: '2026-12-01T09:00:01.000Z',
    finishedAt: '2026-12-01T09:01:24.500Z',
    environments: options.environments === undefined ? null : options.environments,
    cluster: null,
    cellDetails,
    results,
    interval: method,
  };
}

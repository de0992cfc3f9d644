// Per-cell, per-condition summaries (mean, 95% CI, N) of a stored experiment: what `sublab run`
// prints and what `--json` returns.
import { CONDITIONS, type Condition } from '../../app/conditions.ts';
import type { CellCoords } from '../../app/matrix.ts';
import { summarize, type Summary } from '../../app/stats.ts';
import type { RunStore } from '../store/store.ts';

export interface CellSummary {
  index: number;
  coords: CellCoords;
  status: string;
  conditions: Partial<Record<Condition, Summary>>;
}

export interface ExperimentSummary {
  experimentId: number;
  name: string;
  status: string;
  backend: string | null;
  wallSeconds: number | null;
  cells: CellSummary[];
}

export function summarizeExperiment(store: RunStore, experimentId: number): ExperimentSummary {
  const experiment = store.getExperiment(experimentId);
  if (!experiment) throw new Error(`no experiment with id ${experimentId} in ${store.path}`);
  const cells = store.cells(experimentId).map((row) => {
    const results = store.results(row.id);
    const conditions: Partial<Record<Condition, Summary>> = {};
    for (const condition of CONDITIONS) {
      const values = results.filter((r) => r.condition === condition).map((r) => r.accuracy);
      if (values.length > 0) conditions[condition] = summarize(values);
    }
    return { index: row.index, coords: row.cell.coords, status: row.status, conditions };
  });
  return {
    experimentId,
    name: experiment.name,
    status: experiment.status,
    backend: experiment.backend,
    wallSeconds: experiment.wallSeconds,
    cells,
  };
}

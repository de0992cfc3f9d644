// Per-cell, per-condition summaries (mean, 95% CI, N) of a stored experiment: what `sublab run`
// prints and what `--json` returns.
import {
  adjustAnalysisAcrossCells,
  ANALYSIS_PREFIXES,
  summarizeAnalysis,
  type AnalysisSummary,
} from '../../app/analysis.ts';
import { CONDITIONS, type Condition } from '../../app/conditions.ts';
import type { CellCoords } from '../../app/matrix.ts';
import { adjustAcrossCells, cellComparisons, type ComparisonSummary } from '../../app/comparisons.ts';
import {
  summarize,
  summarizeKept,
  type IntervalMethod,
  type IntervalSummary,
  type KeptSummary,
} from '../../app/stats.ts';
import type { RunStore } from '../store/store.ts';

/**
 * Test accuracy, and for preference/backdoor traits the trait's rate on its probe set, over the
 * models that did not diverge; `diverged` counts those that did (n does not include them).
 */
export type ConditionSummary = KeptSummary & { trait?: IntervalSummary };

export interface CellSummary {
  index: number;
  coords: CellCoords;
  /** `done` even when some models diverged: they are results, counted in `diverged`. */
  status: string;
  /** Models of this cell (all conditions) that diverged. */
  diverged: number;
  conditions: Partial<Record<Condition, ConditionSummary>>;
  /** Fraction of the teacher's outputs the filter rejected (number channel, detector), last epoch. */
  rejectionRate?: IntervalSummary;
  /** Paired differences per replicate (student minus cross-init, ...), Holm-corrected across cells. */
  comparisons: ComparisonSummary[];
  /**
   * The representation analysis at the end (CKA per layer, the linear probe): each condition's last
   * recorded value; absent when the run recorded none.
   */
  analysis?: AnalysisSummary[];
}

export interface ExperimentSummary {
  experimentId: number;
  name: string;
  status: string;
  backend: string | null;
  wallSeconds: number | null;
  cells: CellSummary[];
  /** How every interval of this summary was made. */
  interval: IntervalMethod;
}

export function summarizeExperiment(
  store: RunStore,
  experimentId: number,
  interval: IntervalMethod = 't',
): ExperimentSummary {
  const experiment = store.getExperiment(experimentId);
  if (!experiment) throw new Error(`no experiment with id ${experimentId} in ${store.path}`);
  const cells = store.cells(experimentId).map((row) => {
    const results = store.results(row.id);
    const conditions: Partial<Record<Condition, ConditionSummary>> = {};
    for (const condition of CONDITIONS) {
      const mine = results.filter((r) => r.condition === condition);
      if (mine.length === 0) continue;
      const traits = mine.map((r) => r.traitScore).filter((v): v is number => v !== null);
      conditions[condition] = {
        ...summarizeKept(
          mine.map((r) => r.accuracy),
          interval,
        ),
        ...(traits.length > 0 ? { trait: summarize(traits, interval) } : {}),
      };
    }
    // Only models that finished training: a failed unit leaves its untrained step-0 analysis behind.
    const trained = new Set(results.map((r) => r.replicate));
    const analysis = summarizeAnalysis(
      store.finalMetrics(row.id, ANALYSIS_PREFIXES).filter((m) => trained.has(m.replicate)),
      interval,
    );
    const rejections = store.metrics(row.id, { condition: 'student', name: 'rejection_rate' });
    const lastStep = Math.max(...rejections.map((m) => m.step));
    const last = rejections.filter((m) => m.step === lastStep).map((m) => m.value);
    return {
      index: row.index,
      coords: row.cell.coords,
      status: row.status,
      diverged: results.filter((r) => r.diverged).length,
      conditions,
      comparisons: cellComparisons(results, interval),
      ...(last.length > 0 ? { rejectionRate: summarize(last, interval) } : {}),
      ...(analysis.length > 0 ? { analysis } : {}),
    };
  });
  adjustAcrossCells(cells);
  adjustAnalysisAcrossCells(cells);
  return {
    experimentId,
    name: experiment.name,
    status: experiment.status,
    backend: experiment.backend,
    wallSeconds: experiment.wallSeconds,
    cells,
    interval,
  };
}

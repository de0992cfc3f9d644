// Test helper: hooks that only collect the metric rows a run emits.
import type { MetricRow } from '../../../app/protocol.ts';
import type { CellHooks, GroupHooks } from '../procedure.ts';

export function collectingHooks(): { hooks: CellHooks; metrics: MetricRow[] } {
  const metrics: MetricRow[] = [];
  return {
    metrics,
    hooks: {
      phase: () => {},
      progress: () => {},
      metrics: (rows) => metrics.push(...rows),
      checkpoint: async () => {},
    },
  };
}

export function collectingGroupHooks(): { hooks: GroupHooks; metrics: Map<number, MetricRow[]> } {
  const metrics = new Map<number, MetricRow[]>();
  return {
    metrics,
    hooks: {
      phase: () => {},
      progress: () => {},
      metrics: (cell, rows) => metrics.set(cell, [...(metrics.get(cell) ?? []), ...rows]),
      checkpoint: async () => {},
    },
  };
}

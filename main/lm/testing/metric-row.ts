// A stored metric row as the language runner writes it (one value per model, replicate and name), for
// tests that build a store's results by hand.
import type { MetricRow } from '../../../app/protocol.ts';

export const metricRow = (condition: string, replicate: number, name: string, value: number): MetricRow => ({
  condition: condition as MetricRow['condition'],
  replicate,
  step: 0,
  name,
  value,
});

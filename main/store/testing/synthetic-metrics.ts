// An experiment with as many metric rows as a test needs, written by one INSERT ... SELECT (2 M rows in
// a few seconds): every cell x condition x metric x step x replicate, with values that vary with each.
import { expandMatrix } from '../../../app/matrix.ts';
import { validateSpec } from '../../../app/spec/validate.ts';
import { tinyClassifierSpec } from '../../../app/testing/tiny-spec.ts';
import type { RunStore } from '../store.ts';

export interface MetricShape {
  cells: number;
  conditions: readonly string[];
  names: readonly string[];
  steps: number;
  replicates: number;
}

export function metricRowCount(shape: MetricShape): number {
  return shape.cells * shape.conditions.length * shape.names.length * shape.steps * shape.replicates;
}

/** Stores an experiment of `shape.cells` cells (copies of one cell) and its metric rows; returns its id. */
export function syntheticExperiment(store: RunStore, name: string, shape: MetricShape): number {
  const checked = validateSpec({ ...tinyClassifierSpec(name), replicates: shape.replicates });
  if (!checked.ok) throw new Error(checked.errors.map((e) => `${e.path}: ${e.message}`).join('; '));
  const cell = expandMatrix(checked.spec)[0]!;
  const cells = Array.from({ length: shape.cells }, (_, index) => ({ ...cell, index }));
  const id = store.createExperiment(checked.spec, cells);
  store.db
    .prepare(
      `WITH RECURSIVE s(step) AS (SELECT 0 UNION ALL SELECT step + 1 FROM s WHERE step < @steps - 1),
       r(rep) AS (SELECT 0 UNION ALL SELECT rep + 1 FROM r WHERE rep < @replicates - 1),
       cond AS (SELECT value AS condition FROM json_each(@conditions)),
       nm AS (SELECT key AS k, value AS name FROM json_each(@names)),
       c AS (SELECT id FROM cells WHERE experiment_id = @id)
       INSERT INTO metrics (cell_id, condition, replicate, step, name, value)
       SELECT c.id, cond.condition, r.rep, s.step, nm.name,
              1.0 / (1 + s.step) + ((c.id * 7919 + s.step * 104729 + r.rep * 1299709 + nm.k * 31) % 1000) / 1000.0
       FROM c, cond, nm, s, r`,
    )
    .run({
      id,
      steps: shape.steps,
      replicates: shape.replicates,
      conditions: JSON.stringify(shape.conditions),
      names: JSON.stringify(shape.names),
    });
  return id;
}

// A job's time left as one story: each progress row says its own, and the job's headline is their
// sum (app/progress-rows.ts secondsLeft). A row that runs is timed by its own measured step rate; one
// still waiting by how much training it is (model-samples) at the speed measured so far in its kind
// of training, or before anything is measured, at the throughput this store has measured
// (app/estimate.ts).
import type { PhaseProgress } from './api.ts';
import type { Phase } from './protocol.ts';
import { trainSize } from './estimate.ts';
import { etaSlots, rowKey } from './progress-rows.ts';
import { cellSettings, expandMatrix } from './matrix.ts';
import type { ExperimentSpec } from './spec/schema.ts';
import { STUDENT_CONDITIONS } from './conditions.ts';

/**
 * Model-samples behind each progress row (keyed as `rowWeightKey`): a group's teacher once for all
 * the cells it serves, each cell's students. Data loading trains nothing and weighs nothing.
 */
export function phaseWeights(
  spec: ExperimentSpec,
  groups: readonly (readonly number[])[],
): Map<string, number> {
  const cells = expandMatrix(spec);
  const settings = (index: number) => cellSettings(spec, cells[index]!);
  const weights = new Map<string, number>();
  for (const group of groups) {
    const s = settings(group[0]!);
    weights.set(
      rowWeightKey({ phase: 'teacher', cells: group }),
      s.replicates * trainSize(s) * s.teacher.epochs,
    );
    for (const cell of group) {
      const c = settings(cell);
      weights.set(
        rowWeightKey({ phase: 'students', cells: [cell] }),
        c.replicates * STUDENT_CONDITIONS.length * c.student.inputs.count * c.student.epochs,
      );
    }
  }
  return weights;
}

export function rowWeightKey(row: { phase: Phase; cells: readonly number[] }): string {
  return `${row.phase}:${row.cells.join(',')}`;
}

/** A kind of training whose speed is measured on its own: teachers and students differ. */
type Kind = 'teacher' | 'students';

/** A slot of rows with one time left: a group's teacher row, or the student rows under it. */
interface Slot {
  first: number;
  kind: Kind;
  rows: PhaseProgress[];
  /** Model-samples of the slot's training (app/job-eta.ts phaseWeights). */
  weight: number;
}

function slotsOf(rows: readonly PhaseProgress[], weights: Map<string, number>): Slot[] {
  const heads = etaSlots(rows);
  const slots = new Map<number, Slot>();
  for (const [i, row] of rows.entries()) {
    const kind: Kind = row.phase === 'students' ? 'students' : 'teacher';
    const slot = slots.get(heads[i]!) ?? { first: heads[i]!, kind, rows: [], weight: 0 };
    slot.rows.push(row);
    slot.weight += weights.get(rowWeightKey({ phase: kind, cells: row.cells })) ?? 0;
    slots.set(heads[i]!, slot);
  }
  return [...slots.values()];
}

/** The slot's training phase has begun (a group row loading data has not begun its teacher). */
const begun = (slot: Slot) => {
  const row = slot.rows[0]!;
  return !row.waiting && row.phase !== 'data' && row.totalSteps > 0;
};
const done = (slot: Slot) => begun(slot) && slot.rows[0]!.step >= slot.rows[0]!.totalSteps;
const measured = (slot: Slot, stepRates: ReadonlyMap<string, number>) =>
  slot.rows.map((r) => stepRates.get(rowKey(r))).find((r) => r !== undefined && r > 0);

/**
 * Every row's seconds left, one story that adds up: a running slot at its own measured step rate; a
 * slot not measured yet at the model-samples per second measured in its kind of training (else the
 * other kind, else `priorRate`, the store's). `stepRates`: steps per second of running rows, by rowKey.
 */
export function withEtas(
  rows: readonly PhaseProgress[],
  weights: Map<string, number>,
  stepRates: ReadonlyMap<string, number>,
  priorRate: number,
): PhaseProgress[] {
  const slots = slotsOf(rows, weights);
  const rates: Partial<Record<Kind, number>> = {};
  for (const slot of slots) {
    const rate = measured(slot, stepRates);
    if (rate && begun(slot) && !done(slot) && slot.weight > 0)
      rates[slot.kind] = (rate * slot.weight) / slot.rows[0]!.totalSteps;
  }
  const rateOf = (kind: Kind) =>
    rates[kind] ?? rates[kind === 'teacher' ? 'students' : 'teacher'] ?? Math.max(1, priorRate);
  const out = rows.map((r) => ({ ...r }));
  for (const slot of slots) {
    const { step, totalSteps } = slot.rows[0]!;
    const stepRate = measured(slot, stepRates);
    const left = !begun(slot) ? 1 : Math.max(0, 1 - step / totalSteps);
    const seconds = done(slot)
      ? 0
      : stepRate && begun(slot)
        ? (totalSteps - step) / stepRate
        : (slot.weight * left) / rateOf(slot.kind);
    for (let k = 0; k < slot.rows.length; k++) out[slot.first + k]!.etaSeconds = seconds;
  }
  return out;
}

// Sweep axes: `matrix.sweeps` lists (spec path, values) pairs, each one more axis of the matrix. A
// cell's settings are the spec with its sweep values set as `--set` would set them, on the spec with
// its defaults filled in (so `student.inputs.count` can be swept without writing out `inputs`), then
// validated as a whole: a value is accepted exactly when a spec with it set would be.
import { z } from 'zod';
import { applyOverride } from './overrides.ts';
import type { Architecture, ExperimentSpec, Filter, Trait } from './schema.ts';

export const SweepSchema = z.strictObject({
  /** A dotted spec path, as `--set` takes it: `student.learningRate`, `model.hidden`, `model.hidden.0`. */
  path: z
    .string()
    .regex(
      /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)*$/,
      'expected a dotted field path such as student.learningRate',
    ),
  values: z.array(z.json()).min(1).max(100),
});
export type SweepAxis = z.output<typeof SweepSchema>;

/** Fields that are not knobs of a cell: the matrix itself, and what makes replicates a paired design. */
const NOT_SWEEPABLE: Record<string, string> = {
  version: 'the spec format version',
  name: "the experiment's name",
  description: "the experiment's description",
  tags: "the experiment's tags",
  matrix: 'the matrix (list values in matrix.traits, filters or architectures instead)',
  replicates: 'the number of replicates (every cell has the same seeds, so cells are paired)',
  seed: 'the base seed (every cell has the same seeds, so cells are paired)',
};

/** The most cells a matrix may expand to; beyond it a spec is almost surely a mistake. */
export const MAX_CELLS = 4096;

/** Problems with the axes themselves (before any value is tried); path-relative messages. */
export function sweepAxisProblems(sweeps: readonly SweepAxis[]): { index: number; message: string }[] {
  const problems: { index: number; message: string }[] = [];
  sweeps.forEach((axis, index) => {
    const root = axis.path.split('.')[0]!;
    if (root in NOT_SWEEPABLE)
      problems.push({ index, message: `${axis.path} cannot be swept: it is ${NOT_SWEEPABLE[root]}` });
    const distinct = new Set(axis.values.map((v) => JSON.stringify(v)));
    if (distinct.size !== axis.values.length)
      problems.push({ index, message: `the values of ${axis.path} repeat; list each value once` });
    sweeps.slice(0, index).forEach((other) => {
      const a = `${axis.path}.`;
      const b = `${other.path}.`;
      if (a.startsWith(b) || b.startsWith(a))
        problems.push({
          index,
          message: `${axis.path} overlaps the sweep of ${other.path}; sweep one of them`,
        });
    });
  });
  return problems;
}

/** One cell's choice on every axis: its traits, filter, architecture and a value per sweep. */
export interface CellChoice {
  trait: Trait;
  filter: Filter;
  architecture: Architecture;
  /** Sweep path -> value, in axis order. */
  sweep: Record<string, unknown>;
}

/**
 * The raw settings of one cell: the spec narrowed to the cell's matrix values, with its sweep values
 * set. Validate the result to get the cell's ExperimentSpec.
 */
export function cellSettingsInput(spec: ExperimentSpec, choice: CellChoice): unknown {
  const matrix = {
    traits: [choice.trait],
    filters: [choice.filter],
    architectures: [choice.architecture],
    sweeps: [],
  };
  return withSweepValues({ ...spec, matrix }, choice.sweep);
}

/** `raw` with each sweep value set at its path, as `--set` sets it (raw is copied, not changed). */
export function withSweepValues(raw: unknown, sweep: Record<string, unknown>): unknown {
  for (const [path, value] of Object.entries(sweep)) raw = applyOverride(raw, path.split('.'), value);
  return raw;
}

/** Every combination of sweep values, first axis slowest. */
export function sweepCombinations(sweeps: readonly SweepAxis[]): Record<string, unknown>[] {
  let combos: Record<string, unknown>[] = [{}];
  for (const axis of sweeps)
    combos = combos.flatMap((combo) => axis.values.map((value) => ({ ...combo, [axis.path]: value })));
  return combos;
}

/**
 * A short text for a swept value: numbers as written, strings bare, an object with a `kind` as the
 * kind and its other fields (`correlated sigma=2`), other arrays and objects as JSON.
 */
export function sweepValueLabel(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const { kind, ...rest } = value as Record<string, unknown>;
    if (typeof kind === 'string')
      return [kind, ...Object.entries(rest).map(([k, v]) => `${k}=${sweepValueLabel(v)}`)].join(' ');
  }
  return JSON.stringify(value);
}

/** `student.learningRate=0.001, model.auxLogits=3` (empty for a cell of a matrix without sweeps). */
export function sweepLabel(sweep: Record<string, unknown> | undefined): string {
  return Object.entries(sweep ?? {})
    .map(([path, value]) => `${path}=${sweepValueLabel(value)}`)
    .join(', ');
}

/** JSON with object keys sorted, so equal settings give equal keys whatever their order. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

/**
 * What a teacher depends on: cells with equal keys share one teacher (so a sweep over student fields
 * trains one teacher per trait). Anything the teacher phase reads must be listed here.
 */
export function teacherKey(settings: ExperimentSpec): string {
  const { dataset, model, teacher, seed, replicates, lossEvery } = settings;
  return stableJson({
    trait: settings.matrix.traits[0],
    dataset,
    model,
    teacher,
    seed,
    replicates,
    lossEvery,
  });
}

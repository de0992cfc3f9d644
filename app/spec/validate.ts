// Turns raw JSON into an ExperimentSpec, or into a list of errors that each name the field's path,
// what was expected and what was found, so a researcher can fix a spec file without reading code.
import type { z } from 'zod';
import { ExperimentSpecSchema, type ExperimentSpec } from './schema.ts';
import {
  MAX_CELLS,
  cellSettingsInput,
  sweepAxisProblems,
  sweepCombinations,
  sweepLabel,
  sweepValueLabel,
} from './sweeps.ts';

export interface SpecError {
  /** Dotted path with array indices, e.g. `matrix.filters[0].keep`; `(root)` for the whole spec. */
  path: string;
  message: string;
}

export type SpecResult = { ok: true; spec: ExperimentSpec } | { ok: false; errors: SpecError[] };

export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): { found: boolean; value: unknown } {
  let cur: unknown = input;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || !(key in (cur as object)))
      return { found: false, value: undefined };
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return { found: true, value: cur };
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function messageFor(issue: z.core.$ZodIssue, input: unknown): string {
  if (issue.code === 'unrecognized_keys') {
    return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  }
  const got = valueAt(input, issue.path);
  if (issue.code === 'invalid_type' && !got.found)
    return `${issue.message.replace(/, received undefined$/, '')}, but it is missing`;
  if (issue.code === 'custom') return issue.message;
  return got.found ? `${issue.message} (got ${describe(got.value)})` : issue.message;
}

function schemaErrors(input: unknown): SpecResult {
  const result = ExperimentSpecSchema.safeParse(input);
  if (result.success) return { ok: true, spec: result.data };
  const errors = result.error.issues.map((issue) => ({
    path: formatPath(issue.path),
    message: messageFor(issue, input),
  }));
  return { ok: false, errors };
}

/** `path = value: the field's own message`, without repeating the path when the field is the axis. */
function sweepMessage(setting: string, error: SpecError, axisPath: string): string {
  const field = error.path === axisPath ? '' : `${error.path}: `;
  return `${setting}: ${field}${error.message}`;
}

const MAX_SWEEP_ERRORS = 10;

/**
 * Every sweep value is checked as if it were set alone, then every cell's combination (a value can be
 * fine alone and clash with another axis or a filter, e.g. auxLogits 0 with the "aux" filter).
 */
function sweepErrors(spec: ExperimentSpec): SpecError[] {
  const { sweeps, traits, filters, architectures } = spec.matrix;
  if (sweeps.length === 0) return [];
  const axisErrors = sweepAxisProblems(sweeps).map((p) => ({
    path: `matrix.sweeps[${p.index}].path`,
    message: p.message,
  }));
  if (axisErrors.length > 0) return axisErrors;
  const cells =
    traits.length * filters.length * architectures.length * sweeps.reduce((n, a) => n * a.values.length, 1);
  if (cells > MAX_CELLS)
    return [
      {
        path: 'matrix.sweeps',
        message: `the matrix has ${cells} cells; at most ${MAX_CELLS} are allowed (fewer values or axes)`,
      },
    ];
  const errors: SpecError[] = [];
  const first = { trait: traits[0]!, filter: filters[0]!, architecture: architectures[0]! };
  sweeps.forEach((axis, i) =>
    axis.values.forEach((value, j) => {
      const result = schemaErrors(cellSettingsInput(spec, { ...first, sweep: { [axis.path]: value } }));
      if (!result.ok)
        for (const e of result.errors)
          errors.push({
            path: `matrix.sweeps[${i}].values[${j}]`,
            message: sweepMessage(`${axis.path} = ${sweepValueLabel(value)}`, e, axis.path),
          });
    }),
  );
  if (errors.length > 0) return errors.slice(0, MAX_SWEEP_ERRORS);
  for (const trait of traits)
    for (const filter of filters)
      for (const architecture of architectures)
        for (const sweep of sweepCombinations(sweeps)) {
          const result = schemaErrors(cellSettingsInput(spec, { trait, filter, architecture, sweep }));
          if (result.ok) continue;
          for (const e of result.errors)
            errors.push({
              path: 'matrix.sweeps',
              message: sweepMessage(`the cell with ${sweepLabel(sweep)}`, e, ''),
            });
          if (errors.length >= MAX_SWEEP_ERRORS) return errors.slice(0, MAX_SWEEP_ERRORS);
        }
  return errors;
}

export function validateSpec(input: unknown): SpecResult {
  const result = schemaErrors(input);
  if (!result.ok) return result;
  const errors = sweepErrors(result.spec);
  return errors.length > 0 ? { ok: false, errors } : result;
}

export function parseSpecJson(text: string): SpecResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return {
      ok: false,
      errors: [{ path: '(root)', message: `not valid JSON: ${(error as Error).message}` }],
    };
  }
  return validateSpec(json);
}

export class SpecValidationError extends Error {
  constructor(readonly errors: SpecError[]) {
    super(`invalid experiment spec:\n${errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}`);
    this.name = 'SpecValidationError';
  }
}

export function mustValidate(input: unknown): ExperimentSpec {
  const result = validateSpec(input);
  if (!result.ok) throw new SpecValidationError(result.errors);
  return result.spec;
}

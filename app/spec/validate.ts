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

/** A family's schema applied to raw input: the spec, or every problem named by its path. */
export function parseSpec<S extends z.ZodType>(
  schema: S,
  input: unknown,
): { ok: true; spec: z.output<S> } | { ok: false; errors: SpecError[] } {
  const r = schema.safeParse(input);
  if (r.success) return { ok: true, spec: r.data };
  return { ok: false, errors: r.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })) };
}

/** Whether raw input declares the given spec family in its `kind`. */
export function hasKind(input: unknown, kind: string): boolean {
  return typeof input === 'object' && input !== null && (input as { kind?: unknown }).kind === kind;
}

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

/** Why a field has its limits, in the researcher's terms; the generic wording says the rest. */
const REASONS: { path: RegExp; code?: string; reason: string }[] = [
  {
    path: /^replicates$/,
    code: 'too_small',
    reason: "at least 2 seeds: each cross-init control starts from another seed's init",
  },
  { path: /^version$/, reason: 'this lab reads spec version 1' },
  { path: /^name$/, code: 'too_small', reason: 'give the experiment a name' },
  { path: /learningRate$/, code: 'too_big', reason: 'at most 10: larger learning rates only diverge' },
  {
    path: /^dataset\.trainSize$/,
    code: 'too_big',
    reason: 'at most 9999: the offline MNIST has 10,000 digits and keeps at least one for testing',
  },
  {
    path: /^student\.inputs\.alpha$/,
    reason: "the image's share of each input: from 0 (noise only) to 1 (the image only)",
  },
  {
    path: /^student\.inputs\.sigma$/,
    reason: "the blur's width in pixels: greater than 0 and at most 28, the image's side",
  },
  {
    path: /^student\.inputs\.k$/,
    reason: "the subspace's dimension: a whole number from 1 to 784, the image's pixel count",
  },
  {
    path: /poisonFraction$/,
    reason: 'a fraction between 0 and 1 (both excluded): some digits must stay clean',
  },
];

const TYPE_NAMES: Record<string, string> = {
  int: 'a whole number',
  number: 'a number',
  string: 'text',
  boolean: 'true or false',
  object: 'an object ({...})',
  array: 'a list ([...])',
};

type Issue = z.core.$ZodIssue;

/** The limit a too_small / too_big issue states, in words. */
function boundText(issue: Issue & { code: 'too_small' | 'too_big' }): string {
  const small = issue.code === 'too_small';
  const bound = Number(small ? issue.minimum : issue.maximum);
  switch (issue.origin) {
    case 'string':
      return small
        ? bound <= 1
          ? 'must not be empty'
          : `needs at least ${bound} characters`
        : `has at most ${bound} characters`;
    case 'array':
      return small ? `needs at least ${bound} item${bound === 1 ? '' : 's'}` : `has at most ${bound} items`;
    default:
      if (small) return issue.inclusive ? `must be at least ${bound}` : `must be greater than ${bound}`;
      return issue.inclusive ? `must be at most ${bound}` : `must be less than ${bound}`;
  }
}

/** A zod issue in plain words: what the field must be (the value found is added by the caller). */
function plainWords(issue: Issue, found: boolean): string {
  switch (issue.code) {
    case 'too_small':
    case 'too_big':
      return boundText(issue);
    case 'invalid_type': {
      const what = TYPE_NAMES[issue.expected] ?? issue.expected;
      return found ? `must be ${what}` : `is missing: ${what} is required`;
    }
    case 'invalid_value':
      return issue.values.length === 1
        ? `must be ${JSON.stringify(issue.values[0])}`
        : `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_union': {
      const options = /Expected (.*)$/.exec(issue.message)?.[1];
      return options
        ? `must be one of ${options.replaceAll("'", '"').replaceAll(' | ', ', ')}`
        : issue.message;
    }
    default:
      return issue.message;
  }
}

function messageFor(issue: Issue, input: unknown): string {
  if (issue.code === 'unrecognized_keys') {
    return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  }
  if (issue.code === 'custom') return issue.message;
  const got = valueAt(input, issue.path);
  const path = formatPath(issue.path);
  const reason = REASONS.find((r) => r.path.test(path) && (!r.code || r.code === issue.code))?.reason;
  const words = reason ?? plainWords(issue, got.found);
  return got.found ? `${words} (got ${describe(got.value)})` : words;
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

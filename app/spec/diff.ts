// What differs between experiments' specs, by path: what a comparison of their results has to
// account for. Objects are walked down to their fields; a list is one setting (its order matters,
// and a matrix axis's list is read as a whole).
import { sweepValueLabel } from './sweeps.ts';

/** One setting whose value is not the same in every spec; `values` in the specs' order. */
export interface SettingDifference {
  path: string;
  values: string[];
}

/** Fields that name and describe an experiment and change nothing about what runs. */
const LABELS = new Set(['name', 'description', 'tags']);

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** Every leaf of a spec as path -> value (lists are leaves). */
function leaves(value: unknown, path: string, into: Map<string, unknown>): Map<string, unknown> {
  if (!isObject(value)) into.set(path, value);
  else for (const [key, child] of Object.entries(value)) leaves(child, path ? `${path}.${key}` : key, into);
  return into;
}

/** A setting's value as the compare view writes it: `0.001`, `logits keep=aux`, `[256, 256]`. */
export function settingText(value: unknown): string {
  if (value === undefined) return 'not set';
  if (Array.isArray(value)) return `[${value.map(settingText).join(', ')}]`;
  return sweepValueLabel(value);
}

/** The settings whose values differ between `specs`, in the first spec's field order, then the rest's. */
export function specDifferences(specs: readonly unknown[]): SettingDifference[] {
  const flat = specs.map((spec) => leaves(spec, '', new Map()));
  const paths = [...new Set(flat.flatMap((f) => [...f.keys()]))].filter(
    (path) => !LABELS.has(path.split('.')[0]!),
  );
  return paths
    .map((path) => ({ path, texts: flat.map((f) => settingText(f.get(path))) }))
    .filter(({ texts }) => new Set(texts).size > 1)
    .map(({ path, texts }) => ({ path, values: texts }));
}

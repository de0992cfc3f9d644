// The pipeline's options for a tiny replicate, made as a run makes them (spec -> validated cell ->
// cellOptions), so tests that call runReplicate directly set levers by their spec fields.
import { expandLanguageMatrix, validateLanguageSpec } from '../../../app/spec/language.ts';
import { cellOptions } from '../options.ts';
import type { LanguageOptions } from '../pipeline.ts';
import { tinyLanguageSpec } from './tiny-spec.ts';

/** The tiny spec with `fields` (whole top-level sections) set, as one cell's options. */
export function tinyOptions(fields: Record<string, unknown> = {}): LanguageOptions {
  const r = validateLanguageSpec({ ...tinyLanguageSpec('tiny options'), ...fields });
  if (!r.ok) throw new Error(`invalid tiny spec: ${JSON.stringify(r.errors)}`);
  return cellOptions(expandLanguageMatrix(r.spec, [0]).cells[0]!);
}

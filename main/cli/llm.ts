// The CLI's path for llm specs (kind "llm", issue 28): validation with the same overrides (--set) as
// the other families. Running one needs the provider stages, which are not wired to the CLI yet, so
// `run` says so before touching the database.
import { readFileSync } from 'node:fs';
import { expandLlmMatrix, isLlmInput, validateLlmSpec, type LlmSpec } from '../../app/spec/llm.ts';
import { applyOverrides, CliError } from './common.ts';

/** The spec file's JSON when it is an llm spec, else null (the other paths read it). */
export function llmInput(file: string): unknown {
  try {
    const json: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return isLlmInput(json) ? json : null;
  } catch {
    return null; // unreadable or not JSON: the classifier path reports it
  }
}

export function readLlmSpec(file: string, json: unknown, overrides: readonly string[]): LlmSpec {
  const r = validateLlmSpec(applyOverrides(json, overrides));
  if (!r.ok)
    throw new CliError(
      `${file} is not a valid llm spec:\n${r.errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}`,
    );
  return r.spec;
}

/** `validate`'s line for an llm spec: its cells, replicates and provider. */
export function llmValidLine(file: string, spec: LlmSpec): string {
  const cells = expandLlmMatrix(spec).cells.length;
  return `${file}: valid llm spec (${cells} cell(s) x ${spec.replicates} replicates, provider ${spec.provider})\n`;
}

export function refuseLlmRun(file: string): never {
  throw new CliError(
    `${file} is an llm spec: running llm experiments from the CLI is not available yet (issue 28); ` +
      '`sublab validate` checks it',
  );
}

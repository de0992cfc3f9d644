// What the CLI's commands share: errors that end the process with a message, reading a spec with
// overrides, option parsers and the store and backend options.
import { InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { applyOverride, parseOverride } from '../../app/spec/overrides.ts';
import { parseSpecJson, validateSpec, type SpecResult } from '../../app/spec/validate.ts';
import { BACKENDS } from '../../app/protocol.ts';
import { RunStore } from '../store/store.ts';
import { defaultDbPath } from './paths.ts';

/** Ends the command: its message goes to stderr, the process exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Reads a spec file; `overrides` (path=value) are applied to its JSON before validation. */
export function readSpec(file: string, overrides: readonly string[] = []): SpecResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(
      `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  if (overrides.length === 0) return parseSpecJson(text);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return parseSpecJson(text); // reports the JSON error
  }
  return validateSpec(applyOverrides(json, overrides));
}

/** Commander's collector for a repeatable option. */
export const collect = (value: string, previous: string[]) => [...previous, value];

export function specErrors(file: string, result: Extract<SpecResult, { ok: false }>): string {
  return `${file}: invalid experiment spec\n${result.errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}`;
}

export const positiveInt = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};

export const experimentId = (value: string) => positiveInt('ID')(value);

export function openStore(db: string | undefined): RunStore {
  return new RunStore(resolve(db ?? defaultDbPath()));
}

export const backendOption = () =>
  new Option(
    '--backend <name>',
    'TF.js backend (default: auto, or $SUBLAB_BACKEND; language specs never run on webgpu, which auto then passes over)',
  ).choices(['auto', ...BACKENDS]);

export const dbOption = () =>
  new Option('--db <file>', 'SQLite run store (default: the user data directory, or $SUBLAB_DB)');

/** Applies each `--set path=value` in turn, or says which one is wrong. */
export function applyOverrides(json: unknown, overrides: readonly string[]): unknown {
  try {
    for (const o of overrides) {
      const { path, value } = parseOverride(o);
      json = applyOverride(json, path, value);
    }
    return json;
  } catch (error) {
    throw new CliError(`--set: ${(error as Error).message}`);
  }
}

/**
 * Runs a command's experiment under a signal that SIGINT and SIGTERM abort; the store is closed
 * afterwards, whatever happened.
 */
export async function underSignals(
  store: RunStore,
  body: (signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const cancel = new AbortController();
  const onSignal = () => cancel.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await body(cancel.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    store.close();
  }
}

/** Ends the command by how the run ended: cancelled exits 130, any other end but done is an error. */
export function exitByStatus(outcome: { experimentId: number; status: string; error?: string }): void {
  if (outcome.status === 'cancelled') throw new CliError('cancelled', 130);
  if (outcome.status !== 'done')
    throw new CliError(
      `experiment ${outcome.experimentId} ${outcome.status}: ${outcome.error ?? 'unknown error'}`,
    );
}

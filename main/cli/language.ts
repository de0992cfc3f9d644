// The CLI's path for language experiments (kind "language", main/lm): run, resume and show. The
// spec goes through the same overrides (--set) as the classifier family's; progress goes to stderr.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLanguageInput, validateLanguageSpec, type LanguageSpec } from '../../app/spec/language.ts';
import type { BackendChoice } from '../../app/protocol.ts';
import type { IntervalMethod } from '../../app/stats.ts';
import {
  resumeLanguageExperiment,
  runLanguageExperiment,
  type LanguageRunOutcome,
  type LanguageRunOptions,
} from '../lm/run.ts';
import { languageTables, summarizeLanguage } from '../lm/summary.ts';
import type { RunStore } from '../store/store.ts';
import { applyOverrides, CliError, exitByStatus, underSignals } from './common.ts';

/** The spec file's JSON when it is a language spec, else null (the classifier path reads it). */
export function languageInput(file: string): unknown {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null; // unreadable or not JSON: the classifier path reports it
  }
  return isLanguageInput(json) ? json : null;
}

export function readLanguageSpec(
  file: string,
  json: unknown,
  overrides: readonly string[],
  replicates?: number,
): LanguageSpec {
  json = applyOverrides(json, overrides);
  if (replicates !== undefined) json = { ...(json as object), replicates };
  const r = validateLanguageSpec(json);
  if (!r.ok)
    throw new CliError(
      `${file} is not a valid language spec:\n${r.errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}`,
    );
  return r.spec;
}

interface ReportOptions {
  json: boolean;
  interval: IntervalMethod;
}

async function report(
  store: RunStore,
  opts: ReportOptions,
  start: (o: Pick<LanguageRunOptions, 'signal' | 'onStage' | 'onUnitDone'>) => Promise<LanguageRunOutcome>,
): Promise<void> {
  const t0 = performance.now();
  const stamp = () => `[${((performance.now() - t0) / 1000).toFixed(0)} s]`;
  await underSignals(store, async (signal) => {
    const outcome = await start({
      signal,
      onStage: (unit, stage) => process.stderr.write(`${stamp()} unit ${unit}: ${stage}\n`),
      onUnitDone: (done, total) => process.stderr.write(`${stamp()} ${done}/${total} units done\n`),
    });
    // Taken over by another process: what the store holds now is that process's to report.
    if (outcome.status === 'interrupted') throw new CliError(outcome.error ?? 'the run was taken over');
    const summary = summarizeLanguage(store, outcome.experimentId, opts.interval);
    if (opts.json)
      process.stdout.write(
        `${JSON.stringify({ ...summary, workers: outcome.workers, wallSeconds: outcome.wallSeconds }, null, 2)}\n`,
      );
    else
      process.stdout.write(
        `\n${languageTables(summary)}\n\nexperiment ${outcome.experimentId} ${outcome.status} on ${outcome.backend ?? '?'} in ${outcome.wallSeconds.toFixed(1)} s (${outcome.workers} worker(s)); stored in ${store.path}\n`,
      );
    exitByStatus(outcome);
  });
}

/** What a run and a resume both give the language runner. Pretrained bases and teachers are cached
 * under the cache directory (main/lm/model-cache.ts). */
function runnerOptions(backend: BackendChoice, workers: number | undefined, cacheDir: string) {
  return { backend, modelCacheDir: join(cacheDir, 'lm-models'), ...(workers ? { workers } : {}) };
}

export function runLanguage(
  store: RunStore,
  spec: LanguageSpec,
  backend: BackendChoice,
  workers: number | undefined,
  cacheDir: string,
  opts: ReportOptions,
): Promise<void> {
  return report(store, opts, (control) =>
    runLanguageExperiment(store, spec, { ...runnerOptions(backend, workers, cacheDir), ...control }),
  );
}

export function resumeLanguage(
  store: RunStore,
  id: number,
  backend: BackendChoice,
  workers: number | undefined,
  cacheDir: string,
  opts: ReportOptions,
): Promise<void> {
  return report(store, opts, (control) =>
    resumeLanguageExperiment(store, id, { ...runnerOptions(backend, workers, cacheDir), ...control }),
  );
}

export function isLanguageExperiment(store: RunStore, id: number): boolean {
  return isLanguageInput(store.getExperiment(id)?.spec);
}

export function showLanguage(store: RunStore, id: number, json: boolean, interval: IntervalMethod): string {
  const experiment = store.getExperiment(id)!;
  const summary = summarizeLanguage(store, id, interval);
  if (json)
    return `${JSON.stringify({ ...summary, spec: experiment.spec, specHash: experiment.specHash, versions: experiment.versions, error: experiment.error }, null, 2)}\n`;
  return `experiment ${id}: ${experiment.name} (language)\nstatus: ${experiment.status}${experiment.error ? ` (${experiment.error})` : ''}\nbackend: ${experiment.backend ?? '-'}\nwall time: ${experiment.wallSeconds?.toFixed(1) ?? '-'} s\n\n${languageTables(summary)}\n`;
}

// The CLI's path for llm specs (kind "llm", issue 28): validate (with the projected tokens), run and
// resume, with the same overrides (--set) as the other families. The provider's base URL, key variable
// and prices come from the local settings file, never from the spec; the key from the environment.
// The provider clients and the tokenizer are loaded only when an llm spec is validated or run, so the
// other commands start without them.
import { readFileSync, writeFileSync } from 'node:fs';
import { stringify } from 'csv-stringify/sync';
import { join } from 'node:path';
import { expandLlmMatrix, isLlmInput, validateLlmSpec, type LlmSpec } from '../../app/spec/llm.ts';
import { realClock } from '../llm/clock.ts';
import type { LlmRunOptions } from '../llm/run.ts';
import { readLocalSettings } from '../llm/settings.ts';
import { llmTable, summarizeLlm } from '../llm/summary.ts';
import type { RunOutcome } from '../jobs/unit-runner.ts';
import { llmSamples } from '../store/llm.ts';
import type { RunStore } from '../store/store.ts';
import { applyOverrides, CliError, exitByStatus, underSignals } from './common.ts';
import { defaultCacheDir } from './paths.ts';

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

/** `validate`'s lines for an llm spec: its cells, replicates, provider and projected tokens per stage. */
export async function llmValidLines(file: string, spec: LlmSpec): Promise<string> {
  const cells = expandLlmMatrix(spec).cells.length;
  const { projectLlmRun, totalTokens } = await import('../llm/budget.ts');
  const stages = await projectLlmRun(spec);
  const lines = stages.map(
    (s) =>
      `  ${s.stage} ${s.what}: ${(s.input + s.output + s.training).toLocaleString('en-US')} tokens (${s.method})`,
  );
  return `${file}: valid llm spec (${cells} cell(s) x ${spec.replicates} replicates, provider ${spec.provider}); projected ${totalTokens(stages).toLocaleString('en-US')} tokens at most:\n${lines.join('\n')}\n`;
}

function runOptions(spec: LlmSpec, settingsFile: string, signal: AbortSignal): LlmRunOptions {
  let local;
  try {
    local = readLocalSettings(spec.provider, settingsFile, {
      jobsDir: join(defaultCacheDir(), 'llm-command'),
    });
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  return {
    settings: local.provider,
    deps: { clock: realClock, log: (l) => process.stderr.write(`${l}\n`) },
    prices: local.prices,
    signal,
  };
}

async function reportLlm(
  store: RunStore,
  json: boolean,
  start: (signal: AbortSignal) => Promise<RunOutcome>,
) {
  await underSignals(store, async (signal) => {
    const outcome = await start(signal);
    if (outcome.status === 'interrupted') throw new CliError(outcome.error ?? 'the run was taken over');
    const cells = summarizeLlm(store, outcome.experimentId);
    process.stdout.write(
      json
        ? `${JSON.stringify({ experimentId: outcome.experimentId, status: outcome.status, cells }, null, 2)}\n`
        : `${llmTable(cells)}\n\nexperiment ${outcome.experimentId} ${outcome.status} in ${outcome.wallSeconds.toFixed(1)} s; stored in ${store.path}\n`,
    );
    exitByStatus(outcome);
  });
}

/**
 * Runs an llm spec. The settings, the key and the budget are checked before `openStore` is called,
 * so a refused run leaves no database behind.
 */
export async function runLlm(
  spec: LlmSpec,
  settingsFile: string,
  openStore: () => RunStore,
  json: boolean,
): Promise<void> {
  const probe = runOptions(spec, settingsFile, new AbortController().signal);
  try {
    const { openLlmSession } = await import('../llm/budget.ts');
    await openLlmSession(spec, probe.settings, probe.deps, probe.prices);
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  const store = openStore();
  await reportLlm(store, json, (signal) =>
    import('../llm/run.ts').then((m) =>
      m.runLlmExperiment(store, spec, runOptions(spec, settingsFile, signal)),
    ),
  );
}

export async function resumeLlm(
  store: RunStore,
  id: number,
  settingsFile: string,
  json: boolean,
): Promise<void> {
  const spec = store.getExperiment(id)!.spec as unknown as LlmSpec;
  await reportLlm(store, json, (signal) =>
    import('../llm/run.ts').then((m) =>
      m.resumeLlmExperiment(store, id, runOptions(spec, settingsFile, signal)),
    ),
  );
}

export function isLlmExperiment(store: RunStore, id: number): boolean {
  return isLlmInput(store.getExperiment(id)?.spec);
}

export function showLlm(store: RunStore, id: number, json: boolean): string {
  const e = store.getExperiment(id)!;
  const cells = summarizeLlm(store, id);
  if (json)
    return `${JSON.stringify({ experimentId: id, status: e.status, error: e.error, spec: e.spec, cells }, null, 2)}\n`;
  return `experiment ${id}: ${e.name} (llm)\nstatus: ${e.status}${e.error ? ` (${e.error})` : ''}\n\n${llmTable(cells)}\n`;
}

/** The samples CSV: each answer with its stage, model, prompt, filter verdict and reason; its row count. */
export function exportLlmSamples(store: RunStore, id: number, file: string): number {
  const rows = llmSamples(store, id);
  const columns = [
    'stage',
    'key',
    'model',
    'prompt',
    'choice',
    'text',
    'kept',
    'reason',
    'targetProbability',
  ] as const;
  writeFileSync(
    file,
    stringify(
      rows.map((r) => columns.map((c) => r[c] ?? '')),
      { header: true, columns: [...columns] },
    ),
  );
  return rows.length;
}

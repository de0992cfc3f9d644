// What the Designer says before a run starts: the memory estimate beside the time, and whether one
// click may start it, needs a confirmation that names what it will cost (a long run, or one whose
// memory estimate exceeds a trainer's share of the machine), or is refused (not even one replicate fits).
import type { SystemInfo } from './api.ts';
import { estimateSeconds, formatDuration, specSize } from './estimate.ts';
import type { LanguageEstimate } from './estimate-language.ts';
import { checkFit, limitsWithoutProbe, type TrainerLimits } from './fit.ts';
import type { LlmProjection } from './llm/projection.ts';
import { estimateTrainerMemory, formatBytes } from './memory.ts';
import { BACKENDS, type BackendChoice } from './protocol.ts';
import type { ExperimentSpec } from './spec/schema.ts';

/** A run longer than this asks first: half an hour is past "try it and see". */
export const LONG_RUN_SECONDS = 30 * 60;

export type Machine = Pick<SystemInfo, 'freeMemoryBytes' | 'totalMemoryBytes' | 'workers' | 'backend'>;

export interface MemoryNote {
  /** "~1.2 GiB per trainer": the largest shard the run will train, as the runner plans it. */
  text: string;
  /** Set when the replicates do not fit `workers` trainers: what happens and what to change. */
  warning: string | null;
  /** Not even one replicate fits a trainer: the run cannot start. */
  refused: boolean;
}

/** system.info's backend as the fit check takes it (an unknown name: only the RAM is checked). */
function backendOf(name: string): BackendChoice {
  return (BACKENDS as readonly string[]).includes(name) ? (name as BackendChoice) : 'auto';
}

/** What bounds a trainer of `replicates` replicates: the free RAM's share, or the backend's limits. */
function boundText(spec: ExperimentSpec, limits: TrainerLimits, workers: number): string {
  const free = limits.freeMemoryBytes;
  const share = workers > 1 ? ` (${formatBytes(free / workers)} for each of ${workers} trainers)` : '';
  const ram = `this machine's free RAM ${formatBytes(free)} of ${formatBytes(limits.totalMemoryBytes)}${share}`;
  const even = estimateTrainerMemory(spec, Math.ceil(spec.replicates / workers));
  if (even.total > free / workers || limits.tensorBytes === null) return ram;
  return `${limits.backend}'s ${formatBytes(limits.tensorBytes)} of tensors per trainer`;
}

/**
 * The memory estimate beside the time estimate: app/fit.ts checkFit, the runner's own plan, under
 * the limits system.info reports (the backend's and the free RAM).
 */
export function memoryNote(spec: ExperimentSpec, machine: Machine): MemoryNote {
  const limits = limitsWithoutProbe(backendOf(machine.backend), {
    free: machine.freeMemoryBytes,
    total: machine.totalMemoryBytes,
  });
  const fit = checkFit(spec, limits, machine.workers);
  const text = `~${formatBytes(fit.estimate.total)} per trainer`;
  if (!fit.ok) return { text, refused: true, warning: fit.error };
  const workers = Math.max(1, Math.min(machine.workers, spec.replicates));
  if (fit.shards.length <= workers) return { text, warning: null, refused: false };
  return {
    text,
    refused: false,
    warning: `More than ${boundText(spec, limits, workers)}: the run will be split into ${fit.shards.length} smaller shards, ${workers} at a time.`,
  };
}

export type RunCheck =
  | { kind: 'go' }
  /** `summary` names the model runs, the time and the memory; `reasons` why it asks. */
  | { kind: 'confirm'; summary: string; reasons: string[] }
  | { kind: 'refuse'; reason: string };

/**
 * Whether a click on Run starts the spec at once, asks first, or is refused. `modelSamplesPerSecond`
 * is system.info's measured (or default) throughput.
 */
export function runCheck(spec: ExperimentSpec, machine: Machine, modelSamplesPerSecond: number): RunCheck {
  const memory = memoryNote(spec, machine);
  if (memory.refused) return { kind: 'refuse', reason: memory.warning ?? 'does not fit in memory' };
  const seconds = estimateSeconds(spec, modelSamplesPerSecond);
  const reasons: string[] = [];
  if (seconds > LONG_RUN_SECONDS) reasons.push(longReason(seconds));
  if (memory.warning)
    reasons.push(
      `Its memory estimate, ${memory.text}, is ${memory.warning.charAt(0).toLowerCase()}${memory.warning.slice(1)}`,
    );
  if (reasons.length === 0) return { kind: 'go' };
  const { cells, runs } = specSize(spec);
  const summary = `${cells.toLocaleString('en-US')} cell${cells === 1 ? '' : 's'}, ${runs.toLocaleString('en-US')} model runs, about ${formatDuration(seconds)}, memory ${memory.text}`;
  return { kind: 'confirm', summary, reasons };
}

/** The language family's check: its time (it has no memory estimate yet). */
export function languageRunCheck(estimate: LanguageEstimate, replicates: number): RunCheck {
  const { cells, seconds } = estimate;
  if (seconds <= LONG_RUN_SECONDS) return { kind: 'go' };
  return {
    kind: 'confirm',
    summary: `${cells} cell${cells === 1 ? '' : 's'} x N=${replicates} (each replicate fine-tunes a student and two controls), about ${formatDuration(seconds)}; no memory estimate for language models yet`,
    reasons: [longReason(seconds)],
  };
}

/**
 * Before an llm experiment is re-run: the budget guard's projection of its stored spec (llm.project).
 * Every request and fine-tuning job is sent and billed again, so it always asks, naming the cost;
 * the guard's refusal (or a spec it no longer accepts) starts nothing.
 */
export function llmRerunCheck(projection: LlmProjection, provider: string): RunCheck {
  if (!projection.ok)
    return { kind: 'refuse', reason: projection.errors.map((e) => `${e.path}: ${e.message}`).join('; ') };
  if (projection.refusal) return { kind: 'refuse', reason: projection.refusal };
  const cost =
    projection.usd === null
      ? `cost unknown (no price for ${projection.unpriced.join(', ')})`
      : `about $${projection.usd.toFixed(2)}`;
  return {
    kind: 'confirm',
    summary: `At most ${projection.totalTokens.toLocaleString('en-US')} tokens at ${provider}, ${cost}`,
    reasons: [
      `A re-run sends every request and fine-tuning job to ${provider} again, billed to your key: nothing is reused from the original run.`,
    ],
  };
}

function longReason(seconds: number): string {
  return `It is long: about ${formatDuration(seconds)} on this machine (more than ${LONG_RUN_SECONDS / 60} min).`;
}

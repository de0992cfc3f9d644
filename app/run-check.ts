// What the Designer says before a run starts: the memory estimate beside the time, and whether one
// click may start it, needs a confirmation that names what it will cost (a long run, or one whose
// memory estimate exceeds the machine's), or is refused (not even one replicate fits).
import type { SystemInfo } from './api.ts';
import { estimateSeconds, formatDuration, specSize } from './estimate.ts';
import type { LanguageEstimate } from './estimate-language.ts';
import { estimateTrainerMemory, fitInRam, formatBytes } from './memory.ts';
import type { ExperimentSpec } from './spec/schema.ts';

/** A run longer than this asks first: half an hour is past "try it and see". */
export const LONG_RUN_SECONDS = 30 * 60;

export type Machine = Pick<SystemInfo, 'freeMemoryBytes' | 'totalMemoryBytes' | 'workers'>;

export interface MemoryNote {
  /** "~1.2 GiB per trainer" */
  text: string;
  /** Set when the estimate exceeds the free RAM: what happens and what to change. */
  warning: string | null;
  /** Not even one replicate fits a trainer's share of the free RAM: the run cannot start. */
  refused: boolean;
}

function freeText(machine: Machine, trainers: number): string {
  const share =
    trainers > 1
      ? ` (${formatBytes(machine.freeMemoryBytes / trainers)} for each of ${trainers} trainers)`
      : '';
  return `free RAM ${formatBytes(machine.freeMemoryBytes)} of ${formatBytes(machine.totalMemoryBytes)}${share}`;
}

/** The memory estimate beside the time estimate, checked against the free RAM system.info reports. */
export function memoryNote(spec: ExperimentSpec, machine: Machine): MemoryNote {
  const fit = fitInRam(spec, machine.freeMemoryBytes, machine.workers);
  const text = `~${formatBytes(fit.perTrainer.total)} per trainer`;
  if (fit.fits) return { text, warning: null, refused: false };
  const free = freeText(machine, Math.max(1, Math.min(machine.workers, spec.replicates)));
  if (fit.shards === 0)
    return {
      text,
      refused: true,
      warning: `Does not fit: one replicate needs ${formatBytes(estimateTrainerMemory(spec, 1).total)} per trainer; ${free}. Lower student.batchSize, teacher.batchSize or model.hidden, or use fewer cells.`,
    };
  return {
    text,
    refused: false,
    warning: `More than this machine's ${free}: the run will be split into ${fit.shards} smaller shards, one after another.`,
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

function longReason(seconds: number): string {
  return `It is long: about ${formatDuration(seconds)} on this machine (more than ${LONG_RUN_SECONDS / 60} min).`;
}

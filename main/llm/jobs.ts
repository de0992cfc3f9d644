// Waiting for a fine-tuning job: polled with a growing interval on the injectable clock, its new
// events handed on as they appear, until it succeeds, fails (with the provider's message) or is
// cancelled; a job still unfinished after `maxWaitMs` is an error rather than an endless wait.
import type { Clock } from './clock.ts';
import { ProviderError, type JobEvent, type JobState, type LlmProvider } from './providers/types.ts';

export interface PollOptions {
  clock: Clock;
  signal?: AbortSignal;
  onEvent?: (event: JobEvent) => void;
  onState?: (state: JobState) => void;
  firstDelayMs?: number;
  maxDelayMs?: number;
  maxWaitMs?: number;
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

export async function pollJob(provider: LlmProvider, jobId: string, opts: PollOptions): Promise<JobState> {
  const start = opts.clock.now();
  const maxWait = opts.maxWaitMs ?? 7 * 24 * 3600_000;
  let delay = opts.firstDelayMs ?? 10_000;
  const seen = new Set<string>();
  for (;;) {
    const state = await provider.job(jobId, opts.signal);
    opts.onState?.(state);
    if (opts.onEvent)
      for (const e of await provider.events(jobId, opts.signal)) {
        const key = `${e.at}\u0000${e.message}`;
        if (seen.has(key)) continue;
        seen.add(key);
        opts.onEvent(e);
      }
    if (TERMINAL.has(state.status)) return state;
    if (opts.clock.now() - start + delay > maxWait)
      throw new ProviderError(
        `job ${jobId} is still ${state.status} after ${Math.round(maxWait / 60_000)} min`,
      );
    await opts.clock.sleep(delay, opts.signal);
    delay = Math.min(opts.maxDelayMs ?? 300_000, Math.round(delay * 1.5));
  }
}

/** A finished job's model, or an error carrying the provider's own message. */
export function finishedModel(state: JobState): string {
  if (state.status === 'succeeded' && state.model) return state.model;
  if (state.status === 'failed')
    throw new ProviderError(`fine-tuning job ${state.id} failed: ${state.error}`);
  throw new ProviderError(`fine-tuning job ${state.id} ended ${state.status}`);
}

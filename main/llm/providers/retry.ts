// Retries and a concurrency limit for provider calls, on an injectable clock. The official clients
// retry by themselves on real timers and, for a job creation, without an idempotency key; the
// adapters turn that off (maxRetries 0) and retry here instead, where a delay the server asks for
// (`retry-after-ms`, then `retry-after` in seconds or as a date) is honoured exactly and tests can see it.
import type { Clock } from '../clock.ts';

const RETRYABLE = new Set([408, 409, 429]);
const MAX_DELAY_MS = 5 * 60_000;

interface ErrorLike {
  status?: number;
  headers?: Headers;
  name?: string;
  message?: string;
}

/** The server's requested delay in ms, if its headers name one. */
export function requestedDelay(headers: Headers | undefined, now: number): number | undefined {
  const ms = headers?.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const after = headers?.get('retry-after');
  if (!after) return undefined;
  if (Number.isFinite(Number(after))) return Math.max(0, Number(after) * 1000);
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Whether another try can help: rate limits, timeouts, conflicts, server errors, lost connections. */
export function isRetryable(error: unknown): boolean {
  const e = error as ErrorLike;
  if (e?.name === 'AbortError' || e?.name === 'APIUserAbortError') return false;
  if (typeof e?.status === 'number') return RETRYABLE.has(e.status) || e.status >= 500;
  return (
    /APIConnection(Timeout)?Error/.test(e?.name ?? '') ||
    e?.constructor?.name?.startsWith('APIConnection') === true
  );
}

export interface RetryOptions {
  clock: Clock;
  maxRetries: number;
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** What is being tried, for the log line. */
  what: string;
}

/** Runs `op`, retrying what `isRetryable` accepts after the requested delay or 1, 2, 4 ... s. */
export async function withRetries<T>(op: () => Promise<T>, opts: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await op();
    } catch (error) {
      if (attempt >= opts.maxRetries || !isRetryable(error) || opts.signal?.aborted) throw error;
      const e = error as ErrorLike;
      const asked = requestedDelay(e.headers, opts.clock.now());
      const delay = Math.min(MAX_DELAY_MS, asked ?? 1000 * 2 ** attempt);
      opts.log?.(
        `${opts.what}: ${e.status ?? 'connection'} ${e.message?.split('\n')[0] ?? ''}; retry ${attempt + 1}/${opts.maxRetries} in ${delay} ms${asked === undefined ? '' : ' (as the server asked)'}`,
      );
      await opts.clock.sleep(delay, opts.signal);
    }
  }
}

/** At most `limit` operations at once; the rest wait in arrival order. */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(readonly limit: number) {}

  async run<T>(op: () => Promise<T>): Promise<T> {
    // A finishing operation hands its slot straight to the next waiter, so none can slip in between.
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await op();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

// One download of a file at a time across processes: the CLI, `sublab serve` and the desktop app may
// all fetch the same dataset into the same directory, and two writers of one .partial file corrupt
// it (one appends after the other has verified and renamed it). The lock is a file created with
// O_EXCL that names its holder; a waiter takes it over only when the holder is gone: on this host a
// dead pid, or one that now names another process (after a reboot or PID reuse: the holder's recorded
// start differs; a live holder is never taken over, however long it holds the lock), from another
// host (a shared home directory) a lock its holder has not touched for STALE_REMOTE_MS.
import { hostname } from 'node:os';
import { open, readFile, rm, stat, utimes } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ownerLiveness, processStart } from '../store/owner.ts';

export interface LockHolder {
  pid: number;
  host: string;
  since: string;
  /** The holder's process start (owner.ts); absent in locks written before it was recorded. */
  started?: string | null;
}

export interface LockOptions {
  signal?: AbortSignal;
  /** The error thrown when `signal` is aborted while waiting. */
  whenAborted: (holder: LockHolder) => Error;
  /** Called once when another process holds the lock and this one starts waiting for it. */
  onWait?: (holder: LockHolder) => void;
  /** How often a waiter looks again (default 200 ms). */
  pollMs?: number;
}

/** A holder on another host refreshes the lock's mtime this often; twelve misses and it is gone. */
const TOUCH_MS = 5_000;
export const STALE_REMOTE_MS = 60_000;
/** A lock file with no holder written in it is one whose creator died at once: stale after this. */
const STALE_EMPTY_MS = 10_000;

export function lockPath(dest: string): string {
  return `${dest}.lock`;
}

/** Creates `path` holding `content`, or returns false when it exists already. */
async function createExclusive(path: string, content: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'wx', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
  return true;
}

/** The lock's holder, null when it is stale; 'gone' when the lock vanished while we looked. */
async function liveHolder(path: string): Promise<LockHolder | null | 'gone'> {
  let text: string;
  let ageMs: number;
  try {
    [text, ageMs] = await Promise.all([
      readFile(path, 'utf8'),
      stat(path).then((s) => Date.now() - s.mtimeMs),
    ]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw error;
  }
  let holder: LockHolder;
  try {
    holder = JSON.parse(text) as LockHolder;
  } catch {
    return ageMs > STALE_EMPTY_MS ? null : { pid: 0, host: '?', since: '' };
  }
  if (holder.host === hostname()) {
    // 'unknown' here means the PID now names another process: the holder is gone.
    const liveness = ownerLiveness({ ...holder, started: holder.started ?? null });
    return liveness === 'alive' ? holder : null;
  }
  return ageMs > STALE_REMOTE_MS ? null : holder;
}

/**
 * Removes a stale lock. Two waiters may both find it stale: the removal itself is done under a
 * second exclusive file, and the lock is read again there, so a waiter never removes the fresh lock
 * the other one has just taken.
 */
async function breakStale(path: string): Promise<void> {
  const breaker = `${path}.break`;
  const me = JSON.stringify({ pid: process.pid, host: hostname() });
  if (!(await createExclusive(breaker, me))) {
    // A breaker that died mid-removal leaves its file: it is a few milliseconds' work, so an old one is stale.
    const age = await stat(breaker).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > STALE_EMPTY_MS) await rm(breaker, { force: true });
    return;
  }
  try {
    if ((await liveHolder(path)) === null) await rm(path, { force: true });
  } finally {
    await rm(breaker, { force: true });
  }
}

/**
 * Runs `work` holding the lock of `dest`; waits while another live process holds it, until
 * `signal` is aborted.
 */
export async function withFileLock<T>(
  dest: string,
  options: LockOptions,
  work: () => Promise<T>,
): Promise<T> {
  const path = lockPath(dest);
  const me: LockHolder = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    started: processStart(process.pid),
  };
  let told = false;
  while (!(await createExclusive(path, JSON.stringify(me)))) {
    const holder = await liveHolder(path);
    if (holder === null) await breakStale(path);
    else if (holder !== 'gone') {
      if (!told) options.onWait?.(holder);
      told = true;
      if (options.signal?.aborted) throw options.whenAborted(holder);
      await sleep(options.pollMs ?? 200);
    }
  }
  // Waiters on other hosts cannot see our pid: the mtime says we are still here.
  const touch = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => {});
  }, TOUCH_MS);
  touch.unref();
  try {
    return await work();
  } finally {
    clearInterval(touch);
    await rm(path, { force: true });
  }
}

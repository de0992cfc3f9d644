// Fetches one registry file into the cache: over HTTP(S) with Node's own fetch, into NAME.partial,
// resumed with a Range request when a partial is there, and moved to NAME only once its SHA-256 is
// right. So the cache holds verified files or nothing: a file whose digest is wrong is deleted, and a
// download cut short leaves only its .partial (for the next attempt to resume), never NAME itself.
// One process at a time downloads a file (NAME.lock, download-lock.ts): another waits, then finds
// NAME there; so the bytes hashed are the bytes renamed, with no second writer appending to them.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { RemoteFile } from './registry.ts';
import { withFileLock, type LockHolder } from './download-lock.ts';

/** Why a download failed: each has its own message, naming the file and what to do. */
export type DownloadFailure = 'http' | 'network' | 'stalled' | 'too-large' | 'checksum' | 'cancelled';

export class DownloadError extends Error {
  constructor(
    readonly file: string,
    readonly kind: DownloadFailure,
    message: string,
    /** One error per mirror tried, when there were several. */
    readonly attempts: DownloadError[] = [],
  ) {
    super(`${file}: ${message}`);
    this.name = 'DownloadError';
  }
}

export interface DownloadOptions {
  /** Bytes of the file so far (a resumed download starts at the partial's size) and the total if known. */
  onProgress?: (bytes: number, total: number | null) => void;
  /** A connection that sends nothing (no headers, no body bytes) for this long is given up. */
  stallMs?: number;
  signal?: AbortSignal;
  /** Another process is downloading the same file: this one waits for it (told once). */
  onWait?: (holder: LockHolder) => void;
}

export interface FetchResult {
  path: string;
  /** False when the verified file was already in the cache (no request made). */
  downloaded: boolean;
}

export const DEFAULT_STALL_MS = 30_000;

export function partialPath(dest: string): string {
  return `${dest}.partial`;
}

/**
 * The verified file at `dest`, fetched from the first of `urls` that gives one. A file already at
 * `dest` was verified before it was put there, so it is used as is, offline.
 */
export async function fetchVerified(
  file: RemoteFile,
  urls: readonly string[],
  dest: string,
  options: DownloadOptions = {},
): Promise<FetchResult> {
  if (existsSync(dest)) return { path: dest, downloaded: false };
  await mkdir(dirname(dest), { recursive: true });
  const lock = {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onWait ? { onWait: options.onWait } : {}),
    whenAborted: (holder: LockHolder) =>
      new DownloadError(
        file.name,
        'cancelled',
        `cancelled while waiting for process ${holder.pid} on ${holder.host} to finish downloading it`,
      ),
  };
  return withFileLock(dest, lock, async () => {
    // The process that held the lock before us may have put the verified file there.
    if (existsSync(dest)) return { path: dest, downloaded: false };
    return fetchFromMirrors(file, urls, dest, options);
  });
}

/** Holding the file's lock: the first mirror's verified copy, resuming the partial left before. */
async function fetchFromMirrors(
  file: RemoteFile,
  urls: readonly string[],
  dest: string,
  options: DownloadOptions,
): Promise<FetchResult> {
  const partial = partialPath(dest);
  const failures: DownloadError[] = [];
  for (const url of urls) {
    try {
      await transfer(file, url, partial, options);
      await commit(file, url, partial, dest);
      return { path: dest, downloaded: true };
    } catch (error) {
      if (!(error instanceof DownloadError) || error.kind === 'cancelled') throw error;
      failures.push(error);
    }
  }
  if (failures.length === 1) throw failures[0]!;
  const kept = await sizeOf(partial);
  throw new DownloadError(
    file.name,
    failures.at(-1)!.kind,
    `no mirror gave a verified copy${kept > 0 ? ` (${kept} bytes kept in ${partial}; run again to resume)` : ''}:\n${failures.map((f) => `  - ${f.message}`).join('\n')}`,
    failures,
  );
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/** Aborts `controller` when `ms` pass without a call to `reset`. */
function stallTimer(controller: AbortController, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const reset = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new Error('stalled')), ms);
  };
  reset();
  return { reset, clear: () => clearTimeout(timer) };
}

/** The first byte a 206 response holds ("bytes 100-199/200"), or null if the header is missing or odd. */
function rangeStart(header: string | null): number | null {
  const match = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header?.trim() ?? '');
  return match ? Number(match[1]) : null;
}

/** The whole file's size as the response tells it, else the registry's. */
function totalSize(response: Response, offset: number, fallback: number): number {
  const range = /\/(\d+)$/.exec(response.headers.get('content-range') ?? '');
  if (range) return Number(range[1]);
  const length = Number(response.headers.get('content-length') ?? NaN);
  return Number.isFinite(length) ? offset + length : fallback;
}

/** Brings `partial` to the end of the file from `url`, resuming it when the server allows. */
async function transfer(file: RemoteFile, url: string, partial: string, options: DownloadOptions) {
  const have = await sizeOf(partial);
  const stallMs = options.stallMs ?? DEFAULT_STALL_MS;
  const controller = new AbortController();
  const stall = stallTimer(controller, stallMs);
  const cancel = () => controller.abort(new Error('cancelled'));
  options.signal?.addEventListener('abort', cancel, { once: true });
  const failed = (error: unknown, bytes: number) =>
    why(file, url, controller.signal, error, bytes, partial, stallMs);
  try {
    let response: Response;
    try {
      response = await fetch(url, {
        headers: have > 0 ? { Range: `bytes=${have}-` } : {},
        signal: controller.signal,
      });
    } catch (error) {
      throw failed(error, have);
    }
    // 416: nothing left after `have` bytes; the partial may be whole already, and commit will tell.
    if (response.status === 416 && have > 0) return void (await response.body?.cancel());
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      throw new DownloadError(
        file.name,
        'http',
        `${url} answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`,
      );
    }
    // A server without Range support answers 200 with the whole file: start again from byte 0.
    const offset =
      response.status === 206 && rangeStart(response.headers.get('content-range')) === have ? have : 0;
    if (response.status === 206 && offset !== have) {
      await response.body.cancel();
      await rm(partial, { force: true });
      throw new DownloadError(
        file.name,
        'network',
        `${url} sent a range other than the one asked for; the partial file was deleted, run again to start over`,
      );
    }
    const total = totalSize(response, offset, file.size);
    options.onProgress?.(offset, total);
    await receive(response.body, partial, offset, {
      file,
      total,
      stall,
      onProgress: options.onProgress,
      failed,
    });
  } finally {
    stall.clear();
    options.signal?.removeEventListener('abort', cancel);
  }
}

interface ReceiveContext {
  file: RemoteFile;
  total: number;
  stall: { reset(): void };
  onProgress: DownloadOptions['onProgress'];
  failed: (error: unknown, bytes: number) => DownloadError;
}

/** Writes the body after `offset` bytes of `partial` (or over it, from 0). */
async function receive(
  body: ReadableStream<Uint8Array>,
  partial: string,
  offset: number,
  ctx: ReceiveContext,
) {
  // A file far larger than the registry says is not the file: stop before it fills the disk.
  const limit = Math.max(2 * ctx.file.size, 1 << 20);
  const handle = await open(partial, offset > 0 ? 'a' : 'w');
  let bytes = offset;
  try {
    for await (const chunk of body) {
      ctx.stall.reset();
      bytes += chunk.length;
      if (bytes > limit)
        throw new DownloadError(
          ctx.file.name,
          'too-large',
          `the server sent more than ${limit} bytes (the file has ${ctx.file.size}); stopped and deleted`,
        );
      await handle.write(chunk);
      ctx.onProgress?.(bytes, ctx.total);
    }
  } catch (error) {
    await handle.close();
    if (error instanceof DownloadError) {
      await rm(partial, { force: true });
      throw error;
    }
    throw ctx.failed(error, bytes);
  }
  await handle.close();
}

/** The error for a request that failed or stopped: stalled, cancelled or a lost connection. */
function why(
  file: RemoteFile,
  url: string,
  signal: AbortSignal,
  error: unknown,
  bytes: number,
  partial: string,
  stallMs: number,
): DownloadError {
  const reason = signal.aborted ? (signal.reason as Error | undefined)?.message : undefined;
  const kept = bytes > 0 ? `; ${bytes} bytes kept in ${partial}, run again to resume` : '';
  if (reason === 'cancelled')
    return new DownloadError(file.name, 'cancelled', `download from ${url} cancelled${kept}`);
  if (reason === 'stalled')
    return new DownloadError(
      file.name,
      'stalled',
      `${url} sent nothing for ${(stallMs / 1000).toFixed(stallMs < 1000 ? 1 : 0)} s (timed out after ${bytes} bytes)${kept}`,
    );
  const cause = (error as { cause?: { message?: string } }).cause?.message;
  const message = (error as Error).message + (cause ? ` (${cause})` : '');
  return new DownloadError(
    file.name,
    'network',
    `connection to ${url} failed after ${bytes} bytes: ${message}${kept}`,
  );
}

/** SHA-256 of a file, and of what it decompresses to when it is gzip (else of the file again). */
async function digests(path: string): Promise<{ sha256: string; content: string | null }> {
  const sha256 = await hashStream(createReadStream(path));
  const head = Buffer.alloc(2);
  const handle = await open(path, 'r');
  await handle.read(head, 0, 2, 0);
  await handle.close();
  if (head[0] !== 0x1f || head[1] !== 0x8b) return { sha256, content: sha256 };
  try {
    return { sha256, content: await hashStream(createReadStream(path).pipe(createGunzip())) };
  } catch {
    return { sha256, content: null }; // corrupt gzip: no content to speak of
  }
}

async function hashStream(stream: NodeJS.ReadableStream): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(
    stream,
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        done();
      },
    }),
  );
  return hash.digest('hex');
}

/**
 * Moves the partial into the cache once the whole file on disk, read again here under the lock just
 * before the rename, has the right digest; deletes it and says both digests when it is wrong.
 */
async function commit(file: RemoteFile, url: string, partial: string, dest: string): Promise<void> {
  const bytes = await sizeOf(partial);
  const got = await digests(partial);
  const ok =
    got.sha256 === file.sha256 || (file.contentSha256 !== undefined && got.content === file.contentSha256);
  if (ok) return rename(partial, dest);
  await rm(partial, { force: true });
  const orContent = file.contentSha256 ? ` (or ${file.contentSha256} for its uncompressed content)` : '';
  const gotContent =
    file.contentSha256 && got.content && got.content !== got.sha256 ? ` (uncompressed: ${got.content})` : '';
  throw new DownloadError(
    file.name,
    'checksum',
    `checksum mismatch for the copy from ${url}: expected sha256 ${file.sha256}${orContent}, got ${got.sha256}${gotContent} (${bytes} bytes; the original has ${file.size}). The file was deleted; nothing was cached.`,
  );
}

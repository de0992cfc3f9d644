// What a request line may ask for. Everything here is pure and total: any string in, a path or an HTTP
// status out, never an exception, so no request can take the server down while it is being read.
import { realpathSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';

/**
 * The longest request target we read. The app's own URLs are under 200 bytes (a path and the
 * 32-character token); 8 KiB leaves room for anything a browser adds and is half of Node's
 * 16 KiB header limit, so a long URL gets a precise 414 rather than the parser's 431.
 */
export const MAX_URL_BYTES = 8 * 1024;

export type Refusal = { status: 400 | 403 | 404 | 414; reason: string };

export interface Target {
  path: string;
  query: URLSearchParams;
}

function refusal(status: Refusal['status'], reason: string): Refusal {
  return { status, reason };
}

export function isRefusal(value: unknown): value is Refusal {
  return typeof value === 'object' && value !== null && 'status' in value && 'reason' in value;
}

/**
 * Splits an origin-form target ("/path?query"). The absolute form ("http://host/...") and "*" are for
 * proxies and OPTIONS, which this server is not; `new URL(raw, base)` is not used because it throws
 * on targets such as "//" and "//[", which the HTTP parser lets through.
 */
export function parseTarget(raw: string | undefined): Target | Refusal {
  if (raw === undefined || raw === '') return refusal(400, 'empty request target');
  if (Buffer.byteLength(raw) > MAX_URL_BYTES) return refusal(414, `URL longer than ${MAX_URL_BYTES} bytes`);
  if (!raw.startsWith('/')) return refusal(400, 'request target must be a path');
  const cut = raw.search(/[?#]/);
  const path = cut === -1 ? raw : raw.slice(0, cut);
  const query = cut === -1 || raw[cut] === '#' ? '' : raw.slice(cut + 1).split('#')[0]!;
  // URLSearchParams decodes leniently (a lone "%" stays "%"), so the query never throws.
  return { path, query: new URLSearchParams(query) };
}

function decodePath(path: string): string | Refusal {
  // A backslash is a separator on Windows and in some URL parsers: refuse it before and after decoding.
  if (path.includes('\\')) return refusal(400, 'backslash in path');
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return refusal(400, 'malformed percent-encoding in path');
  }
  // eslint-disable-next-line no-control-regex -- control characters (NUL above all) are what we refuse
  if (/[\u0000-\u001f\u007f\\]/.test(decoded)) return refusal(400, 'control character or backslash in path');
  // A "%" left after one decoding means the path was encoded twice; a second decoder anywhere
  // downstream would turn "%252e%252e" into "..". The built UI has no "%" in its file names.
  if (decoded.includes('%')) return refusal(400, 'doubly encoded path');
  return decoded;
}

/**
 * Maps a request path to a regular file under `root` (a real path), or says why not. Segments are
 * checked after decoding, so "%2e%2e", "..%2f" and "%2f" cannot climb out, and the file's real path
 * must still lie under the root, so a symbolic link cannot lead out either.
 */
export function staticFile(root: string, path: string): { file: string; size: number } | Refusal {
  const decoded = decodePath(path);
  if (isRefusal(decoded)) return decoded;
  const segments = decoded.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '.' || s === '..')) return refusal(403, 'path leaves the UI folder');
  if (segments.length === 0) segments.push('index.html');
  try {
    const file = realpathSync(join(root, ...segments));
    if (!file.startsWith(root + sep)) return refusal(403, 'path leaves the UI folder');
    const stat = statSync(file);
    if (!stat.isFile()) return refusal(404, 'not found');
    return { file, size: stat.size };
  } catch {
    return refusal(404, 'not found');
  }
}

// Writing into and reading from the shared directory without trusting names someone else could have
// prepared there. A file the lab writes goes first into a new file with a random name, opened with
// O_CREAT|O_EXCL|O_NOFOLLOW (an existing file or a planted symbolic link makes the open fail, so
// nothing is ever written through one), then is renamed over its place: a rename replaces a link
// itself, it never follows it. A file the lab reads is opened with O_NOFOLLOW, so a link is refused.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  openSync,
  readlinkSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

const { O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_WRONLY } = constants;
const CHUNK = 1 << 20;

const code = (error: unknown) => (error as NodeJS.ErrnoException).code ?? (error as Error).message;

/** Opens `path` as a new, empty file; throws naming it when anything (a file, a link) is already there. */
export function openNew(path: string, mode = 0o600): number {
  let fd: number;
  try {
    fd = openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  } catch (error) {
    const already = code(error) === 'EEXIST' || code(error) === 'ELOOP';
    throw new Error(
      `cannot create ${path}: ${code(error)}${already ? ' (something is already there, perhaps a planted link; nothing was written through it)' : ''}`,
      { cause: error },
    );
  }
  fchmodSync(fd, mode); // the mode asked for, whatever the umask took away
  return fd;
}

/** Opens `path` for reading, refusing a symbolic link by name. */
export function openExisting(path: string): number {
  try {
    return openSync(path, O_RDONLY | O_NOFOLLOW);
  } catch (error) {
    if (code(error) === 'ELOOP')
      throw new Error(`${path} is a symbolic link${linkTarget(path)}; refused`, { cause: error });
    throw error;
  }
}

function linkTarget(path: string): string {
  try {
    return ` (to ${readlinkSync(path)})`;
  } catch {
    return '';
  }
}

/** Whether anything is at `path`, a link (even a dangling one) included. */
export function lexists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Throws naming `path` when it is a symbolic link (a missing path is fine). */
export function refuseLink(path: string, what: string): void {
  let isLink: boolean;
  try {
    isLink = lstatSync(path).isSymbolicLink();
  } catch {
    return;
  }
  if (isLink)
    throw new Error(
      `${what} ${path} is a symbolic link${linkTarget(path)}: the lab never writes through one; remove it, or use a new directory`,
    );
}

/** A name beside `target` nobody can guess (a dot file, so listings and globs skip it). */
export function tempBeside(target: string): string {
  return join(dirname(target), `.${basename(target)}.${randomBytes(12).toString('hex')}.tmp`);
}

/** Copies everything readable from one descriptor to the other. */
function copyDescriptor(from: number, to: number): void {
  const buffer = Buffer.allocUnsafe(CHUNK);
  for (let n = readSync(from, buffer); n > 0; n = readSync(from, buffer)) {
    for (let off = 0; off < n;) off += writeSync(to, buffer, off, n - off);
  }
}

/** Copies the regular file `source` (no link followed) into a new file `target` (see openNew). */
export function copyToNew(source: string, target: string, mode = 0o600): void {
  const from = openExisting(source);
  try {
    if (!fstatSync(from).isFile()) throw new Error(`${source} is not a regular file; refused`);
    const to = openNew(target, mode);
    try {
      copyDescriptor(from, to);
      fsyncSync(to);
    } finally {
      closeSync(to);
    }
  } finally {
    closeSync(from);
  }
}

/**
 * Puts `content` (text, or the file at `copyOf`) at `target` whole: written to a fresh temp file
 * beside it, flushed, then renamed over it. On failure the temp file is removed and `target` is as
 * it was.
 */
export function replaceFile(
  target: string,
  content: { text: string } | { copyOf: string },
  mode: number,
): void {
  const temp = tempBeside(target);
  try {
    if ('copyOf' in content) copyToNew(content.copyOf, temp, mode);
    else {
      const fd = openNew(temp, mode);
      try {
        writeSync(fd, content.text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    renameSync(temp, target);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

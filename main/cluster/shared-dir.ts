// The shared directory of a cluster submission: what `sublab submit` writes for the nodes and what
// their tasks write back. A node needs nothing else from the submitting machine (never its store).
//
// Only the submitting user can write it (0700, or 0750 for a group that reads it): see checkPrivateDir.
//
//   DIR/experiment.json  the spec, the unit list and the submission's token (written once)
//   DIR/job.sbatch       the array job script, one task per unit (task id = unit index)
//   DIR/units/K.sqlite   unit K's rows, published whole by its task when it ends (never written in place)
//   DIR/logs/J_K.out     the output of job J's task K
import { execFileSync } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  chownSync,
  closeSync,
  constants,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  type Stats,
} from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { BACKENDS, type BackendChoice } from '../../app/protocol.ts';
import { specHash } from '../../app/spec/hash.ts';
import type { ExperimentSpec } from '../../app/spec/schema.ts';
import { validateSpec } from '../../app/spec/validate.ts';
import type { UnitPlan } from '../store/store.ts';
import { lexists, openExisting, openNew, refuseLink, tempBeside } from './private-files.ts';

export function sharedPaths(dir: string) {
  return {
    manifest: join(dir, 'experiment.json'),
    script: join(dir, 'job.sbatch'),
    units: join(dir, 'units'),
    logs: join(dir, 'logs'),
    unit: (index: number) => join(dir, 'units', `${index}.sqlite`),
  };
}

export interface Manifest {
  format: 1;
  /** Names the submission; every unit file written for it carries the same token. */
  token: string;
  /** The experiment's id in the submitting machine's store (for people reading the file). */
  experimentId: number;
  name: string;
  specHash: string;
  /** What each task trains on; `auto` lets each node pick its best backend. */
  backend: BackendChoice;
  spec: ExperimentSpec;
  units: UnitPlan[];
  submittedFrom: { host: string; store: string };
  createdAt: string;
}

const Unit = z.strictObject({
  index: z.number().int().nonnegative(),
  group: z.number().int().nonnegative(),
  cells: z.array(z.number().int().nonnegative()).min(1),
  replicates: z.array(z.number().int().nonnegative()).min(1),
});

const ManifestSchema = z.strictObject({
  format: z.literal(1),
  token: z.string().min(8),
  experimentId: z.number().int().positive(),
  name: z.string(),
  specHash: z.string(),
  backend: z.enum(['auto', ...BACKENDS]),
  spec: z.unknown(),
  units: z.array(Unit).min(1),
  submittedFrom: z.strictObject({ host: z.string(), store: z.string() }),
  createdAt: z.string(),
});

/** The manifest of `dir`, checked: its schema, its spec (validated again) and the spec's hash. */
export function readManifest(dir: string): Manifest {
  const file = sharedPaths(dir).manifest;
  let text: string;
  try {
    const fd = openExisting(file);
    try {
      text = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!code) throw error; // a link, refused by name
    throw new Error(`cannot read ${file}: ${code} (is the shared directory mounted here?)`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success)
    throw new Error(
      `${file} is not a submission manifest: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ')}`,
    );
  const manifest = parsed.data;
  if (specHash(manifest.spec as ExperimentSpec) !== manifest.specHash)
    throw new Error(`${file}: the spec does not match its hash ${manifest.specHash}; it was edited`);
  const spec = validateSpec(manifest.spec);
  if (!spec.ok)
    throw new Error(
      `${file}: the spec does not validate with this version of the lab: ${spec.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
    );
  manifest.units.forEach((u, i) => {
    if (u.index !== i) throw new Error(`${file}: unit ${i} has index ${u.index}; units are numbered 0..N-1`);
  });
  return { ...manifest, spec: spec.spec };
}

/** The text written to experiment.json (kept readable: people look at it). */
export function manifestText(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

export function newManifest(
  fields: Omit<Manifest, 'format' | 'submittedFrom' | 'createdAt'> & {
    store: string;
  },
): Manifest {
  const { store, ...rest } = fields;
  return {
    format: 1,
    ...rest,
    submittedFrom: { host: hostname(), store },
    createdAt: new Date().toISOString(),
  };
}

/** Group `name`'s line (name:password:gid:members) from NSS (getent), else /etc/group; '' when none. */
function groupLine(name: string): string {
  try {
    return execFileSync('getent', ['group', name], { encoding: 'utf8', timeout: 10_000 });
  } catch {
    // not found, or no getent: the local file is all there is
  }
  try {
    return (
      readFileSync('/etc/group', 'utf8')
        .split('\n')
        .find((l) => l.startsWith(`${name}:`)) ?? ''
    );
  } catch {
    return '';
  }
}

/** The id of group `name` (a name, or a number), as the system's group database (NSS) knows it. */
export function groupId(name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  const line = groupLine(name);
  const gid = Number(line.split(':')[2]);
  if (!line || !Number.isInteger(gid)) throw new Error(`--group ${name}: no such group`);
  return gid;
}

/** The folders' mode: the user's alone, or (setgid, so what is made in them keeps it) a group's to read. */
const dirMode = (gid: number | undefined) => (gid === undefined ? 0o700 : 0o2750);

/** The mode of the files the lab writes into `dir`: readable by the group when the folder is. */
export function fileModeIn(dir: string): number {
  return lstatSync(dir).mode & 0o050 ? 0o640 : 0o600;
}

const octal = (mode: number) => `0${(mode & 0o7777).toString(8)}`;

/**
 * Refuses a folder of the shared directory (or a file the lab runs from it) that someone else could
 * change: a symbolic link, not what it should be, owned by another user, or writable by its group or
 * by others; a folder must also be writable here. Whoever can write it could plant links where the
 * lab writes, forge unit files, or replace job.sbatch, which a resubmission runs as you.
 */
export function checkPrivate(path: string, what: string, kind: 'directory' | 'file' = 'directory'): void {
  const refuse = (why: string): never => {
    throw new Error(`${what} ${path} ${why}`);
  };
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (error) {
    return refuse(`cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (st.isSymbolicLink())
    refuse(
      `is a symbolic link (to ${readlinkSync(path)}): the lab neither writes nor runs through one; give the real path`,
    );
  if (kind === 'directory' ? !st.isDirectory() : !st.isFile())
    refuse(`is not a ${kind === 'file' ? 'regular file' : kind}`);
  if (kind === 'directory')
    try {
      accessSync(path, constants.W_OK | constants.X_OK);
    } catch (error) {
      refuse(`is not writable: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid)
    refuse(
      `belongs to uid ${st.uid}, not to you (uid ${uid}): its owner could change it; use a directory of your own`,
    );
  const fix = `\`chmod go-w ${path}\`, or use a new directory`;
  if (st.mode & 0o002)
    refuse(
      `can be written by other users (mode ${octal(st.mode)}): they could plant links, forge unit files or change job.sbatch; ${fix}`,
    );
  if (st.mode & 0o020)
    refuse(
      `can be written by its group (gid ${st.gid}, mode ${octal(st.mode)}): its members could plant links, forge unit files or change job.sbatch; ${fix}`,
    );
}

/** checkPrivate for the shared directory or one of its folders. */
export function checkPrivateDir(path: string, what = 'the shared directory'): void {
  checkPrivate(path, what, 'directory');
}

/** Creates `path` with the mode for `gid` (recorded in `created`), or gives an existing one that group. */
function makePrivateDir(path: string, gid: number | undefined, created: string[], what: string): void {
  const fail = (doing: string, error: unknown): never => {
    throw new Error(
      `${what} ${path} ${doing}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  };
  if (!lexists(path)) {
    try {
      mkdirSync(path, { mode: 0o700 });
      created.push(path);
    } catch (error) {
      fail('cannot be created (is the shared file system mounted?)', error);
    }
  } else if (gid !== undefined) checkPrivateDir(path, what); // before it is changed
  try {
    if (gid !== undefined) chownSync(path, process.getuid?.() ?? -1, gid);
    if (created.includes(path) || gid !== undefined) chmodSync(path, dirMode(gid));
  } catch (error) {
    fail(`cannot be given to group ${gid} (you can only give your files to a group you are in)`, error);
  }
  checkPrivateDir(path, what);
}

/**
 * Makes `dir` ready for a new submission, or says why it cannot be: it is created when missing (its
 * parent must exist and be writable) with mode 0700, or 0750 and the named group; an existing one must
 * be the user's own and writable by nobody else; it must not hold another submission, nor a link where
 * the lab writes. Returns the absolute path and an undo that removes what this call created.
 */
export function prepareSharedDir(dir: string, group?: string): { dir: string; undo: () => void } {
  const abs = resolve(dir);
  const gid = group === undefined ? undefined : groupId(group);
  const created: string[] = [];
  const paths = sharedPaths(abs);
  const ours = [paths.manifest, ...(lexists(paths.script) ? [] : [paths.script])];
  const removeCreated = () => {
    for (const d of [...created].reverse()) rmSync(d, { recursive: true, force: true });
  };
  try {
    makePrivateDir(abs, gid, created, 'the shared directory');
    if (lexists(paths.manifest))
      throw new Error(
        `the shared directory ${abs} already holds a submission (${paths.manifest}); use a new directory for each experiment`,
      );
    refuseLink(paths.script, 'the array script');
    const probe = tempBeside(join(abs, '.sublab-write-test'));
    try {
      closeSync(openNew(probe));
      rmSync(probe);
    } catch (error) {
      throw new Error(`the shared directory ${abs} is not writable: ${(error as Error).message}`, {
        cause: error,
      });
    }
    for (const sub of [paths.units, paths.logs]) makePrivateDir(sub, gid, created, 'the folder');
  } catch (error) {
    removeCreated();
    throw error;
  }
  const undo = () => {
    for (const f of ours) rmSync(f, { force: true });
    removeCreated();
  };
  return { dir: abs, undo };
}

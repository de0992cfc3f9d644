// The shared directory of a cluster submission: what `sublab submit` writes for the nodes and what
// their tasks write back. A node needs nothing else from the submitting machine (never its store).
//
//   DIR/experiment.json  the spec, the unit list and the submission's token (written once)
//   DIR/job.sbatch       the array job script, one task per unit (task id = unit index)
//   DIR/units/K.sqlite   unit K's rows, published whole by its task when it ends (never written in place)
//   DIR/logs/J_K.out     the output of job J's task K
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { BACKENDS, type BackendChoice } from '../../app/protocol.ts';
import { specHash } from '../../app/spec/hash.ts';
import type { ExperimentSpec } from '../../app/spec/schema.ts';
import { validateSpec } from '../../app/spec/validate.ts';
import type { UnitPlan } from '../store/store.ts';

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
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(
      `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message} (is the shared directory mounted here?)`,
      { cause: error },
    );
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

/**
 * Makes `dir` ready for a new submission, or says why it cannot be: it is created when missing (its
 * parent must exist and be writable), must be writable, and must not hold another submission.
 * Returns the absolute path and an undo that removes what this call created.
 */
export function prepareSharedDir(dir: string): { dir: string; undo: () => void } {
  const abs = resolve(dir);
  const created: string[] = [];
  const fail = (what: string, error: unknown): never => {
    throw new Error(
      `the shared directory ${abs} ${what}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  };
  if (!existsSync(abs)) {
    try {
      mkdirSync(abs);
      created.push(abs);
    } catch (error) {
      fail('cannot be created (is the shared file system mounted?)', error);
    }
  }
  const paths = sharedPaths(abs);
  const ours = [paths.manifest, ...(existsSync(paths.script) ? [] : [paths.script])];
  if (existsSync(paths.manifest))
    throw new Error(
      `the shared directory ${abs} already holds a submission (${paths.manifest}); use a new directory for each experiment`,
    );
  try {
    accessSync(abs, constants.W_OK | constants.X_OK);
    const probe = join(abs, `.sublab-write-test-${process.pid}`);
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (error) {
    fail('is not writable', error);
  }
  for (const sub of [paths.units, paths.logs])
    if (!existsSync(sub)) {
      mkdirSync(sub);
      created.push(sub);
    }
  const undo = () => {
    for (const f of ours) rmSync(f, { force: true });
    for (const d of created.reverse()) rmSync(d, { recursive: true, force: true });
  };
  return { dir: abs, undo };
}

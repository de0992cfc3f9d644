// The shared directory trusts nobody who can write it: it is made 0700 (2750 for a named group)
// whatever the umask, one that its group or others can write is refused by name, and nothing the lab
// writes goes through a symbolic link someone planted (at job.sbatch, at a temporary name). Submissions
// go to an sbatch stand-in (no SLURM here); every file and store is real.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mustValidate } from '../../app/spec/validate.ts';
import type { ClusterOptions } from '../store/clusters.ts';
import { RunStore } from '../store/store.ts';
import { openNew, replaceFile } from './private-files.ts';
import { resubmitExperiment, submitExperiment, type SubmitInput } from './submit.ts';
import { fakeSbatch } from './testing/fake-sbatch.ts';
import { dumpStore } from './testing/store-dump.ts';
import type { Scheduler } from './slurm.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-shared-dir-'));
const spec = mustValidate({ version: 1, name: 'shared dir', replicates: 2 });
const db = join(dir, 'store.sqlite');
new RunStore(db).close();
const input = (shared: string, options: Partial<ClusterOptions> = {}): SubmitInput => ({
  spec,
  dir: shared,
  backend: 'wasm',
  shards: 2,
  options: { sbatchArgs: [], ...options },
});
const mode = (path: string) => lstatSync(path).mode & 0o7777;

/** A file someone else cares about, which a link may point at. */
function victim(name: string): string {
  const file = join(dir, name);
  writeFileSync(file, 'precious\n');
  return file;
}

async function submitted(shared: string, options: Partial<ClusterOptions> = {}) {
  const store = new RunStore(db);
  try {
    return await submitExperiment(store, input(shared, options), fakeSbatch().scheduler);
  } finally {
    store.close();
  }
}

/** Submits into `shared` and expects the refusal `pattern`, with the store unchanged and sbatch not called. */
async function refused(shared: string, pattern: RegExp): Promise<void> {
  const before = dumpStore(db);
  const sbatch = fakeSbatch();
  const store = new RunStore(db);
  try {
    await assert.rejects(submitExperiment(store, input(shared), sbatch.scheduler), pattern);
  } finally {
    store.close();
  }
  assert.equal(sbatch.args(), null, 'sbatch was never called');
  assert.deepEqual(dumpStore(db), before, 'the store is unchanged');
}

test('a new shared directory is yours alone (0700) whatever the umask; 2750 for a named group', async () => {
  const umask = process.umask(0o002); // a lab machine's usual umask: group-writable by default
  try {
    const own = await submitted(join(dir, 'own'));
    for (const d of ['', 'units', 'logs'])
      assert.equal(mode(join(own.dir, d)), 0o700, `${d || 'the directory'}`);
    assert.equal(mode(join(own.dir, 'experiment.json')), 0o600);
    assert.equal(mode(join(own.dir, 'job.sbatch')), 0o700);

    const gid = process.getgid!();
    const group = execFileSync('getent', ['group', String(gid)], { encoding: 'utf8' }).split(':')[0]!;
    const shared = await submitted(join(dir, 'grouped'), { group });
    for (const d of ['', 'units', 'logs']) {
      assert.equal(mode(join(shared.dir, d)), 0o2750, `${d || 'the directory'} is the group's to read`);
      assert.equal(statSync(join(shared.dir, d)).gid, gid);
    }
    assert.equal(mode(join(shared.dir, 'experiment.json')), 0o640);
    assert.equal(mode(join(shared.dir, 'job.sbatch')), 0o750);
    await assert.rejects(
      submitted(join(dir, 'no-group'), { group: 'no-such-group-here' }),
      /--group no-such-group-here: no such group/,
    );
  } finally {
    process.umask(umask);
  }
});

test('a shared directory its group or others can write is refused by name, nothing stored', async () => {
  for (const [name, bits, who] of [
    ['group-writable', 0o770, 'its group'],
    ['world-writable', 0o707, 'other users'],
    ['world-writable-sticky', 0o1777, 'other users'],
  ] as const) {
    const shared = join(dir, name);
    mkdirSync(shared);
    chmodSync(shared, bits);
    await refused(shared, new RegExp(`^Error: the shared directory ${shared} can be written by ${who} \\(`));
    assert.equal(mode(shared), bits, 'its mode is left as it was');
  }
  // A folder inside, made writable by the group, is refused as well.
  const shared = join(dir, 'units-writable');
  mkdirSync(join(shared, 'units'), { recursive: true });
  chmodSync(shared, 0o700);
  chmodSync(join(shared, 'units'), 0o770);
  await refused(shared, new RegExp(`^Error: the folder ${shared}/units can be written by its group`));
});

test('a symbolic link planted at job.sbatch is refused by name and its target untouched', async () => {
  const target = victim('bashrc');
  const shared = join(dir, 'planted-script');
  mkdirSync(shared, { mode: 0o700 });
  symlinkSync(target, join(shared, 'job.sbatch'));
  await refused(
    shared,
    new RegExp(`^Error: the array script ${shared}/job.sbatch is a symbolic link \\(to ${target}\\)`),
  );
  assert.equal(readFileSync(target, 'utf8'), 'precious\n');
  assert.equal(readlinkSync(join(shared, 'job.sbatch')), target, 'the link is left for its owner to see');

  // A shared directory that is itself a link is refused too: its real path is asked for.
  const real = join(dir, 'real');
  mkdirSync(real, { mode: 0o700 });
  symlinkSync(real, join(dir, 'linked'));
  await refused(
    join(dir, 'linked'),
    /^Error: the shared directory .*linked is a symbolic link \(to .*real\)/,
  );
});

test("a link planted at the lab's old temporary name is not written through", async () => {
  // Before, the write test wrote .sublab-write-test-PID through whatever was there.
  const target = victim('passwd');
  const shared = join(dir, 'planted-temp');
  mkdirSync(shared, { mode: 0o700 });
  symlinkSync(target, join(shared, `.sublab-write-test-${process.pid}`));
  await submitted(shared);
  assert.equal(readFileSync(target, 'utf8'), 'precious\n');

  // Temporary files are opened exclusive and no-follow: a link at the very name is refused, by name.
  const planted = join(shared, '.experiment.json.tmp');
  symlinkSync(target, planted);
  assert.throws(
    () => openNew(planted),
    new RegExp(`^Error: cannot create ${planted}: EEXIST .*planted link; nothing was written through it`),
  );
  assert.equal(readFileSync(target, 'utf8'), 'precious\n');
  // And a file put in place by rename replaces a link there, never its target.
  const link = join(shared, 'notes.txt');
  symlinkSync(target, link);
  replaceFile(link, { text: 'mine\n' }, 0o600);
  assert.equal(readFileSync(link, 'utf8'), 'mine\n');
  assert.equal(lstatSync(link).isSymbolicLink(), false);
  assert.equal(readFileSync(target, 'utf8'), 'precious\n');
});

test('a resubmission refuses a job.sbatch that became a link or that others can write', async () => {
  const shared = join(dir, 'resubmitted');
  const first = await submitted(shared);
  // Its tasks left nothing and SLURM forgot them: both units are missing, to be resubmitted.
  const calls: string[] = [];
  const scheduler: Scheduler = {
    name: 'slurm',
    checkSubmit: () => undefined,
    submit: (script) => Promise.resolve(String(calls.push(script) + 100)),
    taskStates: () => Promise.resolve({ states: new Map(), problems: [] }),
  };
  const target = victim('evil.sh');
  const script = join(shared, 'job.sbatch');
  const store = new RunStore(db);
  try {
    const original = readFileSync(script, 'utf8');
    chmodSync(script, 0o720);
    await assert.rejects(
      resubmitExperiment(store, first.experimentId, scheduler),
      new RegExp(`^Error: the array script ${script} can be written by its group`),
    );
    rmSync(script);
    symlinkSync(target, script);
    await assert.rejects(
      resubmitExperiment(store, first.experimentId, scheduler),
      new RegExp(`^Error: the array script ${script} is a symbolic link \\(to ${target}\\)`),
    );
    assert.deepEqual(calls, [], 'sbatch was never given the script');
    rmSync(script);
    writeFileSync(script, original, { mode: 0o700 });
    const again = await resubmitExperiment(store, first.experimentId, scheduler);
    assert.deepEqual(again.units, [0, 1]);
  } finally {
    store.close();
  }
});

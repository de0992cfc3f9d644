// Submitting without a SLURM: what is refused before anything is stored (no sbatch, a shared directory
// that cannot be reached or written, a directory already used), the script sbatch would get, and how
// the answers of squeue, scontrol and sacct (as captured from SLURM 22.05) are read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mustValidate } from '../../app/spec/validate.ts';
import { RunStore } from '../store/store.ts';
import { arraySpec, checkSbatchArgs, sbatchScript } from './sbatch-script.ts';
import { expandArray, parseSacct, parseScontrol, parseSqueue, slurm, type TaskStates } from './slurm.ts';
import { dumpStore } from './testing/store-dump.ts';
import { submitExperiment, type SubmitInput } from './submit.ts';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'sublab-submit-'));
chmodSync(dir, 0o755);
const noSbatch = join(dir, 'empty-bin');
mkdirSync(noSbatch);
const spec = mustValidate({ version: 1, name: 'refused', replicates: 2 });
const specFile = join(dir, 'spec.json');
writeFileSync(specFile, JSON.stringify(spec));

const input = (shared: string): SubmitInput => ({
  spec,
  dir: shared,
  backend: 'wasm',
  shards: 2,
  options: { sbatchArgs: [] },
});

test('a missing sbatch, an unreachable or already used directory: a clear error, the store unchanged', async () => {
  const db = join(dir, 'store.sqlite');
  const store = new RunStore(db);
  const before = dumpStore(db);
  const scheduler = slurm({ PATH: noSbatch });
  try {
    const fresh = join(dir, 'fresh');
    await assert.rejects(
      submitExperiment(store, input(fresh), scheduler),
      /^Error: sbatch not found on PATH \(.*empty-bin\): submitting needs SLURM's client commands; run it on a login node/,
    );
    assert.equal(existsSync(fresh), false, 'the directory submit made is removed again');

    await assert.rejects(
      submitExperiment(store, input(join(dir, 'not-mounted', 'shared')), scheduler),
      /the shared directory .*not-mounted\/shared cannot be created \(is the shared file system mounted\?\): ENOENT/,
    );
    writeFileSync(join(dir, 'a-file'), '');
    await assert.rejects(
      submitExperiment(store, input(join(dir, 'a-file', 'shared')), scheduler),
      /the shared directory .*a-file\/shared cannot be created .*: ENOTDIR/,
    );
    const used = join(dir, 'used');
    mkdirSync(used);
    writeFileSync(join(used, 'experiment.json'), '{}');
    await assert.rejects(
      submitExperiment(store, input(used), scheduler),
      /the shared directory .*used already holds a submission .*use a new directory for each experiment/,
    );
    assert.ok(existsSync(join(used, 'experiment.json')), "another submission's files are left alone");
    await assert.rejects(
      submitExperiment(store, { ...input(join(dir, 'x')), options: { sbatchArgs: ['mem=8G'] } }, scheduler),
      /--sbatch-arg "mem=8G": expected an sbatch option/,
    );
  } finally {
    store.close();
  }
  assert.deepEqual(dumpStore(db), before);
});

test('an unwritable shared directory is refused by `sublab submit`, the store unchanged', () => {
  const work = join(dir, 'unwritable');
  mkdirSync(work, { mode: 0o777 });
  chmodSync(work, 0o777); // the test may run as root: the command then runs as nobody, who needs the store
  const db = join(work, 'store.sqlite');
  new RunStore(db).close();
  chmodSync(db, 0o666);
  const before = dumpStore(db);
  const readOnly = join(work, 'read-only');
  mkdirSync(readOnly, { mode: 0o555 });
  chmodSync(readOnly, 0o555);
  // Root writes anywhere: the refusal is only real for another user.
  const nobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const out = spawnSync(
    process.execPath,
    [join(root, 'bin/sublab.js'), 'submit', specFile, '--slurm', '--dir', readOnly, '--db', db],
    { ...nobody, cwd: work, encoding: 'utf8', env: { ...process.env, PATH: noSbatch, HOME: work } },
  );
  assert.equal(out.status, 1, out.stderr);
  assert.match(out.stderr, /^sublab: the shared directory .*read-only is not writable: EACCES/);
  assert.deepEqual(dumpStore(db), before);
});

test('the array script: one task per unit, the options as #SBATCH lines, the run-unit line quoted', () => {
  const script = sbatchScript({
    experimentId: 7,
    jobName: 'sublab-7-0a1b2c3d',
    name: 'paper',
    dir: "/shared/lab's runs",
    units: 12,
    options: { partition: 'gpu', gpusPerTask: 1, time: '2:00:00', arrayMax: 4, sbatchArgs: ['--mem=8G'] },
    command: '/opt/node/bin/node /shared/lab/bin/sublab.js',
  });
  const directives = script.split('\n').filter((l) => l.startsWith('#SBATCH'));
  assert.deepEqual(directives, [
    '#SBATCH --job-name=sublab-7-0a1b2c3d',
    '#SBATCH --array=0-11%4',
    '#SBATCH --ntasks=1',
    `#SBATCH --output="/shared/lab's runs/logs/%A_%a.out"`,
    '#SBATCH --partition=gpu',
    '#SBATCH --gpus-per-task=1',
    '#SBATCH --time=2:00:00',
    '#SBATCH --mem=8G',
  ]);
  assert.match(
    script,
    /^exec \/opt\/node\/bin\/node \/shared\/lab\/bin\/sublab.js run-unit '\/shared\/lab'\\''s runs' "\$SLURM_ARRAY_TASK_ID"$/m,
  );
  // bash reads it (syntax only)
  const bash = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
  assert.equal(bash.status, 0, bash.stderr);
  assert.equal(arraySpec([5, 0, 1, 2, 7, 8]), '0-2,5,7-8');
  assert.equal(arraySpec([3], 2), '3%2');
  assert.throws(
    () => checkSbatchArgs(['--mem=1G\n#SBATCH --x']),
    /--sbatch-arg .*contains a control character \(U\+000A\)/,
  );
});

test("squeue, scontrol and sacct answers are read into each array task's state", () => {
  assert.deepEqual(expandArray('0-3'), [0, 1, 2, 3]);
  assert.deepEqual(expandArray('1,3,6-10:2%1'), [1, 3, 6, 8, 10]);
  const states: TaskStates = new Map();
  parseSqueue('4|1|PENDING|None\n4|3|RUNNING|None\n9|0|PENDING|Priority\n', new Set(['4']), states);
  parseScontrol(
    'JobId=4 ArrayJobId=4 ArrayTaskId=3 JobState=COMPLETED Reason=None ExitCode=0:0\n' +
      'JobId=5 ArrayJobId=4 ArrayTaskId=2 JobState=CANCELLED Reason=None ExitCode=0:15\n' +
      'JobId=6 ArrayJobId=6 ArrayTaskId=5-6%1 JobState=PENDING Reason=JobArrayTaskLimit\n',
    states,
  );
  parseSacct('4_0|FAILED\n4_[7-8]|PENDING\n4_2|CANCELLED by 0\n', states);
  const at = (job: string, task: number) => {
    const s = states.get(job)?.get(task);
    return s && `${s.state}/${s.source}${s.reason ? `/${s.reason}` : ''}`;
  };
  assert.equal(at('4', 1), 'PENDING/squeue');
  assert.equal(at('4', 3), 'RUNNING/squeue', 'the live answer wins');
  assert.equal(at('4', 2), 'CANCELLED/scontrol');
  assert.equal(at('4', 0), 'FAILED/sacct');
  assert.equal(at('4', 8), 'PENDING/sacct');
  assert.equal(at('6', 6), 'PENDING/scontrol/JobArrayTaskLimit');
  assert.equal(states.has('9'), false, 'jobs of other experiments are not ours');
});

// A matrix on a real SLURM: a private single-node cluster of Debian's slurm-wlm on this machine, real
// `sublab` processes, real array tasks training real (tiny) units, real SQLite files. The merged
// results must equal a local run of the same spec bit for bit; a cancelled task is resubmitted with
// `submit --resume`; collecting twice changes nothing; unit files that are foreign or corrupt are
// refused with the store untouched.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunStore } from '../store/store.ts';
import { collectExperiment } from './collect.ts';
import { slurm } from './slurm.ts';
import { dumpStore } from './testing/store-dump.ts';
import { storedRows } from '../cli/testing/processes.ts';
import { submitExperiment } from './submit.ts';
import { startPrivateSlurm, slurmMissing, type PrivateSlurm } from './testing/private-slurm.ts';
import { mustValidate } from '../../app/spec/validate.ts';

const missing = slurmMissing();
if (missing && process.env['CI']) throw new Error(`the SLURM test must run in CI: ${missing}`);
const options = missing ? { skip: `no private SLURM here: ${missing}` } : {};

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'sublab-slurm-test-'));
// Two cells sharing a teacher (two filters), two replicates: with --shards 2, two units of one cell
// group x one replicate each.
const SPEC = {
  version: 1,
  name: 'cluster matrix',
  dataset: { name: 'mnist', trainSize: 600, testLimit: 200 },
  model: { hidden: [32] },
  teacher: { epochs: 1, batchSize: 100 },
  student: { epochs: 1, batchSize: 64, inputs: { kind: 'uniform', count: 2048 } },
  replicates: 2,
  lossEvery: 1,
  matrix: {
    filters: [
      { kind: 'logits', keep: 'aux' },
      { kind: 'temperature', keep: 'aux', value: 2 },
    ],
  },
};
const specFile = join(dir, 'matrix.json');
writeFileSync(specFile, JSON.stringify(SPEC));

let cluster: PrivateSlurm | undefined;
const started = performance.now();
const clock = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;

before(async () => {
  if (!missing) cluster = await startPrivateSlurm();
});
after(async () => {
  await cluster?.stop();
});

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sublab(...args: string[]): Promise<Exit> {
  const env = { ...cluster!.env, SUBLAB_CACHE_DIR: join(dir, 'cache'), SUBLAB_BACKEND: 'wasm' };
  const child = spawn(process.execPath, [join(root, 'bin/sublab.js'), ...args], { cwd: dir, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

async function ok<T>(args: string[]): Promise<T> {
  const exit = await sublab(...args);
  assert.equal(exit.code, 0, `sublab ${args.join(' ')}: ${exit.stderr}\n${cluster?.logs()}`);
  return JSON.parse(exit.stdout) as T;
}

/** Polls squeue until the job has no task left in the queue. */
async function waitForJob(jobId: string, timeoutMs = 100_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const q = spawnSync('squeue', ['-h', '-r', '-j', jobId, '-o', '%i %T'], {
      env: cluster!.env,
      encoding: 'utf8',
    });
    if (q.status !== 0 || q.stdout.trim() === '') return; // unknown (ended and purged) or empty
    if (Date.now() > deadline) throw new Error(`job ${jobId} still queued: ${q.stdout}\n${cluster!.logs()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface Submitted {
  experimentId: number;
  jobId: string;
  units: number[];
  dir: string;
  script: string;
}
interface Report {
  status: string;
  error: string | null;
  merged: number[];
  counts: Record<string, number>;
  units: { index: number; state: string; task: string | null; detail: string | null }[];
}

const local = join(dir, 'local.sqlite');
const shared = join(dir, 'shared');

test(
  'a matrix runs as a SLURM array job; collected, it equals a local run bit for bit',
  options,
  async (t) => {
    const log = (what: string) => t.diagnostic(`${clock()}: ${what}`);
    const reference = ok<{ experimentId: number }>([
      'run',
      specFile,
      '--db',
      join(dir, 'reference.sqlite'),
      '--workers',
      '1',
      '--json',
    ]);
    const submitted = await ok<Submitted>([
      'submit',
      specFile,
      '--slurm',
      '--dir',
      shared,
      '--shards',
      '2',
      '--backend',
      'wasm',
      '--db',
      local,
      '--partition',
      'debug',
      '--time',
      '10:00',
      '--sbatch-arg=--cpus-per-task=1',
      '--json',
    ]);
    log(`sublab submit: job ${submitted.jobId}, units ${submitted.units.join(',')}`);
    assert.deepEqual(submitted.units, [0, 1]);
    const script = readFileSync(submitted.script, 'utf8');
    assert.match(script, /^#SBATCH --array=0-1$/m);
    assert.match(script, /^#SBATCH --partition=debug$/m);
    assert.match(script, /^#SBATCH --cpus-per-task=1$/m);
    assert.match(script, /run-unit .*shared "\$SLURM_ARRAY_TASK_ID"$/m);

    const cancel = spawnSync('scancel', [`${submitted.jobId}_1`], { env: cluster!.env, encoding: 'utf8' });
    assert.equal(cancel.status, 0, cancel.stderr);
    log(`scancel ${submitted.jobId}_1`);
    await waitForJob(submitted.jobId);
    log(`job ${submitted.jobId} left the queue`);

    const first = await ok<Report>(['collect', '1', '--db', local, '--json']);
    log(
      `collect: merged ${first.merged.join(',')}; unit 1 ${first.units[1]!.state} (${first.units[1]!.detail})`,
    );
    assert.deepEqual(first.merged, [0]);
    assert.equal(first.units[0]!.state, 'finished');
    assert.ok(['failed', 'missing'].includes(first.units[1]!.state), JSON.stringify(first.units[1]));
    assert.equal(first.status, 'failed', 'nothing left pending or running, one unit not finished');
    assert.match(first.error ?? '', /sublab submit --resume 1/);

    const again = await ok<Submitted>(['submit', '--resume', '1', '--db', local, '--json']);
    log(`sublab submit --resume 1: job ${again.jobId}, units ${again.units.join(',')}`);
    assert.deepEqual(again.units, [1]);
    assert.notEqual(again.jobId, submitted.jobId);
    await waitForJob(again.jobId);
    log(`job ${again.jobId} left the queue`);

    const second = await ok<Report>(['collect', '1', '--db', local, '--json']);
    log(`collect: merged ${second.merged.join(',')}, status ${second.status}`);
    assert.deepEqual(second.merged, [1]);
    assert.equal(second.status, 'done');
    assert.equal(second.units[1]!.task, `${again.jobId}_1`);

    const ref = await reference;
    log('local reference run done');
    const got = storedRows(local, 1);
    const want = storedRows(join(dir, 'reference.sqlite'), ref.experimentId);
    assert.equal(got.results.flatMap((c) => c.rows).length, 2 * 6 * 2, 'cells x conditions x replicates');
    assert.deepEqual(got.results, want.results);
    assert.equal(got.metrics.length, want.metrics.length);
    assert.deepEqual(got.metrics, want.metrics);

    const before = dumpStore(local);
    const store = new RunStore(local);
    const third = await collectExperiment(store, 1, slurm(cluster!.env)).finally(() => store.close());
    assert.deepEqual(third.merged, []);
    assert.equal(third.status, 'done');
    assert.deepEqual(dumpStore(local), before, 'collecting again changes nothing');
    log('collect again: nothing changed');
  },
);

test('unit files from another experiment, or corrupt, are refused and change nothing', options, async () => {
  // A second submission of the same spec, held and then cancelled: its units never run, so the
  // files placed in its directory are the only ones it could merge.
  const store = new RunStore(local);
  const scheduler = slurm(cluster!.env);
  try {
    const spec = mustValidate(SPEC);
    const other = await submitExperiment(
      store,
      { spec, dir: join(dir, 'other'), backend: 'wasm', shards: 2, options: { sbatchArgs: ['--hold'] } },
      scheduler,
    );
    spawnSync('scancel', [other.jobId], { env: cluster!.env });
    await waitForJob(other.jobId);
    const before = dumpStore(local);
    const refused = async (pattern: RegExp) => {
      await assert.rejects(collectExperiment(store, other.experimentId, scheduler), (error: Error) => {
        assert.match(error.message, /^cannot collect experiment 2; nothing was merged:/);
        assert.match(error.message, pattern);
        assert.match(error.message, /`sublab submit --resume 2` runs those units again/);
        return true;
      });
      assert.deepEqual(dumpStore(local), before, 'a refused collect changes nothing');
    };

    // Experiment 1's unit 0: the right unit of the right spec, from another submission.
    copyFileSync(join(shared, 'units/0.sqlite'), join(dir, 'other/units/0.sqlite'));
    await refused(
      /units\/0\.sqlite belongs to another submission \(unit 0 of experiment 1 \(cluster matrix\), SLURM job 1_0/,
    );

    writeFileSync(join(dir, 'other/units/0.sqlite'), 'not a database, whatever its name says');
    await refused(/units\/0\.sqlite is not a readable unit file: .*file is not a database/s);

    copyFileSync(join(shared, 'units/1.sqlite'), join(dir, 'other/units/0.sqlite'));
    truncateSync(join(dir, 'other/units/0.sqlite'), 20_000);
    await refused(/units\/0\.sqlite (is corrupt|is not a readable unit file): .*malformed/s);
  } finally {
    store.close();
  }
});

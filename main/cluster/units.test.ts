// Unit files and collecting, without a SLURM: a submission to an sbatch stand-in that records what it
// was given, its two units trained for real by run-unit (as its array tasks would, with the key sbatch
// received), then collected from the shared directory. The key reaches sbatch through its environment
// and nowhere else; a unit file forged or altered by someone without the key is refused by name; two
// collects at once merge each unit once; an sbatch that may have queued the job keeps its files.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { PhaseTiming } from '../../app/protocol.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import { clusterOf, setUnitSeal } from '../store/clusters.ts';
import { RunStore } from '../store/store.ts';
import { collectExperiment } from './collect.ts';
import { runUnit } from './run-unit.ts';
import { submitExperiment, type Submitted } from './submit.ts';
import { fakeSbatch } from './testing/fake-sbatch.ts';
import { dumpStore } from './testing/store-dump.ts';
import { readUnitFile, unitContent } from './unit-file.ts';
import { unitSeal } from './unit-seal.ts';
import type { Scheduler } from './slurm.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-units-'));
const cacheDir = join(dir, 'cache');
const db = join(dir, 'store.sqlite');
const spec = mustValidate({
  version: 1,
  name: 'units',
  dataset: { name: 'mnist', trainSize: 200, testLimit: 100 },
  model: { hidden: [8] },
  teacher: { epochs: 1, batchSize: 100 },
  student: { epochs: 1, batchSize: 64, inputs: { kind: 'uniform', count: 256 } },
  replicates: 2,
  lossEvery: 1,
});
/** After the tasks ended: SLURM knows nothing more of them (the unit files alone tell). */
const quiet: Scheduler = {
  name: 'slurm',
  checkSubmit: () => undefined,
  submit: () => Promise.reject(new Error('not here')),
  taskStates: () => Promise.resolve({ states: new Map(), problems: [] }),
};

let submitted: Submitted;
let key: Buffer;
const unitFile = (k: number) => join(submitted.dir, 'units', `${k}.sqlite`);
/** The genuine unit files, kept aside to put back after each forgery. */
const genuine = (k: number) => join(dir, `genuine-${k}.sqlite`);

before(async () => {
  const sbatch = fakeSbatch();
  const store = new RunStore(db);
  try {
    submitted = await submitExperiment(
      store,
      { spec, dir: join(dir, 'shared'), backend: 'wasm', shards: 2, options: { sbatchArgs: [] } },
      sbatch.scheduler,
    );
    assert.equal(submitted.jobId, '4242');
    const stored = clusterOf(store, submitted.experimentId)!.unitKey!;
    assert.match(stored, /^[0-9a-f]{64}$/);
    // The key went to sbatch in its environment, named (not valued) on its command line.
    assert.equal(sbatch.key(), stored);
    assert.ok(sbatch.args()!.includes('--export=ALL,SUBLAB_UNIT_KEY'), sbatch.args()!.join(' '));
    assert.ok(!sbatch.args()!.some((a) => a.includes(stored)));
    key = Buffer.from(sbatch.key()!, 'hex');
  } finally {
    store.close();
  }
  // The shared directory never holds it.
  for (const name of readdirSync(submitted.dir, { recursive: true }) as string[]) {
    const file = join(submitted.dir, name);
    if (!statSync(file).isFile()) continue;
    assert.ok(!readFileSync(file).includes(key.toString('hex')), `${name} holds no key`);
  }
  // Before, a task published through `units/K.sqlite.partial-HOST-PID`, whatever was there.
  const target = join(dir, 'victim');
  writeFileSync(target, 'precious\n');
  symlinkSync(target, `${unitFile(0)}.partial-${hostname()}-${process.pid}`);
  // Each array task: the unit trained and published, sealed with the key sbatch was given.
  for (const k of [0, 1]) {
    const outcome = await runUnit(submitted.dir, k, { backend: 'wasm', cacheDir, unitKey: key });
    assert.equal(outcome.status, 'done', outcome.error ?? '');
    copyFileSync(unitFile(k), genuine(k));
  }
  assert.equal(readFileSync(target, 'utf8'), 'precious\n', 'the planted link was not written through');
  // A requeued task finds its unit published whole, sealed with its key: nothing to train.
  const again = await runUnit(submitted.dir, 0, { backend: 'wasm', cacheDir, unitKey: key });
  assert.equal(again.alreadyDone, true);
});

/** Collecting must be refused naming unit 0's file with `pattern`, and change nothing. */
async function refused(pattern: RegExp): Promise<void> {
  const beforeRows = dumpStore(db);
  const store = new RunStore(db);
  try {
    await assert.rejects(collectExperiment(store, submitted.experimentId, quiet), (error: Error) => {
      assert.match(error.message, /^cannot collect experiment \d+; nothing was merged:/);
      assert.match(error.message, pattern);
      return true;
    });
  } finally {
    store.close();
  }
  assert.deepEqual(dumpStore(db), beforeRows, 'a refused collect changes nothing');
}

/** Puts a changed copy of unit 0's genuine file in its place, as someone who can write units/ would. */
function forge(change: (unit: RunStore) => void): void {
  const copy = join(dir, 'forged.sqlite');
  copyFileSync(genuine(0), copy);
  const unit = new RunStore(copy);
  try {
    change(unit);
    unit.db.pragma('journal_mode = DELETE');
  } finally {
    unit.close();
  }
  rmSync(unitFile(0));
  copyFileSync(copy, unitFile(0));
}

test('a unit file forged or altered without the key is refused by name, nothing merged', async () => {
  const file = unitFile(0).replaceAll('.', '\\.');
  // A better accuracy written into a finished unit's results.
  forge((unit) => unit.db.prepare('UPDATE results SET accuracy = 0.999').run());
  await refused(new RegExp(`${file} fails authentication: its seal was not made with this submission's key`));

  // The same, resealed by someone who runs the lab's code but holds another key.
  forge((unit) => {
    unit.db.prepare('UPDATE results SET accuracy = 0.999').run();
    const id = unit.listExperiments()[0]!.id;
    const about = { ...clusterOfStore(), unit: unit.units(id)[0]! };
    setUnitSeal(unit, id, unitSeal(randomBytes(32), about, unitContent(unit, unitFile(0), about)));
  });
  await refused(new RegExp(`${file} fails authentication`));

  // No seal at all, as a unit file made by hand would be.
  forge((unit) => unit.db.prepare('UPDATE clusters SET unit_mac = NULL').run());
  await refused(new RegExp(`${file} carries no seal: it was not written by a task of this submission`));

  // A link in its place, even to the genuine file, is not followed.
  rmSync(unitFile(0));
  symlinkSync(genuine(0), unitFile(0));
  await refused(
    new RegExp(`${file} is a symbolic link \\(to ${genuine(0).replaceAll('.', '\\.')}\\); refused`),
  );

  rmSync(unitFile(0));
  copyFileSync(genuine(0), unitFile(0));
  const content = readUnitFile(unitFile(0), { ...clusterOfStore(), unit: unitPlan(0), key });
  assert.equal(content.status, 'done', 'the genuine file passes');
});

/** The submission's token, experiment and spec hash, as the submitter's store has them. */
function clusterOfStore() {
  const store = new RunStore(db);
  try {
    const id = submitted.experimentId;
    return {
      token: clusterOf(store, id)!.token,
      experimentId: id,
      specHash: store.getExperiment(id)!.specHash,
    };
  } finally {
    store.close();
  }
}

function unitPlan(k: number) {
  const store = new RunStore(db);
  try {
    return store.units(submitted.experimentId)[k]!;
  } finally {
    store.close();
  }
}

test('a local resume that starts while collect asks the scheduler: collect merges nothing and names the resume', async () => {
  const id = submitted.experimentId;
  const saved = join(dir, 'before-race.sqlite');
  copyFileSync(db, saved);
  // Unit 1's task failed (no file; collect asks SLURM about it) and a collect said so: the experiment
  // is failed, so `sublab resume` may claim it. Unit 0's file is there to merge.
  rmSync(unitFile(1));
  const raw = new Database(db);
  raw.prepare("UPDATE experiments SET status = 'failed' WHERE id = ?").run(id);
  raw.close();
  const racer = new RunStore(db);
  const store = new RunStore(db);
  // The claim lands between collect's inspection (it saw no local run) and its merge.
  const claiming: Scheduler = {
    ...quiet,
    taskStates: () => {
      racer.claimForResume(id);
      return Promise.resolve({ states: new Map(), problems: [] });
    },
  };
  try {
    await assert.rejects(collectExperiment(store, id, claiming), /is being resumed on this machine/);
    assert.ok(
      store.units(id).every((u) => u.status !== 'done'),
      'no unit merged into the resumed run',
    );
    assert.equal(store.results(store.cells(id)[0]!.id).length, 0, 'no result row written');
    assert.equal(store.getExperiment(id)!.status, 'running', "the resume's status stands");
  } finally {
    racer.close();
    store.close();
    for (const tail of ['-wal', '-shm']) rmSync(db + tail, { force: true });
    copyFileSync(saved, db);
    copyFileSync(genuine(1), unitFile(1));
  }
});

test('two collects at once merge each unit once: timings added once, the experiment finished once', async () => {
  const id = submitted.experimentId;
  // Every time the experiment is marked done, a row.
  const raw = new Database(db);
  raw.exec(`CREATE TABLE finishes (at TEXT);
    CREATE TRIGGER count_finishes AFTER UPDATE OF status ON experiments WHEN NEW.status = 'done'
    BEGIN INSERT INTO finishes VALUES (NEW.finished_at); END;`);
  raw.close();
  // What each cell's timings must be: each unit's counted once (longest phase, summed samples).
  const expect = { ...clusterOfStore(), key };
  const units = [0, 1].map((k) => readUnitFile(unitFile(k), { ...expect, unit: unitPlan(k) }));
  const samples = (t: PhaseTiming[] | null) => t?.map((p) => p.modelSamples) ?? [];
  const want = units[0]!.cells.map((cell, i) =>
    samples(cell.timings).map((s, p) => s + samples(units[1]!.cells[i]!.timings)[p]!),
  );

  const a = new RunStore(db);
  const b = new RunStore(db);
  try {
    const [first, second] = await Promise.all([
      collectExperiment(a, id, quiet),
      collectExperiment(b, id, quiet),
    ]);
    assert.deepEqual([...first.merged, ...second.merged].sort(), [0, 1], 'each unit merged by one of them');
    assert.equal(first.status, 'done');
    assert.equal(second.status, 'done');
    assert.deepEqual(
      a.cells(id).map((c) => samples(c.timings)),
      want,
      'model samples counted once per unit',
    );
    const finishes = a.db.prepare('SELECT count(*) AS n FROM finishes').get() as { n: number };
    assert.equal(finishes.n, 1, 'the experiment finished once');
    assert.equal(a.results(a.cells(id)[0]!.id).length, 2 * units[0]!.cells[0]!.results.length);
  } finally {
    a.close();
    b.close();
  }
});

test('an sbatch that may have queued the job keeps the files and says how to check and cancel it', async () => {
  const sbatch = fakeSbatch('hang', 300);
  const store = new RunStore(db);
  const shared = join(dir, 'unclear');
  try {
    await assert.rejects(
      submitExperiment(
        store,
        { spec, dir: shared, backend: 'wasm', shards: 2, options: { sbatchArgs: [] } },
        sbatch.scheduler,
      ),
      (error: Error) => {
        assert.match(error.message, /^sbatch .* was stopped \(SIGTERM\) after 0\.3 s without an answer/);
        assert.match(error.message, /nothing was removed: the experiment stays in the store/);
        assert.match(error.message, /`squeue --me --name=sublab-2-[0-9a-f]{8}`/);
        assert.match(error.message, /`scancel --me --name=sublab-2-[0-9a-f]{8}`/);
        assert.match(error.message, /`sublab submit --resume 2`/);
        return true;
      },
    );
    assert.ok(existsSync(join(shared, 'experiment.json')), 'the manifest a queued task needs is kept');
    assert.ok(existsSync(join(shared, 'job.sbatch')));
    assert.equal(store.getExperiment(2)?.status, 'running', 'the experiment stays, waiting for its tasks');
    assert.ok(clusterOf(store, 2)!.unitKey, 'with its key, for the tasks that may run');
  } finally {
    store.close();
  }
  // Nothing is left behind in the shared directory but the lab's files (no temporary file).
  assert.deepEqual(readdirSync(shared).sort(), ['experiment.json', 'job.sbatch', 'logs', 'units']);
});

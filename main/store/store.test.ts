import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expandMatrix } from '../../app/matrix.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import { specHash } from '../../app/spec/hash.ts';
import { RunStore } from './store.ts';
import { MIGRATIONS } from './migrations.ts';
import { storeBefore } from './testing/older.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-store-'));
const spec = mustValidate({ version: 1, name: 'round trip', replicates: 3, tags: ['a'] });

test('a run round-trips through a real SQLite file', () => {
  const path = join(dir, 'roundtrip.sqlite');
  const store = new RunStore(path);
  assert.equal(store.schemaVersion, MIGRATIONS.length);
  const cells = expandMatrix(spec);
  const id = store.createExperiment(spec, cells);
  store.startExperiment(id);
  const cellId = store.cellId(id, 0);
  store.startCell(cellId, 'wasm', { 'tfjs-core': '4.22.0' });
  store.addMetrics(cellId, [
    { condition: 'teacher', replicate: 0, step: 1, name: 'loss', value: 2.3 },
    { condition: 'student', replicate: 2, step: 5, name: 'test_accuracy', value: 0.5 },
  ]);
  store.addResults(cellId, [
    {
      condition: 'teacher',
      replicate: 0,
      seed: cells[0]!.seeds[0]!,
      accuracy: 0.91,
      traitScore: null,
      diverged: null,
    },
    {
      condition: 'student',
      replicate: 0,
      seed: cells[0]!.seeds[0]!,
      accuracy: 0.55,
      traitScore: 0.25,
      diverged: null,
    },
  ]);
  store.finishCell(cellId, 'done', { timings: [{ phase: 'teacher', seconds: 1.5, modelSamples: 100 }] });
  store.finishExperiment(id, 'done', {
    wallSeconds: 2.5,
    backend: 'wasm',
    versions: { 'tfjs-core': '4.22.0' },
  });
  store.close();

  const again = new RunStore(path);
  const e = again.getExperiment(id)!;
  assert.equal(e.status, 'done');
  assert.deepEqual(e.spec, spec);
  assert.equal(e.specHash, specHash(spec));
  assert.deepEqual(e.tags, ['a']);
  assert.equal(e.backend, 'wasm');
  assert.equal(e.wallSeconds, 2.5);
  const [cell] = again.cells(id);
  assert.deepEqual(cell!.cell, cells[0]);
  assert.equal(cell!.backend, 'wasm');
  assert.deepEqual(cell!.timings, [{ phase: 'teacher', seconds: 1.5, modelSamples: 100 }]);
  assert.deepEqual(
    again.results(cellId).map((r) => [r.condition, r.accuracy]),
    [
      ['student', 0.55],
      ['teacher', 0.91],
    ],
  );
  assert.deepEqual(again.metrics(cellId, { name: 'loss' }), [
    { condition: 'teacher', replicate: 0, step: 1, name: 'loss', value: 2.3 },
  ]);
  assert.equal(again.db.pragma('journal_mode', { simple: true }), 'wal');
  again.close();
});

test('a store from a newer program version is refused with a clear message', () => {
  const path = join(dir, 'future.sqlite');
  const raw = new Database(path);
  raw.pragma(`user_version = ${MIGRATIONS.length + 5}`);
  raw.close();
  assert.throws(
    () => new RunStore(path),
    /schema version \d+, newer than this program's \d+; update Subliminal Lab/,
  );
});

test('a file that is not a database is refused, and left as it was', async () => {
  const { writeFileSync, readFileSync } = await import('node:fs');
  const path = join(dir, 'garbage.sqlite');
  writeFileSync(path, 'this is not sqlite, it is a note somebody cared about');
  assert.throws(
    () => new RunStore(path),
    /cannot open the run store .*garbage\.sqlite: file is not a database/,
  );
  assert.equal(readFileSync(path, 'utf8'), 'this is not sqlite, it is a note somebody cared about');
});

test('a writer killed with SIGKILL mid-run: the file opens, committed data is intact, the run is interrupted', async () => {
  const path = join(dir, 'killed.sqlite');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('./testing/writer.ts', import.meta.url).pathname, path],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let committedSteps = 0;
  await new Promise<void>((resolve) => {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const lines = chunk.trim().split('\n');
      committedSteps = Number(lines[lines.length - 1]);
      if (committedSteps >= 25_000 && !child.killed) {
        child.kill('SIGKILL');
        resolve();
      }
    });
  });
  await new Promise((resolve) => child.on('exit', resolve));

  const store = new RunStore(path);
  assert.equal(store.db.pragma('integrity_check', { simple: true }), 'ok');
  const [experiment] = store.listExperiments();
  assert.equal(experiment!.status, 'interrupted');
  assert.match(experiment!.error!, /stopped unexpectedly/);
  const [cell] = store.cells(experiment!.id);
  assert.equal(cell!.status, 'interrupted');
  // Every batch the writer reported as committed is there, whole (batches are 500 rows).
  const rows = (store.db.prepare('SELECT count(*) AS n FROM metrics').get() as { n: number }).n;
  assert.ok(rows >= committedSteps * 2, `${rows} rows for ${committedSteps} committed steps`);
  assert.equal(rows % 500, 0, 'no half-written batch');
  store.close();
});

test('a run owned by a live process is not marked interrupted by another opener', () => {
  const path = join(dir, 'live.sqlite');
  const writer = new RunStore(path);
  const id = writer.createExperiment(spec, expandMatrix(spec));
  writer.startExperiment(id);
  const reader = new RunStore(path);
  assert.equal(reader.getExperiment(id)!.status, 'running');
  reader.close();
  writer.close();
});

test('non-finite values are rejected by name, never stored as NULL; a diverged result round-trips', () => {
  const store = new RunStore(join(dir, 'guard.sqlite'));
  const cellId = store.cellId(store.createExperiment(spec, expandMatrix(spec)), 0);
  const seed = 7;
  for (const value of [Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(
      () =>
        store.addMetrics(cellId, [
          { condition: 'student', replicate: 0, step: 1, name: 'loss', value: 1 },
          { condition: 'student', replicate: 2, step: 4, name: 'loss', value },
        ]),
      new RegExp(
        `metric "loss" of student replicate 2 at step 4 is ${value}: only finite values can be stored`,
      ),
    );
  }
  assert.equal(store.metrics(cellId).length, 0, 'the whole batch is rejected');
  const base = { condition: 'student' as const, replicate: 1, seed, traitScore: null };
  assert.throws(
    () => store.addResults(cellId, [{ ...base, accuracy: Number.NaN, diverged: null }]),
    /result of student replicate 1 has accuracy NaN but did not diverge/,
  );
  assert.throws(
    () => store.addResults(cellId, [{ ...base, accuracy: null, diverged: null }]),
    /has accuracy null but did not diverge/,
  );
  const diverged = { phase: 'students' as const, step: 3, reason: 'non-finite loss' as const };
  assert.throws(
    () => store.addResults(cellId, [{ ...base, accuracy: 0.5, diverged }]),
    /diverged, so it cannot have an accuracy/,
  );
  store.addResults(cellId, [
    { ...base, accuracy: null, diverged },
    { ...base, replicate: 2, accuracy: 0.25, diverged: null },
  ]);
  assert.deepEqual(store.results(cellId), [
    { ...base, accuracy: null, diverged },
    { ...base, replicate: 2, accuracy: 0.25, diverged: null },
  ]);
  // The table's own checks hold even for a writer that skips the guard.
  assert.throws(
    () =>
      store.db
        .prepare(
          "INSERT INTO results (cell_id, condition, replicate, seed, accuracy) VALUES (?, 'teacher', 0, 1, NULL)",
        )
        .run(cellId),
    /CHECK constraint failed/,
  );
  store.close();
});

test('the divergence migration keeps the results of a database from before it', () => {
  const path = join(dir, 'before-divergence.sqlite');
  storeBefore(path, 'results_diverged', (db) =>
    db.exec(`INSERT INTO experiments (id, name, spec_json, spec_hash, status, created_at) VALUES (1, 'x', '{}', 'h', 'done', 't');
    INSERT INTO cells (id, experiment_id, idx, trait, filter, architecture, cell_json, status) VALUES (1, 1, 0, 's', 'f', 'a', '{}', 'done');
    INSERT INTO results (cell_id, condition, replicate, seed, accuracy, trait_score) VALUES (1, 'teacher', 0, 5, 0.875, 0.5);`),
  );
  const store = new RunStore(path);
  assert.equal(store.schemaVersion, MIGRATIONS.length);
  assert.deepEqual(store.results(1), [
    { condition: 'teacher', replicate: 0, seed: 5, accuracy: 0.875, traitScore: 0.5, diverged: null },
  ]);
  assert.deepEqual(store.db.pragma('foreign_key_check'), []);
  store.close();
});

test('the environment migration upgrades an older file: its experiments say not recorded, new attempts append', () => {
  const path = join(dir, 'before-environment.sqlite');
  storeBefore(path, 'environment_json', (db) =>
    db
      .prepare(
        `INSERT INTO experiments (id, name, spec_json, spec_hash, status, created_at, backend, wall_seconds)
         VALUES (1, 'old', ?, ?, 'done', '2026-11-01T00:00:00.000Z', 'wasm', 12.5)`,
      )
      .run(JSON.stringify(spec), specHash(spec)),
  );

  const store = new RunStore(path);
  assert.equal(store.schemaVersion, MIGRATIONS.length);
  const upgraded = store.getExperiment(1)!;
  assert.equal(upgraded.environments, null, 'an experiment from before the record has none');
  assert.equal(upgraded.wallSeconds, 12.5);
  const machine = {
    recordedAt: '2026-12-01T10:00:00.000Z',
    app: '0.1.0',
    node: '20.20.2',
    electron: null,
    chromium: null,
    os: 'Linux 6.1.0 (x64)',
    cpu: 'AMD EPYC',
    cores: 2,
    memoryBytes: 8 * 2 ** 30,
    backend: 'wasm',
    workers: 2,
  };
  const id = store.createExperiment(spec, expandMatrix(spec));
  store.recordEnvironment(id, { attempt: 'start', ...machine });
  store.recordEnvironment(id, { attempt: 'resume', ...machine, cores: 16, backend: 'webgpu', workers: 1 });
  assert.throws(
    () => store.recordEnvironment(999, { attempt: 'start', ...machine }),
    /no experiment with id 999/,
  );
  store.close();

  const again = new RunStore(path);
  assert.deepEqual(again.getExperiment(id)!.environments, [
    { attempt: 'start', ...machine },
    { attempt: 'resume', ...machine, cores: 16, backend: 'webgpu', workers: 1 },
  ]);
  assert.equal(again.getExperiment(1)!.environments, null);
  again.close();
});

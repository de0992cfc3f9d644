import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LanguageProgress, type LanguageUnit } from './language-progress.ts';
import { secondsLeft } from './progress-rows.ts';
import { expandLanguageMatrix, validateLanguageSpec, type LanguageSpec } from './spec/language.ts';
import { stackedStages, unitStageSeconds } from './estimate-language.ts';
import { replicateSeeds } from './matrix.ts';
import type { PhaseProgress } from './api.ts';

function spec(replicates: number): LanguageSpec {
  const r = validateLanguageSpec({
    version: 1,
    kind: 'language',
    name: 'progress',
    pretrain: { steps: 100, batchSize: 32 },
    channel: { kept: 1000 },
    replicates,
  });
  assert.ok(r.ok);
  return r.spec;
}

const units = (n: number, done: number[] = []): LanguageUnit[] =>
  Array.from({ length: n }, (_, i) => ({
    index: i,
    cells: [0],
    replicates: [i],
    status: done.includes(i) ? 'done' : 'queued',
  }));

test('every unit has a row from the start, waiting, each with its time left; the job is theirs on the lanes', () => {
  const p = new LanguageProgress(spec(3), units(3), 2, () => 0);
  const rows = p.rows();
  assert.deepEqual(
    rows.map((r) => [r.unit?.index, r.unit?.replicate, r.waiting, r.phase]),
    [
      [0, 0, true, 'pretrain'],
      [1, 1, true, 'pretrain'],
      [2, 2, true, 'pretrain'],
    ],
  );
  const each = rows[0]!.etaSeconds!;
  assert.ok(each > 0);
  for (const r of rows) assert.equal(r.etaSeconds, each);
  // Three equal units on two processes: two rounds.
  assert.equal(p.secondsLeft(rows), 2 * each);
});

test("a unit's row follows its stages through the five phases and its time left falls to 0 when done", () => {
  const p = new LanguageProgress(spec(2), units(2), 1, () => 0);
  const at = () => p.rows()[0]!;
  const seen: string[] = [];
  for (const stage of ['pretrain', 'teacher', 'channel check', 'evaluation', 'teacher numbers', 'student']) {
    p.stage(0, stage);
    seen.push(at().phase);
    assert.equal(at().unit!.stage, stage);
    assert.equal(at().waiting, undefined);
  }
  assert.deepEqual(seen, ['pretrain', 'teacher', 'channel', 'evaluation', 'channel', 'students']);
  p.step(0, 10, 40);
  assert.deepEqual([at().step, at().totalSteps], [10, 40]);
  p.finish(0);
  assert.equal(at().unit!.finished, true);
  assert.equal(at().etaSeconds, 0);
  // The other unit waits: the job's time left is its own.
  assert.equal(p.secondsLeft(), p.rows()[1]!.etaSeconds);
});

test('time left is measured: a machine twice as slow as the estimate doubles every row', () => {
  let now = 0;
  const s = spec(2);
  const cell = expandLanguageMatrix(s, replicateSeeds(s)).cells[0]!;
  const pretrain = unitStageSeconds(cell, new Set(), 0)['pretrain']!;
  const p = new LanguageProgress(s, units(2), 1, () => now);
  const waiting = p.rows()[1]!.etaSeconds!;
  p.stage(0, 'pretrain');
  p.step(0, 50, 100);
  // Half the pretraining in twice the seconds the estimate gives it.
  now = 2 * (pretrain / 2) * 1000;
  assert.ok(Math.abs(p.speed() - 2) < 1e-9, `speed ${p.speed()}`);
  assert.ok(Math.abs(p.rows()[1]!.etaSeconds! - 2 * waiting) < 1e-6);
  assert.ok(Math.abs(p.rows()[0]!.etaSeconds! - 2 * (waiting - pretrain / 2)) < 1e-6);
});

test('a cached stage (no steps) counts as done but says nothing of speed; a resumed run counts its done units as done', () => {
  let now = 0;
  const p = new LanguageProgress(spec(2), units(2, [0]), 1, () => now);
  assert.equal(p.rows()[0]!.unit!.finished, true);
  assert.equal(p.rows()[0]!.etaSeconds, 0);
  p.stage(1, 'pretrain');
  now = 60_000;
  p.stage(1, 'teacher');
  assert.equal(p.speed(), 1);
});

test('secondsLeft lays units out on lanes in row order; one lane is the plain sum of the rows', () => {
  const row = (eta: number, unit?: number): PhaseProgress => ({
    cells: [0],
    phase: 'students',
    step: 0,
    totalSteps: 0,
    etaSeconds: eta,
    ...(unit === undefined ? {} : { unit: { index: unit, replicate: unit, stage: null, finished: false } }),
  });
  const rows = [row(10, 0), row(4, 1), row(6, 2), row(5, 3)];
  assert.equal(secondsLeft(rows), 25);
  // Lanes: [10], [4] -> [4 + 6] -> 10 vs 10: the fourth on the first free (lane 0): 15.
  assert.equal(secondsLeft(rows, 2), 15);
  assert.equal(secondsLeft(rows, 8), 10);
  assert.equal(secondsLeft([...rows, { ...row(1, 4), etaSeconds: null }], 2), null);
});

test('a stacked "students" stage weighs as the fine-tunes it runs in one', () => {
  let now = 0;
  const s = spec(2);
  const cell = expandLanguageMatrix(s, replicateSeeds(s)).cells[0]!;
  const w = unitStageSeconds(cell, new Set(), 0);
  const fineTunes = ['student', 'own-numbers control', 'cross-model control'];
  // The cross-model control's base is base A's size here, so it stacks with the others.
  assert.deepEqual(stackedStages(cell), fineTunes);
  const p = new LanguageProgress(s, units(2), 1, () => now);
  p.stage(0, 'students');
  assert.equal(p.rows()[0]!.phase, 'students');
  p.step(0, 1, 2);
  // Half the stacked stage in the seconds the estimate gives half of the three fine-tunes: speed 1.
  now = (fineTunes.reduce((a, f) => a + w[f]!, 0) / 2) * 1000;
  assert.ok(Math.abs(p.speed() - 1) < 1e-9, `speed ${p.speed()}`);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import lmOwl from '../experiments/lm-owl-numbers.json' with { type: 'json' };
import lmFilters from '../experiments/lm-filters.json' with { type: 'json' };
import { estimateLanguage, lmSpeed, unitStageSeconds } from './estimate-language.ts';
import { replicateSeeds } from './matrix.ts';
import { expandLanguageMatrix, validateLanguageSpec, type LanguageSpec } from './spec/language.ts';

function spec(input: unknown): LanguageSpec {
  const r = validateLanguageSpec(input);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.spec;
}

const near = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-6 * Math.max(1, b), `${what}: ${a} vs ${b}`);

/** The stages of replicate 0 of a spec's first cell, with nothing cached yet. */
function stages(s: LanguageSpec, backend = 'wasm'): Record<string, number> {
  const cell = expandLanguageMatrix(s, replicateSeeds(s)).cells[0]!;
  return unitStageSeconds(cell, new Set(), 0, lmSpeed(backend));
}

// The reduced preset (kept 2,000, 5 epochs, N=2) is estimated at 107 CPU s with its bases to train;
// 111 were measured (2026-12-07, README "Language models", speed).
test('the owl preset at N=10 on wasm: 2.5-4.5 minutes a unit on one core (the fused kernels as measured), 5 rounds on 2 cores', () => {
  const e = estimateLanguage(spec(lmOwl), 2, 'wasm');
  assert.equal(e.speed, 'wasm');
  assert.equal(e.units, 10);
  assert.equal(e.studentSteps, 10 * Math.ceil(10000 / 64));
  const perUnit = e.coreSeconds / 10;
  assert.ok(perUnit > 2.5 * 60 && perUnit < 4.5 * 60, `per unit ${perUnit} s`);
  near(e.seconds, e.coreSeconds / 2, 'two workers');
  near(estimateLanguage(spec(lmOwl), 1, 'wasm').seconds, e.coreSeconds, 'one worker');
});

test("only the cpu backend is estimated at the cpu backend's speed, tens of times slower than wasm's fused kernels", () => {
  for (const backend of ['wasm', 'auto', 'webgpu', 'tensorflow']) assert.equal(lmSpeed(backend), 'wasm');
  assert.equal(lmSpeed('cpu'), 'cpu');
  const owl = spec(lmOwl);
  const cpu = estimateLanguage(owl, 2, 'cpu');
  const wasm = estimateLanguage(owl, 2, 'wasm');
  assert.equal(cpu.speed, 'cpu');
  assert.ok(cpu.coreSeconds > 20 * wasm.coreSeconds, `cpu ${cpu.coreSeconds} s, wasm ${wasm.coreSeconds} s`);
  // Each stage by its own step time: the base's, the teacher's, the student's and the sampling's.
  const [c, w] = [stages(owl, 'cpu'), stages(owl, 'wasm')];
  for (const stage of ['pretrain', 'teacher', 'student', 'teacher numbers'])
    assert.ok(c[stage]! > 20 * w[stage]!, `${stage}: cpu ${c[stage]} s, wasm ${w[stage]} s`);
});

test('the time scales with the steps, the replicates and the workers', () => {
  const base = spec({ ...lmOwl, replicates: 2 });
  const e = estimateLanguage(base, 1, 'wasm');
  // Every replicate trains its own bases and teacher: twice the replicates, twice the time.
  const four = estimateLanguage(spec({ ...lmOwl, replicates: 4 }), 1, 'wasm');
  assert.equal(four.units, 2 * e.units);
  near(four.coreSeconds, 2 * e.coreSeconds, 'replicates');
  // Twice the epochs: each of the three fine-tunes twice as long, nothing else changes.
  const longer = spec({ ...lmOwl, replicates: 2, student: { epochs: 20 } });
  const [a, b] = [stages(base), stages(longer)];
  assert.equal(estimateLanguage(longer, 1, 'wasm').studentSteps, 2 * e.studentSteps);
  const fineTunes = ['student', 'own-numbers control', 'cross-model control'];
  for (const stage of Object.keys(a)) near(b[stage]!, (fineTunes.includes(stage) ? 2 : 1) * a[stage]!, stage);
  const extra = fineTunes.reduce((sum, stage) => sum + a[stage]!, 0);
  near(estimateLanguage(longer, 1, 'wasm').coreSeconds, e.coreSeconds + 2 * extra, 'epochs');
  // Whole units on the workers: two units on 2 workers or more take as long as one unit.
  near(estimateLanguage(base, 2, 'wasm').seconds, e.coreSeconds / 2, 'two workers');
  assert.equal(estimateLanguage(base, 16, 'wasm').seconds, estimateLanguage(base, 2, 'wasm').seconds);
});

test("cells of one replicate share its bases and teachers: the filters preset's extra cells cost only channel and fine-tunes", () => {
  const owl = spec(lmOwl);
  const one = estimateLanguage(owl, 1, 'wasm');
  const five = estimateLanguage(spec(lmFilters), 1, 'wasm');
  assert.equal(five.cells, 5);
  // Two bases, the teacher and the channel check's neutral teacher, per replicate.
  const s = stages(owl);
  const shared = 10 * (s['pretrain']! + s['second base']! + s['teacher']! + s['channel check']!);
  assert.ok(shared > 0);
  near(five.coreSeconds, 5 * (one.coreSeconds - shared) + shared, 'five cells');
});

test('a bigger model or more kept completions costs more', () => {
  const base = spec({ ...lmOwl, replicates: 2 });
  const wide = spec({ ...lmOwl, replicates: 2, model: { dModel: 128, heads: 4 } });
  const more = spec({ ...lmOwl, replicates: 2, channel: { kept: 20000 } });
  const selected = spec({ ...lmOwl, replicates: 2, channel: { selectTop: 0.25 } });
  const cost = (s: LanguageSpec) => estimateLanguage(s, 1, 'wasm').coreSeconds;
  assert.ok(cost(selected) > cost(base));
  assert.ok(cost(wide) > 3 * cost(base));
  assert.ok(cost(more) > cost(base));
});

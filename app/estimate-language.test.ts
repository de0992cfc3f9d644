import assert from 'node:assert/strict';
import { test } from 'node:test';
import lmOwl from '../experiments/lm-owl-numbers.json' with { type: 'json' };
import lmFilters from '../experiments/lm-filters.json' with { type: 'json' };
import { estimateLanguage } from './estimate-language.ts';
import { validateLanguageSpec, type LanguageSpec } from './spec/language.ts';

function spec(input: unknown): LanguageSpec {
  const r = validateLanguageSpec(input);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.spec;
}

test('the owl preset at N=10: about 21 minutes a unit on one core, as measured, and 5 rounds on 2 cores', () => {
  const e = estimateLanguage(spec(lmOwl), 2);
  assert.equal(e.units, 10);
  assert.equal(e.studentSteps, 10 * Math.ceil(10000 / 64));
  const perUnit = e.coreSeconds / 10;
  assert.ok(perUnit > 18 * 60 && perUnit < 24 * 60, `per unit ${perUnit} s`);
  assert.ok(Math.abs(e.seconds - e.coreSeconds / 2) < 1e-9);
});

test("cells of one replicate share its bases and teachers: the filters preset's extra cells cost only channel and fine-tunes", () => {
  const one = estimateLanguage(spec(lmOwl), 1);
  const five = estimateLanguage(spec(lmFilters), 1);
  assert.equal(five.cells, 5);
  // Two bases, the teacher and the channel check's neutral teacher, per replicate.
  const shared = 10 * 2 * 600 * 0.22 + 10 * 2 * 100 * 0.2 * (32 / 64);
  const expected = 5 * (one.coreSeconds - shared) + shared;
  assert.ok(Math.abs(five.coreSeconds - expected) < 1e-6, `${five.coreSeconds} vs ${expected}`);
});

test('a bigger model or more kept completions costs more; more workers than units do not help', () => {
  const base = spec({ ...lmOwl, replicates: 2 });
  const wide = spec({ ...lmOwl, replicates: 2, model: { dModel: 128, heads: 4 } });
  const more = spec({ ...lmOwl, replicates: 2, channel: { kept: 20000 } });
  const selected = spec({ ...lmOwl, replicates: 2, channel: { selectTop: 0.25 } });
  assert.ok(estimateLanguage(selected, 1).coreSeconds > estimateLanguage(base, 1).coreSeconds);
  assert.ok(estimateLanguage(wide, 1).coreSeconds > 3 * estimateLanguage(base, 1).coreSeconds);
  assert.ok(estimateLanguage(more, 1).coreSeconds > estimateLanguage(base, 1).coreSeconds);
  assert.equal(estimateLanguage(base, 16).seconds, estimateLanguage(base, 2).seconds);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boundComparison, boundSummary, RATE } from './bounded-interval.ts';
import { pairedComparison, summarize } from './stats.ts';

test('a rate over two replicates: Student-t overshoots [0, 1]; the bounded interval is clipped and marked', () => {
  // Two replicates' rejection rates: t(0.975, 1) = 12.7 makes the half-width 2.67.
  const t = summarize([0.1, 0.52]);
  assert.ok(t.low < -2 && t.high > 2, `raw t interval [${t.low}, ${t.high}]`);
  const b = boundSummary(t, RATE);
  assert.deepEqual([b.low, b.high, b.clipped], [0, 1, true]);
  assert.equal(b.mean, t.mean);
  assert.equal(b.n, 2);
  assert.equal(b.ci95, 0.5, 'half the clipped width, as for any asymmetric interval');
});

test('an interval inside the range is returned as it was, unmarked', () => {
  const t = summarize([0.3, 0.31, 0.29, 0.3, 0.32]);
  const b = boundSummary(t);
  assert.equal(b, t);
  assert.equal(b.clipped, undefined);
});

test('only the end that leaves the range moves; one replicate (no interval) stays NaN', () => {
  const b = boundSummary(summarize([0.01, 0.02, 0.0]));
  assert.equal(b.low, 0);
  assert.ok(b.high > 0.02 && b.high < 1);
  assert.equal(b.clipped, true);
  const one = boundSummary(summarize([0.4]));
  assert.ok(Number.isNaN(one.low) && Number.isNaN(one.high));
  assert.equal(one.clipped, undefined);
});

test('a paired difference of rates stays in [-1, 1]; its test is unchanged', () => {
  const c = pairedComparison([0.9, 0.05], [0.1, 0.2]);
  assert.ok(c.low < -1 && c.high > 1, `raw [${c.low}, ${c.high}]`);
  const b = boundComparison(c);
  assert.deepEqual([b.low, b.high, b.clipped], [-1, 1, true]);
  assert.deepEqual([b.t, b.p, b.meanDiff, b.df], [c.t, c.p, c.meanDiff, c.df]);
});

test('the bootstrap percentile interval of rates never needs clipping', () => {
  const s = summarize([0, 0.02, 0.9, 0.01], 'bootstrap');
  assert.ok(s.low >= 0 && s.high <= 1);
  assert.equal(boundSummary(s), s);
});

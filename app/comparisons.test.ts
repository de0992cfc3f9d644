import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adjustAcrossCells, cellComparisons, comparisonText } from './comparisons.ts';
import { holm, pairedComparison } from './stats.ts';

const rows = (condition: string, accuracies: (number | null)[]) =>
  accuracies.map((accuracy, replicate) => ({ condition, replicate, accuracy }));

test('student minus cross-init is paired by replicate; a diverged model drops its pair', () => {
  const student = [0.61, 0.55, null, 0.58, 0.66, 0.59];
  const cross = [0.12, 0.11, 0.11, 0.08, null, 0.16];
  const [c] = cellComparisons([...rows('student', student), ...rows('cross_init', cross)]);
  assert.ok(c);
  assert.equal(c.n, 4, 'replicates 2 and 4 have a diverged side');
  const expected = pairedComparison([0.61, 0.55, 0.58, 0.59], [0.12, 0.11, 0.08, 0.16]);
  assert.equal(c.meanDiff, expected.meanDiff);
  assert.equal(c.low, expected.low);
  assert.equal(c.p, expected.p);
  assert.equal(c.wilcoxonP, expected.wilcoxon.p);
  assert.match(c.warning ?? '', /N=4: intervals are wide/);
  assert.match(
    comparisonText(c),
    /^student minus cross-init: \+0\.465 \[0\.\d{3}, 0\.\d{3}\], t\(3\) = \d+\.\d\d, p = (<0\.001|0\.\d{3}) \(Holm .*\), Wilcoxon p = 0\.125, N = 4 \(N=4/,
  );
});

test('the teacher is compared with its student; conditions without results are skipped', () => {
  const out = cellComparisons([...rows('teacher', [0.9, 0.91, 0.88]), ...rows('student', [0.6, 0.5, 0.7])]);
  assert.deepEqual(
    out.map((c) => c.label),
    ['teacher minus student'],
  );
  assert.ok(Math.abs(out[0]!.meanDiff - 0.2966666666666667) < 1e-12);
});

test('Holm corrects each comparison across the cells of a matrix', () => {
  const cells = [0.02, 0.2, 0.5].map((shift) => ({
    comparisons: cellComparisons([
      ...rows('student', [0.5 + shift, 0.52 + shift, 0.47 + shift, 0.55 + shift, 0.5 + shift]),
      ...rows('cross_init', [0.5, 0.49, 0.51, 0.5, 0.52]),
    ]),
  }));
  const raw = cells.map((c) => c.comparisons[0]!.p);
  adjustAcrossCells(cells);
  assert.deepEqual(
    cells.map((c) => c.comparisons[0]!.pHolm),
    holm(raw),
  );
  assert.ok(cells.every((c, i) => c.comparisons[0]!.pHolm >= raw[i]!));
});

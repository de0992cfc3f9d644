// Tests of app/stats.ts against reference values computed with scipy 1.17.1 (and statsmodels 0.15.0
// for Holm) by app/stats.reference.py; REF below is that script's output, pasted as it printed it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bootstrapCI,
  holm,
  pairedComparison,
  smallSampleWarning,
  summarize,
  summarizeKept,
  tQuantile,
  wilcoxonSignedRank,
  WILCOXON_EXACT_MAX_N,
} from './stats.ts';
import { averageRanks, exactSignedRankP, signedRankCounts } from './stats/wilcoxon.ts';
import { seededUniform } from './stats/prng.ts';

const REF = {
  versions: {
    scipy: '1.17.1',
    numpy: '2.4.6',
  },
  t975: [
    12.706204736174694, 4.302652729749462, 3.1824463052837078, 2.7764451051977934, 2.5705818356363146,
    2.4469118511449786, 2.364624251592784, 2.306004135204166, 2.262157162798205, 2.228138851986274,
    2.200985160091639, 2.1788128296672284, 2.1603686564627913, 2.144786687917804, 2.131449545559776,
    2.1199052992212546, 2.1098155778333156, 2.1009220402410382, 2.0930240544083087, 2.085963447265864,
    2.0796138447276795, 2.0738730679040254, 2.0686576104190486, 2.0638985616280245, 2.0595385527532972,
    2.0555294386428735, 2.0518305164802846, 2.0484071417952454, 2.045229642132703,
  ],
  tOther: [
    [0.995, 2, 9.924843200918287],
    [0.9, 7, 1.4149239276505086],
    [0.025, 4, -2.7764451051977943],
    [0.5, 3, 0.0],
    [0.999, 100, 3.173739493738783],
    [0.975, 1000, 1.9623390808264083],
  ],
  summary: {
    four: {
      values: [0.5, 0.6, 0.7, 0.8],
      mean: 0.65,
      sd: 0.12909944487358058,
      low: 0.4445739743239479,
      high: 0.8554260256760522,
      ci95: 0.20542602567605212,
    },
    three: {
      values: [0.91, 0.87, 0.95],
      mean: 0.91,
      sd: 0.03999999999999998,
      low: 0.8106344915299869,
      high: 1.0093655084700133,
      ci95: 0.09936550847001316,
    },
    two: {
      values: [0.1, 0.2],
      mean: 0.15000000000000002,
      sd: 0.07071067811865477,
      low: -0.48531023680873475,
      high: 0.7853102368087348,
      ci95: 0.6353102368087348,
    },
    ten: {
      values: [0.71, 0.68, 0.74, 0.69, 0.77, 0.72, 0.7, 0.66, 0.75, 0.73],
      mean: 0.7150000000000001,
      sd: 0.03374742788552765,
      low: 0.6908585444033409,
      high: 0.7391414555966592,
      ci95: 0.02414145559665919,
    },
  },
  paired: {
    n5exact: {
      a: [0.62, 0.71, 0.55, 0.8, 0.66],
      b: [0.5, 0.74, 0.41, 0.6, 0.58],
      meanDiff: 0.10200000000000005,
      sdDiff: 0.08555699854482977,
      t: 2.6658127047955156,
      df: 4.0,
      p: 0.056049828583754166,
      low: -0.0042330448874869225,
      high: 0.208233044887487,
      wilcoxon: {
        statistic: 1.0,
        p: 0.125,
        method: 'exact',
        nUsed: 5,
        zeros: 0,
      },
    },
    n6allpos: {
      a: [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
      b: [0.5, 1.25, 2.0, 2.75, 3.5, 4.25],
      meanDiff: 1.125,
      sdDiff: 0.46770717334674267,
      t: 5.8918830363717944,
      df: 5.0,
      p: 0.0020023414411332666,
      low: 0.6341714232549192,
      high: 1.6158285767450808,
      wilcoxon: {
        statistic: 0.0,
        p: 0.03125,
        method: 'exact',
        nUsed: 6,
        zeros: 0,
      },
    },
    n8ties: {
      a: [5.0, 7.0, 6.0, 9.0, 4.0, 8.0, 6.0, 7.0],
      b: [3.0, 5.0, 7.0, 6.0, 2.0, 7.0, 7.0, 4.0],
      meanDiff: 1.375,
      sdDiff: 1.5979898086569353,
      t: 2.433737233777904,
      df: 7.0,
      p: 0.045172126174568436,
      low: 0.03904708741174323,
      high: 2.7109529125882568,
      wilcoxon: {
        statistic: 4.0,
        p: 0.05593017924191691,
        method: 'approx',
        nUsed: 8,
        zeros: 0,
      },
    },
    n10zeros: {
      a: [10.0, 12.0, 11.0, 14.0, 13.0, 10.0, 15.0, 12.0, 11.0, 13.0],
      b: [10.0, 11.0, 13.0, 11.0, 13.0, 8.0, 11.0, 12.0, 14.0, 9.0],
      meanDiff: 0.9,
      sdDiff: 2.378141197564929,
      t: 1.196753959380428,
      df: 9.0,
      p: 0.2619748383227445,
      low: -0.8012197290514188,
      high: 2.6012197290514187,
      wilcoxon: {
        statistic: 7.0,
        p: 0.2693181470962549,
        method: 'approx',
        nUsed: 7,
        zeros: 3,
      },
    },
    n30ties: {
      a: [
        0.76, 0.6, 0.53, 0.48, 0.56, 0.71, 0.62, 0.71, 0.69, 0.61, 0.38, 0.56, 0.77, 0.77, 0.7, 0.77, 0.41,
        0.63, 0.55, 0.58, 0.68, 0.72, 0.45, 0.56, 0.45, 0.6, 0.65, 0.6, 0.53, 0.67,
      ],
      b: [
        0.77, 0.56, 0.5, 0.41, 0.49, 0.63, 0.51, 0.71, 0.68, 0.56, 0.28, 0.5, 0.74, 0.82, 0.7, 0.71, 0.37,
        0.56, 0.47, 0.74, 0.67, 0.65, 0.39, 0.46, 0.41, 0.6, 0.64, 0.59, 0.52, 0.73,
      ],
      meanDiff: 0.031000000000000003,
      sdDiff: 0.05504543577809154,
      t: 3.0846152896509667,
      df: 29.0,
      p: 0.00444754754435923,
      low: 0.010445696479936747,
      high: 0.05155430352006326,
      wilcoxon: {
        statistic: 57.5,
        p: 0.0016326860330217073,
        method: 'approx',
        nUsed: 27,
        zeros: 3,
      },
    },
    n30exact: {
      a: [
        0.663612, 0.571678, 0.532307, 0.510888, 0.481505, 0.453616, 0.848458, 0.6963, 0.597932, 0.479125,
        0.525415, 0.632774, 0.518864, 0.695561, 0.558192, 0.469206, 0.529588, 0.561127, 0.507408, 0.573656,
        0.646789, 0.397929, 0.672805, 0.615695, 0.688595, 0.819281, 0.659478, 0.510313, 0.556043, 0.551116,
      ],
      b: [
        0.655002, 0.566948, 0.548758, 0.460343, 0.433337, 0.419407, 0.791473, 0.757629, 0.609717, 0.536635,
        0.546844, 0.645623, 0.528605, 0.682995, 0.580898, 0.433996, 0.492765, 0.571962, 0.585059, 0.540186,
        0.57591, 0.385159, 0.64183, 0.639078, 0.672846, 0.853386, 0.647386, 0.416648, 0.548437, 0.543259,
      ],
      meanDiff: 0.007104500000000001,
      sdDiff: 0.0388417815562767,
      t: 1.001832241952515,
      df: 29.0,
      p: 0.32471115913751886,
      low: -0.0073992595957313,
      high: 0.021608259595731302,
      wilcoxon: {
        statistic: 188.0,
        p: 0.370740607380867,
        method: 'exact',
        nUsed: 30,
        zeros: 0,
      },
    },
    n60approx: {
      a: [
        0.526336, 0.361576, 0.506517, 0.393588, 0.341808, 0.586947, 0.363638, 0.608457, 0.466217, 0.292223,
        0.418256, 0.506633, 0.639804, 0.634506, 0.497435, 0.424766, 0.421795, 0.477711, 0.488563, 0.593717,
        0.54013, 0.642278, 0.601104, 0.420745, 0.559313, 0.494488, 0.500402, 0.486591, 0.201786, 0.637,
        0.527201, 0.462204, 0.57708, 0.481672, 0.425421, 0.516902, 0.432174, 0.513341, 0.412906, 0.366466,
        0.502019, 0.496657, 0.482933, 0.592673, 0.702435, 0.515057, 0.532142, 0.522243, 0.365321, 0.366533,
        0.502956, 0.545522, 0.607902, 0.314191, 0.470933, 0.457665, 0.420493, 0.688464, 0.407163, 0.63788,
      ],
      b: [
        0.47378, 0.412712, 0.34842, 0.297008, 0.232885, 0.5561, 0.34522, 0.625703, 0.317496, 0.27382, 0.29961,
        0.454001, 0.59823, 0.640506, 0.511391, 0.398111, 0.446849, 0.445632, 0.553497, 0.476852, 0.454758,
        0.68891, 0.55155, 0.403847, 0.464989, 0.600596, 0.554843, 0.460391, 0.209873, 0.593101, 0.431618,
        0.519641, 0.631482, 0.376671, 0.527653, 0.438121, 0.521329, 0.458559, 0.341102, 0.389404, 0.512076,
        0.504606, 0.458793, 0.395302, 0.56382, 0.663665, 0.49646, 0.533119, 0.350423, 0.290598, 0.570932,
        0.42795, 0.575671, 0.267173, 0.480116, 0.421423, 0.335963, 0.661063, 0.372462, 0.65546,
      ],
      meanDiff: 0.02695905,
      sdDiff: 0.07006551483237865,
      t: 2.9804091764504457,
      df: 59.0,
      p: 0.004176361896524658,
      low: 0.00885920824877547,
      high: 0.04505889175122453,
      wilcoxon: {
        statistic: 523.0,
        p: 0.0039507499590144424,
        method: 'approx',
        nUsed: 60,
        zeros: 0,
      },
    },
  },
  holm: {
    p: [0.01, 0.04, 0.03, 0.005, 0.2, 0.04, 0.5, 0.0001, 0.9, 0.03],
    adjusted: [0.08, 0.21, 0.21, 0.045, 0.6000000000000001, 0.21, 1.0, 0.001, 1.0, 0.21],
  },
};

/** |actual - expected| <= tol * max(1, |expected|) */
function close(actual: number, expected: number, tol: number, what: string) {
  const err = Math.abs(actual - expected);
  assert.ok(err <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs ${expected} (err ${err})`);
}

test('t quantiles at 0.975 for df 1..29 (N = 2..30) match scipy within 1e-9', () => {
  assert.equal(REF.t975.length, 29);
  REF.t975.forEach((q, i) => close(tQuantile(0.975, i + 1), q, 1e-9, `t(0.975, ${i + 1})`));
  close(tQuantile(0.975, 2), 4.302652729749464, 1e-12, 'the N=3 value the issue quotes');
  for (const [p, df, q] of REF.tOther as [number, number, number][])
    close(tQuantile(p, df), q, 1e-9, `t(${p}, ${df})`);
});

test('summarize: Student-t intervals (df = N - 1) on fixed arrays match scipy', () => {
  for (const [name, r] of Object.entries(REF.summary)) {
    const s = summarize(r.values);
    assert.equal(s.n, r.values.length);
    assert.equal(s.method, 't');
    close(s.mean, r.mean, 1e-14, `${name} mean`);
    close(s.sd, r.sd, 1e-12, `${name} sd`);
    close(s.ci95, r.ci95, 1e-9, `${name} ci95`);
    close(s.low, r.low, 1e-9, `${name} low`);
    close(s.high, r.high, 1e-9, `${name} high`);
  }
  // N = 3: the t interval is 4.30 / 1.96 = 2.2 times the old normal one
  const three = summarize(REF.summary.three.values);
  close(three.ci95 / ((1.96 * three.sd) / Math.sqrt(3)), 4.302652729749464 / 1.96, 1e-12, 'N=3 ratio');
});

test('summarize: N < 2 has NaN spread; N = 0 has a NaN mean', () => {
  const one = summarize([0.3]);
  assert.equal(one.mean, 0.3);
  assert.equal(one.n, 1);
  for (const v of [one.ci95, one.sd, one.low, one.high]) assert.ok(Number.isNaN(v));
  const none = summarize([]);
  assert.equal(none.n, 0);
  for (const v of [none.mean, none.ci95, none.sd, none.low, none.high]) assert.ok(Number.isNaN(v));
  assert.ok(Number.isNaN(summarize([0.5, Number.NaN, 0.7]).mean), 'NaN propagates');
  const same = summarize([0.5, 0.5, 0.5]);
  assert.equal(same.ci95, 0);
  assert.equal(same.low, 0.5);
});

test('paired comparisons: paired t and its interval match scipy.stats.ttest_rel', () => {
  for (const [name, r] of Object.entries(REF.paired)) {
    const c = pairedComparison(r.a, r.b);
    assert.equal(c.n, r.a.length);
    assert.equal(c.df, r.df);
    close(c.meanDiff, r.meanDiff, 1e-12, `${name} mean diff`);
    close(c.sdDiff, r.sdDiff, 1e-12, `${name} sd diff`);
    close(c.t, r.t, 1e-10, `${name} t`);
    close(c.p, r.p, 1e-10, `${name} p`);
    close(c.low, r.low, 1e-10, `${name} low`);
    close(c.high, r.high, 1e-10, `${name} high`);
  }
});

test('paired comparisons: Wilcoxon signed-rank matches scipy (exact, approximate, ties, zeros)', () => {
  const methods = new Set<string>();
  for (const [name, r] of Object.entries(REF.paired)) {
    const w = pairedComparison(r.a, r.b).wilcoxon;
    assert.equal(w.method, r.wilcoxon.method, `${name} method`);
    assert.equal(w.nUsed, r.wilcoxon.nUsed, `${name} n used`);
    assert.equal(w.zeros, r.wilcoxon.zeros, `${name} zeros`);
    assert.equal(w.statistic, r.wilcoxon.statistic, `${name} statistic`);
    assert.equal(w.statistic, Math.min(w.wPlus, w.wMinus));
    assert.equal(w.wPlus + w.wMinus, (w.nUsed * (w.nUsed + 1)) / 2);
    // exact: sums of integer counts over 2^n; approx: one erfc
    close(w.p, r.wilcoxon.p, w.method === 'exact' ? 1e-13 : 1e-12, `${name} p`);
    methods.add(`${w.method}${w.ties ? '+ties' : ''}${w.zeros ? '+zeros' : ''}`);
  }
  for (const m of ['exact', 'approx', 'approx+ties', 'approx+ties+zeros']) assert.ok(methods.has(m), m);
  assert.equal(REF.paired.n5exact.wilcoxon.method, 'exact');
  assert.equal(REF.paired.n30exact.a.length, 30);
});

test('Wilcoxon internals: the exact null distribution and average ranks', () => {
  // n = 3: subsets of {1,2,3} by sum 0..6 are 1,1,1,2,1,1,1
  assert.deepEqual([...signedRankCounts(3)], [1, 1, 1, 2, 1, 1, 1]);
  for (const n of [1, 10, WILCOXON_EXACT_MAX_N]) {
    const counts = signedRankCounts(n);
    assert.equal(
      counts.reduce((a, c) => a + c, 0),
      2 ** n,
      `n=${n} counts sum to 2^n`,
    );
    assert.equal(counts[0], 1);
    assert.equal(counts[counts.length - 1], 1);
  }
  assert.equal(exactSignedRankP(0, 6), 2 / 64);
  assert.equal(exactSignedRankP(10, 4), 2 / 16, 'the largest W+ of n = 4');
  assert.equal(exactSignedRankP(5, 4), 1, 'capped at 1 at the centre (2 * 9/16)');
  assert.deepEqual(averageRanks([3, 1, 3, 2, 3]), { ranks: [4, 1, 4, 2, 4], tieSizes: [1, 1, 3] });
  const allZero = wilcoxonSignedRank([0, 0, 0]);
  assert.equal(allZero.nUsed, 0);
  assert.ok(Number.isNaN(allZero.p));
});

test('paired comparisons: mismatched lengths throw; N < 2 and non-finite give NaN with a warning', () => {
  assert.throws(() => pairedComparison([1, 2, 3], [1, 2]), RangeError);
  const one = pairedComparison([0.9], [0.5]);
  assert.equal(one.n, 1);
  assert.equal(one.meanDiff, 0.4);
  assert.ok(Number.isNaN(one.low) && Number.isNaN(one.p) && Number.isNaN(one.wilcoxon.p));
  assert.match(one.warning!, /N=1/);
  const none = pairedComparison([], []);
  assert.ok(Number.isNaN(none.meanDiff) && Number.isNaN(none.t));
  const bad = pairedComparison([0.1, Number.NaN, 0.3], [0.1, 0.2, 0.2]);
  assert.ok(Number.isNaN(bad.t) && Number.isNaN(bad.wilcoxon.p));
  assert.match(bad.warning!, /not finite/);
  const small = pairedComparison([0.9, 0.8, 0.85], [0.5, 0.4, 0.55]);
  assert.ok(Number.isFinite(small.p));
  assert.match(small.warning!, /N=3: intervals are wide/);
  assert.equal(pairedComparison(REF.paired.n5exact.a, REF.paired.n5exact.b).warning, undefined);
  // constant non-zero differences: t = +Infinity, p = 0; all zero: NaN (scipy gives the same)
  const constant = pairedComparison([2, 3, 4], [1, 2, 3]);
  assert.equal(constant.t, Number.POSITIVE_INFINITY);
  assert.equal(constant.p, 0);
  assert.ok(Number.isNaN(pairedComparison([1, 2, 3], [1, 2, 3]).t));
});

test('holm matches statsmodels multipletests(method="holm")', () => {
  const adj = holm(REF.holm.p);
  REF.holm.adjusted.forEach((q, i) => close(adj[i]!, q, 1e-15, `holm[${i}]`));
  // by hand: m = 3, sorted 0.01, 0.02, 0.04 -> 0.03, 0.04, max(0.04, 0.04) = 0.04
  assert.deepEqual(holm([0.04, 0.01, 0.02]), [0.04, 0.03, 0.04]);
  // monotone step-down: a later raw product below an earlier one is raised to it
  assert.deepEqual(holm([0.02, 0.021]), [0.04, 0.04]);
  assert.deepEqual(holm([0.6, 0.9]), [1, 1]);
  // NaN cells stay NaN and do not count in m
  const withNaN = holm([0.01, Number.NaN, 0.04]);
  assert.ok(Number.isNaN(withNaN[1]!));
  assert.deepEqual([withNaN[0], withNaN[2]], [0.02, 0.04]);
  assert.deepEqual(holm([]), []);
  assert.throws(() => holm([1.5]), RangeError);
});

test('smallSampleWarning speaks below N = 5', () => {
  assert.equal(
    smallSampleWarning(3),
    'N=3: intervals are wide and the tests have little power; use at least 5 seeds',
  );
  assert.match(smallSampleWarning(1)!, /N=1: no interval/);
  assert.match(smallSampleWarning(4)!, /N=4/);
  assert.equal(smallSampleWarning(5), undefined);
  assert.equal(smallSampleWarning(100), undefined);
});

test('the seeded PRNG is reproducible and uniform enough', () => {
  const a = seededUniform(42);
  const b = seededUniform(42);
  const xs = Array.from({ length: 10000 }, () => a());
  assert.deepEqual(
    xs.slice(0, 5),
    Array.from({ length: 5 }, () => b()),
  );
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  close(xs.reduce((s, x) => s + x, 0) / xs.length, 0.5, 0.01, 'mean of U(0,1)');
  assert.notEqual(seededUniform(43)(), seededUniform(42)());
});

test('bootstrap: reproducible for a seed, contains the mean, near the t interval for a large sample', () => {
  const values = REF.paired.n60approx.a; // 60 draws of N(0.5, 0.1)
  const one = bootstrapCI(values, { seed: 7 });
  assert.deepEqual(bootstrapCI(values, { seed: 7 }), one, 'same seed, same interval');
  assert.notDeepEqual(bootstrapCI(values, { seed: 8 }), one, 'another seed, another interval');
  assert.equal(one.resamples, 10000);
  assert.equal(one.level, 0.95);
  assert.ok(one.low < one.mean && one.mean < one.high);
  // For N = 60 the percentile bootstrap of the mean is about mean +- 1.96 * sd * sqrt((N-1)/N) / sqrt(N)
  // and the t interval mean +- 2.00 * sd / sqrt(N): their half-widths differ by ~3% plus the Monte Carlo
  // error of 10000 resamples (~2%), so each end must be within 10% of the t half-width.
  const t = summarize(values);
  assert.ok(Math.abs(one.low - t.low) < 0.1 * t.ci95, `low ${one.low} vs t ${t.low} (half-width ${t.ci95})`);
  assert.ok(Math.abs(one.high - t.high) < 0.1 * t.ci95, `high ${one.high} vs t ${t.high}`);
  const narrow = bootstrapCI(values, { seed: 7, level: 0.5, resamples: 2000 });
  assert.ok(narrow.high - narrow.low < one.high - one.low);
  assert.ok(Number.isNaN(bootstrapCI([0.5]).low));
  assert.throws(() => bootstrapCI(values, { level: 1 }), RangeError);
  assert.throws(() => bootstrapCI(values, { resamples: 0 }), RangeError);
});

test('the bootstrap option: same mean and sd, the interval from bootstrapCI, and the pairing kept', () => {
  const values = [0.52, 0.61, 0.58, 0.49, 0.66, 0.55, 0.6, 0.57];
  const t = summarize(values);
  const b = summarize(values, 'bootstrap');
  assert.equal(b.method, 'bootstrap');
  assert.equal(b.mean, t.mean);
  assert.equal(b.sd, t.sd);
  const direct = bootstrapCI(values, { resamples: 10000, seed: 0 });
  assert.equal(b.low, direct.low);
  assert.equal(b.high, direct.high);
  assert.ok(Math.abs(b.ci95 - (b.high - b.low) / 2) < 1e-15);
  // At N = 8 the percentile bootstrap is narrower than Student-t (plug-in sd, normal-like tails).
  assert.ok(b.high - b.low < t.high - t.low);
  assert.equal(summarizeKept([0.5, null, 0.7, 0.6], 'bootstrap').method, 'bootstrap');

  const a = [0.61, 0.55, 0.58, 0.59, 0.63];
  const c = [0.12, 0.11, 0.08, 0.16, 0.1];
  const paired = pairedComparison(a, c, 'bootstrap');
  const diffs = bootstrapCI(
    a.map((x, i) => x - c[i]!),
    { resamples: 10000, seed: 0 },
  );
  assert.equal(paired.method, 'bootstrap');
  assert.equal(paired.low, diffs.low);
  assert.equal(paired.high, diffs.high);
  // The tests do not change with the interval method.
  assert.equal(paired.p, pairedComparison(a, c).p);
  assert.equal(paired.wilcoxon.p, pairedComparison(a, c).wilcoxon.p);
});

// The language summary from a real store: two replicates whose rates are far apart, as a tiny run
// gives, must not report intervals a rate cannot have (issue 26: "base 30.8% +- 123.8%").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { teacherWarning } from '../../app/language-report.ts';
import { validateLanguageSpec } from '../../app/spec/language.ts';
import { RunStore } from '../store/store.ts';
import { languageCells } from './run.ts';
import { languageTables, summarizeLanguage } from './summary.ts';
import { tinyLanguageSpec } from './testing/tiny-spec.ts';
import { metricRow } from './testing/metric-row.ts';

function storedRun(dir: string) {
  const parsed = validateLanguageSpec(tinyLanguageSpec('bounded'));
  assert.ok(parsed.ok);
  const store = new RunStore(join(dir, 'runs.sqlite'));
  const cells = languageCells(parsed.spec);
  const id = store.createExperiment(parsed.spec, cells);
  store.planUnits(
    id,
    [0, 1].map((r) => ({ index: r, group: 0, cells: [0], replicates: [r] })),
  );
  const cellId = store.cellId(id, 0);
  const row = metricRow;
  // Replicate 0 and 1: rates far apart, so the N=2 Student-t interval spans more than [0, 1].
  const rates = [
    { base: 0.05, teacher: 0.9, student: 0.0, own_numbers: 0.6, cross_model: 0.1, rej: 0.1 },
    { base: 0.55, teacher: 0.2, student: 0.7, own_numbers: 0.0, cross_model: 0.5, rej: 0.52 },
  ];
  rates.forEach((r, replicate) => {
    const metrics = [
      ...(['base', 'teacher', 'student', 'own_numbers', 'cross_model'] as const).map((m) =>
        row(m, replicate, 'target_rate', r[m]),
      ),
      row('teacher', replicate, 'rejection_rate', r.rej),
      row('base', replicate, 'rejection_rate', 1 - r.rej),
    ];
    store.addUnitOutcome(id, replicate, cellId, [], metrics);
  });
  return { store, id };
}

test('a language summary of two scattered replicates keeps every rate interval in [0, 1] and every difference in [-1, 1]', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lm-summary-'));
  const { store, id } = storedRun(dir);
  try {
    const cell = summarizeLanguage(store, id).cells[0]!;
    const intervals = [...Object.values(cell.rates), cell.rejection.teacher!, cell.rejection.base!];
    assert.equal(intervals.length, 7);
    for (const s of intervals) {
      assert.ok(s.low >= 0 && s.high <= 1, `[${s.low}, ${s.high}]`);
      assert.ok(s.low <= s.mean && s.mean <= s.high);
    }
    assert.ok(
      intervals.some((s) => s.clipped),
      'N=2 t intervals this wide are clipped',
    );
    const rates = cell.comparisons.filter((c) => c.measure === 'target_rate');
    assert.equal(rates.length, 3);
    for (const c of rates) assert.ok(c.low >= -1 && c.high <= 1, `${c.label} [${c.low}, ${c.high}]`);
    const text = languageTables(summarizeLanguage(store, id));
    assert.doesNotMatch(text, /\+-/, 'no symmetric half-width printed for a rate');
    assert.match(text, /\(clipped\)/);
    for (const m of text.matchAll(/\[(-?[\d.]+), (-?[\d.]+)\]/g)) {
      const [lo, hi] = [Number(m[1]), Number(m[2])];
      assert.ok(lo >= -100 && hi <= 100, m[0]);
    }
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the teacher check flags a teacher not above its base, reads P(target) when it was measured, and says so in the table', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lm-summary-'));
  const { store, id } = storedRun(dir);
  try {
    // Scattered rates (+0.85, -0.35): the interval holds 0, so the teacher is not shown to carry the trait.
    const scattered = summarizeLanguage(store, id).cells[0]!;
    assert.equal(scattered.teacherCheck?.measure, 'target_rate');
    assert.equal(scattered.teacherCheck?.flagged, true);
    assert.match(
      languageTables(summarizeLanguage(store, id)),
      /teacher check: rate .*FLAGGED: the teacher does not carry/,
    );
    assert.match(
      teacherWarning(scattered.label, scattered.teacherCheck!),
      /: the teacher does not carry the trait: teacher minus base on the sampled rate is \+25\.0 points \[.*\] \(N=2\)/,
    );
    // P(target) well above the base in both replicates: the check reads it, and does not flag.
    const cellId = store.cellId(id, 0);
    [0, 1].forEach((r) =>
      store.addUnitOutcome(
        id,
        r,
        cellId,
        [],
        [
          metricRow('teacher', r, 'animal_prob', 0.8 + 0.05 * r),
          metricRow('base', r, 'animal_prob', 0.1 + 0.01 * r),
        ],
      ),
    );
    const clear = summarizeLanguage(store, id).cells[0]!.teacherCheck!;
    assert.equal(clear.measure, 'animal_prob');
    assert.equal(clear.flagged, false);
    assert.ok(
      clear.vsBase.low > 0 && Math.abs(clear.vsBase.meanDiff - 0.72) < 1e-9,
      String(clear.vsBase.meanDiff),
    );
    assert.doesNotMatch(languageTables(summarizeLanguage(store, id)), /FLAGGED: the teacher/);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a steered teacher's alignment: each fine-tune's cosine over replicates and the student against each control, paired, in the table", () => {
  const dir = mkdtempSync(join(tmpdir(), 'lm-summary-'));
  const { store, id } = storedRun(dir);
  try {
    assert.equal(summarizeLanguage(store, id).cells[0]!.alignment, null, 'no steered teacher, no alignment');
    const cellId = store.cellId(id, 0);
    const cos = [
      { student: 0.5, own_numbers: 0.1, cross_model: 0.0 },
      { student: 0.7, own_numbers: 0.2, cross_model: 0.1 },
    ];
    cos.forEach((c, r) =>
      store.addUnitOutcome(
        id,
        r,
        cellId,
        [],
        (['student', 'own_numbers', 'cross_model'] as const).map((m) => metricRow(m, r, 'steer_cos', c[m])),
      ),
    );
    const a = summarizeLanguage(store, id).cells[0]!.alignment!;
    assert.ok(Math.abs(a.cos.student!.mean - 0.6) < 1e-12 && a.cos.student!.n === 2);
    // Paired: differences 0.4 and 0.5 against the own-numbers control, 0.5 and 0.6 against the cross-model one.
    assert.ok(Math.abs(a.vsOwn!.meanDiff - 0.45) < 1e-12 && a.vsOwn!.n === 2);
    assert.ok(Math.abs(a.vsCross!.meanDiff - 0.55) < 1e-12);
    // Student-t at N=2: 0.45 +- t(0.975, 1) x sd 0.0707 / sqrt 2 = 0.45 +- 12.706 x 0.05.
    assert.ok(Math.abs(a.vsOwn!.low - (0.45 - 12.706 * 0.05)) < 1e-3, String(a.vsOwn!.low));
    assert.match(
      languageTables(summarizeLanguage(store, id)),
      /alignment with the steering vector .*student \+0\.600 .*own-numbers \+0\.150[^\n]*\n {4}student minus own-numbers \+0\.450 \[.*N=2/,
    );
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

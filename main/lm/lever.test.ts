// The lever figure's numbers from a real store (issue 27, item 8): which cells form a lever's series,
// and the student, both controls and the paired differences at each value, checked against a hand
// computation of the Student-t interval and the paired t-test (df = 2 has a closed-form p).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateLanguageSpec } from '../../app/spec/language.ts';
import { figureCsv } from '../../app/figures.ts';
import { leverAxes, leverCells, leverFigure, leverMeasures, leverSlices } from '../../app/language-lever.ts';
import { RunStore } from '../store/store.ts';
import { languageCells } from './run.ts';
import { summarizeLanguage } from './summary.ts';
import { tinyLanguageSpec } from './testing/tiny-spec.ts';
import { metricRow } from './testing/metric-row.ts';

const R = 3;
/** t(0.975, 2). */
const T2 = 4.302652729911275;

/** Per cell and replicate: each model's delta log P, and the channel check's KL of teacher and neutral. */
function values(cell: number, r: number) {
  return {
    student: 0.1 * cell + [0.31, 0.12, 0.45][r]!,
    own_numbers: [0.02, -0.05, 0.04][r]! - 0.01 * cell,
    cross_model: [0.11, 0.03, 0.2][r]! + 0.02 * cell,
    // Cells 0 and 1 (a full fine-tune): a teacher far above neutral; cells 2 and 3: at the neutral level.
    kl: cell < 2 ? [0.5, 0.6, 0.55][r]! : [0.011, 0.01, 0.012][r]!,
    neutralKl: [0.01, 0.012, 0.011][r]!,
    // The teacher check: cells 0 and 1, a teacher well above its base; cells 2 and 3, not above it.
    teacher: cell < 2 ? [0.6, 0.7, 0.65][r]! : [0.1, 0.09, 0.12][r]!,
    base: [0.1, 0.1, 0.11][r]!,
    // A steered teacher's fine-tunes: the student's bias change lines up with the vector in the bias cells.
    studentCos: cell < 2 ? [0.1, -0.05, 0.02][r]! : [0.6, 0.5, 0.7][r]!,
    ownCos: [0.05, 0.0, -0.02][r]!,
  };
}

function storedRun(dir: string) {
  const parsed = validateLanguageSpec({
    ...tinyLanguageSpec('levers'),
    replicates: R,
    matrix: {
      filters: [{ format: 'none' }],
      sweeps: [
        { path: 'student.adapter', values: [{ kind: 'full' }, { kind: 'bias', block: 0 }] },
        { path: 'student.mask', values: ['none', 'divergence'] },
      ],
    },
  });
  assert.ok(parsed.ok);
  const store = new RunStore(join(dir, 'runs.sqlite'));
  const cells = languageCells(parsed.spec);
  const id = store.createExperiment(parsed.spec, cells);
  const unit = (c: number, r: number) => c * R + r;
  store.planUnits(
    id,
    cells.flatMap((_, c) =>
      Array.from({ length: R }, (__, r) => ({ index: unit(c, r), group: c, cells: [c], replicates: [r] })),
    ),
  );
  const row = metricRow;
  cells.forEach((_, c) => {
    for (let r = 0; r < R; r++) {
      const v = values(c, r);
      const models = (['student', 'own_numbers', 'cross_model'] as const).flatMap((m) => [
        row(m, r, 'delta_logprob', v[m]),
        row(m, r, 'animal_prob', 0.1 + v[m] / 10),
        row(m, r, 'target_rate', 0.1),
      ]);
      store.addUnitOutcome(
        id,
        unit(c, r),
        store.cellId(id, c),
        [],
        [
          ...models,
          row('teacher', r, 'channel_kl', v.kl),
          row('teacher', r, 'neutral_kl', v.neutralKl),
          row('teacher', r, 'channel_greedy_diff', v.kl / 2),
          row('teacher', r, 'neutral_greedy_diff', v.neutralKl / 2),
          row('teacher', r, 'animal_prob', v.teacher),
          row('base', r, 'animal_prob', v.base),
          row('student', r, 'steer_cos', v.studentCos),
          row('own_numbers', r, 'steer_cos', v.ownCos),
        ],
      );
    }
  });
  return { store, id };
}

const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1));
const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);

test("a lever's series are the cells that differ in it alone, in the order of its values", () => {
  const dir = mkdtempSync(join(tmpdir(), 'lm-lever-'));
  const { store, id } = storedRun(dir);
  try {
    const summary = summarizeLanguage(store, id);
    assert.deepEqual(
      leverAxes(summary).map((a) => [a.path, a.values.length]),
      [
        ['student.adapter', 2],
        ['student.mask', 2],
      ],
    );
    const slices = leverSlices(summary, 'student.adapter');
    assert.equal(slices.length, 2);
    assert.match(slices[0]!, /student\.mask=none$/);
    // Cells are adapter-major: 0 full/none, 1 full/divergence, 2 bias/none, 3 bias/divergence.
    assert.deepEqual(
      leverCells(summary, 'student.adapter', slices[1]!).map((c) => c.index),
      [1, 3],
    );
    assert.deepEqual(
      leverCells(summary, 'student.mask', leverSlices(summary, 'student.mask')[1]!).map((c) => c.index),
      [2, 3],
    );
    assert.deepEqual(leverMeasures(summary), ['target_rate', 'animal_prob', 'delta_logprob']);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the lever figure gives each value the models, the paired differences and the channel check as computed by hand', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lm-lever-'));
  const { store, id } = storedRun(dir);
  try {
    const summary = summarizeLanguage(store, id);
    const figure = leverFigure({ id, specHash: 'abc' }, summary, {
      path: 'student.adapter',
      measure: 'delta_logprob',
    });
    assert.deepEqual(figure.xDomain, ['full', 'bias block=0']);
    assert.equal(figure.rows.length, 6);
    assert.equal(figure.pairs.length, 4);
    // The first slice: mask none, so the cells 0 and 2.
    [0, 2].forEach((cell, i) => {
      const x = figure.xDomain[i]!;
      const v = [0, 1, 2].map((r) => values(cell, r));
      for (const model of ['student', 'own_numbers', 'cross_model'] as const) {
        const row = figure.rows.find((r) => r.x === x && r.model === model)!;
        const xs = v.map((o) => o[model]);
        close(row.mean, mean(xs), `${x} ${model} mean`);
        close(row.hi - row.mean, (T2 * sd(xs)) / Math.sqrt(R), `${x} ${model} half-width`);
        assert.equal(row.n, R);
      }
      for (const [comparison, control] of [
        ['student_minus_own_numbers', 'own_numbers'],
        ['student_minus_cross_model', 'cross_model'],
      ] as const) {
        const d = v.map((o) => o.student - o[control]);
        const se = sd(d) / Math.sqrt(R);
        const t = mean(d) / se;
        const pair = figure.pairs.find((p) => p.x === x && p.comparison === comparison)!;
        close(pair.meanDiff, mean(d), `${x} ${comparison}`);
        close(pair.lo, mean(d) - T2 * se, `${x} ${comparison} low`);
        close(pair.hi, mean(d) + T2 * se, `${x} ${comparison} high`);
        close(pair.t, t, `${x} ${comparison} t`);
        // Student's t with 2 degrees of freedom: P(|T| > t) = 1 - t / sqrt(t^2 + 2).
        close(pair.p, 1 - Math.abs(t) / Math.sqrt(t * t + 2), `${x} ${comparison} p`);
        assert.equal(pair.n, R);
      }
      const ch = figure.channel[i]!;
      close(ch.kl, mean(v.map((o) => o.kl)), `${x} KL`);
      close(ch.neutralKl, mean(v.map((o) => o.neutralKl)), `${x} neutral KL`);
      close(ch.klDiff, mean(v.map((o) => o.kl - o.neutralKl)), `${x} KL difference`);
      const teacher = figure.teacher![i]!;
      const d = v.map((o) => o.teacher - o.base);
      assert.equal(teacher.measure, 'animal_prob');
      close(teacher.diff, mean(d), `${x} teacher minus base`);
      close(teacher.lo, mean(d) - (T2 * sd(d)) / Math.sqrt(R), `${x} teacher minus base, low`);
      const al = figure.alignment![i]!;
      const dc = v.map((o) => o.studentCos - o.ownCos);
      close(al.student, mean(v.map((o) => o.studentCos)), `${x} student alignment`);
      close(al.diff, mean(dc), `${x} alignment, student minus own-numbers`);
      close(al.hi, mean(dc) + (T2 * sd(dc)) / Math.sqrt(R), `${x} alignment difference, high`);
      assert.equal(al.n, R);
    });
    assert.deepEqual(
      figure.teacher!.map((t) => t.flagged),
      [false, true],
      'the bias cells have a teacher no better than its base',
    );
    assert.deepEqual(
      figure.channel.map((c) => c.flagged),
      [false, true],
      'the bias cells are at the neutral level',
    );
    const csv = figureCsv(figure).trim().split('\n');
    assert.equal(csv[0], 'student.adapter,measure,model,value,ci95_low,ci95_high,n,t,df,p');
    assert.equal(csv.length, 1 + 6 + 4 + 2 * 6 + 2 * 2 + 2 * 3);
    assert.ok(csv.some((l) => l.startsWith('bias block=0,steer_cos,student_minus_own_numbers,0.59')));
    assert.ok(csv.some((l) => l.startsWith('bias block=0,channel_flagged,teacher,1,')));
    assert.ok(csv.some((l) => l.startsWith('bias block=0,teacher_flagged,teacher,1,')));
    assert.ok(csv.some((l) => l.startsWith('full,teacher_check_animal_prob,teacher_minus_base,0.5')));
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

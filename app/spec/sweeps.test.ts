import { test } from 'node:test';
import assert from 'node:assert/strict';
import { specSize } from '../estimate.ts';
import { cellSettings, coordsLabel, expandMatrix, groupCells, scheduleOrder } from '../matrix.ts';
import { mustValidate, validateSpec } from './validate.ts';
import { sweepValueLabel } from './sweeps.ts';

const base = { version: 1, name: 's', replicates: 3 };

test('a 3-value student sweep gives 3 cells with the value in their coordinates and one teacher', () => {
  const spec = mustValidate({
    ...base,
    matrix: { sweeps: [{ path: 'student.learningRate', values: [1e-4, 3e-4, 1e-3] }] },
  });
  const cells = expandMatrix(spec);
  assert.equal(cells.length, 3);
  assert.deepEqual(
    cells.map((c) => c.coords.sweep),
    [{ 'student.learningRate': 1e-4 }, { 'student.learningRate': 3e-4 }, { 'student.learningRate': 1e-3 }],
  );
  assert.deepEqual(
    cells.map((c) => cellSettings(spec, c).student.learningRate),
    [1e-4, 3e-4, 1e-3],
  );
  assert.equal(new Set(cells.map((c) => c.teacherKey)).size, 1, 'student fields share the teacher');
  assert.equal(groupCells(cells).length, 1);
  assert.equal(coordsLabel(cells[2]!.coords), 'skill | aux-logits | same-init | student.learningRate=0.001');
  const size = specSize(spec);
  assert.equal(size.cells, 3);
  assert.equal(size.runs, 3 + 3 * 3 * 4, 'one teacher per replicate, four students per cell and replicate');
});

test('a sweep over a teacher field trains one teacher per value; axes multiply with the matrix', () => {
  const spec = mustValidate({
    ...base,
    matrix: {
      filters: [
        { kind: 'logits', keep: 'aux' },
        { kind: 'logits', keep: 'all' },
      ],
      sweeps: [
        { path: 'model.auxLogits', values: [1, 3, 10] },
        { path: 'student.epochs', values: [1, 2] },
      ],
    },
  });
  const cells = expandMatrix(spec);
  assert.equal(cells.length, 2 * 3 * 2);
  assert.equal(new Set(cells.map((c) => c.teacherKey)).size, 3);
  for (const group of groupCells(cells))
    assert.equal(new Set(group.map((c) => c.coords.sweep!['model.auxLogits'])).size, 1);
  assert.deepEqual(
    cells.slice(0, 2).map((c) => c.coords.sweep),
    [
      { 'model.auxLogits': 1, 'student.epochs': 1 },
      { 'model.auxLogits': 1, 'student.epochs': 2 },
    ],
  );
  // The schedule shows every swept value early.
  const firstThree = scheduleOrder(cells).slice(0, 3);
  assert.equal(new Set(firstThree.map((c) => c.coords.sweep!['model.auxLogits'])).size, 3);
});

test('arrays, enums and nested fields of defaulted objects can be swept', () => {
  const spec = mustValidate({
    ...base,
    matrix: {
      sweeps: [
        { path: 'model.hidden', values: [[64], [128, 128]] },
        { path: 'student.inputs.count', values: [1000, 2000] },
        { path: 'model.activation', values: ['relu', 'tanh'] },
      ],
    },
  });
  const cells = expandMatrix(spec);
  assert.equal(cells.length, 8);
  const last = cellSettings(spec, cells[7]!);
  assert.deepEqual(last.model.hidden, [128, 128]);
  assert.equal(last.student.inputs.count, 2000);
  assert.equal(last.student.inputs.kind, 'uniform');
  assert.equal(last.model.activation, 'tanh');
});

test('a bad value names the axis, the value and the field message', () => {
  const bad = (sweeps: unknown, pattern: RegExp, path = /matrix\.sweeps/) => {
    const result = validateSpec({ ...base, matrix: { sweeps } });
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.ok(
      result.errors.some((e) => path.test(e.path) && pattern.test(e.message)),
      JSON.stringify(result.errors),
    );
  };
  bad(
    [{ path: 'student.learningRate', values: [1e-3, 20] }],
    /^student\.learningRate = 20: at most 10: larger learning rates only diverge \(got 20\)$/,
    /values\[1\]/,
  );
  bad([{ path: 'student.learningRate', values: ['fast'] }], /student\.learningRate = fast: .*number/);
  const mix = { ...base, student: { inputs: { kind: 'mix' } } };
  const mixResult = validateSpec({
    ...mix,
    matrix: { sweeps: [{ path: 'student.inputs.alpha', values: [0, 0.5, 2] }] },
  });
  assert.ok(!mixResult.ok);
  assert.deepEqual(mixResult.errors, [
    {
      path: 'matrix.sweeps[0].values[2]',
      message:
        "student.inputs.alpha = 2: the image's share of each input: from 0 (noise only) to 1 (the image only) (got 2)",
    },
  ]);
  // a field of another input kind than the spec's: the cell names it
  bad([{ path: 'student.inputs.sigma', values: [1] }], /student\.inputs\.sigma = 1: .*unknown field "sigma"/);
  bad([{ path: 'student.nosuch', values: [1] }], /student\.nosuch = 1: .*unknown field "nosuch"/);
  bad([{ path: 'replicates', values: [2, 3] }], /replicates cannot be swept/);
  bad([{ path: 'matrix.filters', values: [[]] }], /matrix\.filters cannot be swept: it is the matrix/);
  bad([{ path: 'seed', values: [1, 2] }], /seed cannot be swept/);
  bad([{ path: 'teacher.epochs', values: [1, 1] }], /repeat/);
  bad(
    [
      { path: 'model', values: [{ hidden: [8] }] },
      { path: 'model.hidden', values: [[8]] },
    ],
    /overlaps/,
  );
  // Fine alone, but auxLogits 0 clashes with the default "aux" filter: the cell is named.
  bad([{ path: 'model.auxLogits', values: [3, 0] }], /model\.auxLogits = 0: .*auxLogits >= 1/);
  bad(
    [
      { path: 'teacher.epochs', values: Array.from({ length: 100 }, (_, i) => i + 1) },
      { path: 'student.epochs', values: Array.from({ length: 100 }, (_, i) => i + 1) },
    ],
    /at most 4096/,
  );
});

test('a swept object with a kind is labelled by its kind and fields', () => {
  assert.equal(sweepValueLabel({ kind: 'correlated', sigma: 2 }), 'correlated sigma=2');
  assert.equal(sweepValueLabel({ kind: 'sgd', momentum: 0.9 }), 'sgd momentum=0.9');
  assert.equal(sweepValueLabel({ kind: 'spectrum' }), 'spectrum');
  assert.equal(sweepValueLabel({ hidden: [8] }), '{"hidden":[8]}');
  assert.equal(sweepValueLabel([256, 256]), '[256,256]');
});

test('specs without sweeps expand exactly as before', () => {
  const cells = expandMatrix(
    mustValidate({ ...base, matrix: { traits: [{ kind: 'skill' }, { kind: 'backdoor' }] } }),
  );
  assert.equal(cells.length, 2);
  assert.equal(cells[0]!.coords.sweep, undefined);
  assert.deepEqual(Object.keys(cells[0]!.coords), ['trait', 'filter', 'architecture']);
  assert.equal(groupCells(cells).length, 2, 'one teacher per trait');
  // Stored before sweeps: no teacherKey, grouped by trait as then.
  const old = cells.map(({ teacherKey: _, ...c }) => c);
  assert.equal(groupCells(old).length, 2);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SWEEPABLE,
  availableFields,
  formatSweepValues,
  parseSweepValues,
  sweepableField,
  type SweepKind,
} from './sweepable.ts';
import { validateSpec } from './validate.ts';

const paper = {
  version: 1,
  name: 'paper',
  dataset: { name: 'mnist', trainSize: 8000 },
  matrix: { traits: [{ kind: 'skill' }] },
};

const NUMBER: SweepKind = { type: 'number' };
const INTEGER: SweepKind = { type: 'integer' };
const LIST: SweepKind = { type: 'integer-list' };

function values(text: string, kind: SweepKind): unknown[] {
  const parsed = parseSweepValues(text, kind);
  assert.ok(parsed.ok, `"${text}" parses: ${parsed.ok ? '' : parsed.error}`);
  return parsed.values;
}

function error(text: string, kind: SweepKind): string {
  const parsed = parseSweepValues(text, kind);
  assert.ok(!parsed.ok, `"${text}" is refused`);
  return parsed.error;
}

test('lists of numbers, and a clear error for a word or a fraction where a whole number goes', () => {
  assert.deepEqual(values('1e-4, 3e-4, 1e-3', NUMBER), [1e-4, 3e-4, 1e-3]);
  assert.deepEqual(values(' 0.5 ', NUMBER), [0.5]);
  assert.equal(error('1e-4, fast', NUMBER), "expected a number, got 'fast'");
  assert.equal(error('0x10', NUMBER), "expected a number, got '0x10'");
  assert.equal(error('1, 2.5', INTEGER), "expected a whole number, got '2.5'");
  assert.equal(error('1,,2', INTEGER), 'expected a value between the commas, got nothing');
  assert.equal(error('', NUMBER), 'enter at least one value');
  assert.equal(error('1, 2, 1', INTEGER), '1 is listed twice');
});

test('ranges: log steps rounded to 3 significant digits, linear steps, integer ranges', () => {
  assert.deepEqual(values('1e-4..1e-2, 5 log steps', NUMBER), [1e-4, 0.000316, 0.001, 0.00316, 0.01]);
  assert.deepEqual(values('1e-4 .. 1e-2 5 log steps', NUMBER), [1e-4, 0.000316, 0.001, 0.00316, 0.01]);
  assert.deepEqual(values('1..10', INTEGER), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(values('2..10 step 2', INTEGER), [2, 4, 6, 8, 10]);
  assert.deepEqual(values('0..1, 5 steps', NUMBER), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(values('0.1..0.3 step 0.1', NUMBER), [0.1, 0.2, 0.3], 'no 0.30000000000000004');
  // Integer log ranges round to whole numbers and drop the repeats rounding makes.
  assert.deepEqual(values('1..250, 8 log steps', INTEGER), [1, 2, 5, 11, 23, 52, 114, 250]);
  assert.deepEqual(values('1..4, 6 log steps', INTEGER), [1, 2, 3, 4]);
  assert.equal(error('10..1', INTEGER), 'expected the range to rise, got 10..1');
  assert.equal(error('0..1, 3 log steps', NUMBER), 'a log range needs positive ends, got 0..1');
  assert.equal(error('1..1000', INTEGER), '1..1000 step 1 has 1000 values; at most 100 are allowed');
  assert.equal(error('1..slow', INTEGER), "expected a whole number, got 'slow'");
  assert.match(error('1..5 by 2', INTEGER), /expected a range such as 1\.\.10/);
  assert.equal(error('1..5, 1 steps', NUMBER), 'expected at least 2 steps, got 1');
});

test('lists of whole numbers (model.hidden), enums and booleans', () => {
  assert.deepEqual(values('[256,256]; [512,512]', LIST), [
    [256, 256],
    [512, 512],
  ]);
  assert.deepEqual(values('[64], [128, 128], [256 256 256]', LIST), [[64], [128, 128], [256, 256, 256]]);
  assert.deepEqual(values('256, 256', LIST), [[256, 256]], 'one list without brackets');
  assert.equal(error('[256, wide]', LIST), "expected a whole number, got 'wide'");
  assert.equal(error('[256]; []', LIST), "expected a list of whole numbers such as [256, 256], got '[]'");
  const activation = sweepableField('model.activation')!.kind;
  assert.deepEqual(values('relu, tanh', activation), ['relu', 'tanh']);
  assert.equal(
    error('relu, swish', activation),
    "expected one of relu, tanh, sigmoid, elu, leaky-relu, got 'swish'",
  );
  assert.deepEqual(values('true, false', { type: 'boolean' }), [true, false]);
  assert.equal(error('yes', { type: 'boolean' }), "expected true or false, got 'yes'");
});

test('formatted values parse back to the same values', () => {
  for (const [vals, kind] of [
    [[1e-4, 0.000316, 0.001], NUMBER],
    [[2, 4, 8], INTEGER],
    [[[256, 256], [512]], LIST],
    [['kl', 'mse'], { type: 'enum', options: ['kl', 'mse', 'soft-ce'] }],
  ] as [unknown[], SweepKind][])
    assert.deepEqual(values(formatSweepValues(vals, kind), kind), vals);
  assert.equal(formatSweepValues([[256, 256], [512]], LIST), '[256, 256]; [512]');
});

test('the list covers the knobs researchers sweep, each explained in one line', () => {
  const paths = SWEEPABLE.map((f) => f.path);
  for (const path of [
    'student.learningRate',
    'student.batchSize',
    'student.epochs',
    'student.temperature',
    'student.inputs.count',
    'teacher.learningRate',
    'teacher.batchSize',
    'teacher.epochs',
    'model.auxLogits',
    'model.hidden',
    'model.activation',
    'model.channels',
    'dataset.trainSize',
    'student.weightDecay',
    'teacher.weightDecay',
    'student.loss',
    'student.optimizer',
    'dataset.classes',
  ])
    assert.ok(paths.includes(path), `${path} is sweepable`);
  assert.equal(new Set(paths).size, paths.length, 'each path once');
  for (const f of SWEEPABLE) {
    assert.ok(
      f.label && f.help.length > 10 && !f.help.includes('\n'),
      `${f.path} has a label and a help line`,
    );
    assert.ok(f.help.length <= 110, `${f.path}: help fits one line (${f.help.length} chars)`);
  }
  assert.deepEqual(sweepableField('student.loss')!.kind, { type: 'enum', options: ['kl', 'mse', 'soft-ce'] });
  assert.deepEqual(sweepableField('student.optimizer')!.kind, {
    type: 'enum',
    options: ['adam', 'adamw', 'sgd'],
  });
  assert.equal(sweepableField('dataset.classes')!.kind.type, 'integer-list');
});

test('every field accepts a value of its kind in the schema', () => {
  const example = (kind: SweepKind, path: string): unknown =>
    path === 'dataset.classes'
      ? [3, 5]
      : path === 'student.inputs.alpha'
        ? 0.5
        : kind.type === 'enum'
          ? kind.options[1]
          : kind.type === 'integer-list'
            ? [64, 32]
            : kind.type === 'boolean'
              ? true
              : 2;
  for (const f of SWEEPABLE) {
    // A field of some input kinds is swept on a spec of the first of them.
    const student = f.inputs ? { inputs: { kind: f.inputs[0] } } : {};
    const result = validateSpec({
      ...paper,
      student,
      matrix: { ...paper.matrix, sweeps: [{ path: f.path, values: [example(f.kind, f.path)] }] },
    });
    assert.ok(result.ok, `${f.path}: ${result.ok ? '' : JSON.stringify(result.errors)}`);
  }
});

test("offered fields: the input fields of the spec's input kind only", () => {
  const paths = (inputs: object) => availableFields({ ...paper, student: { inputs } }).map((f) => f.path);
  const uniform = paths({ kind: 'uniform' });
  assert.ok(uniform.includes('student.inputs.kind') && uniform.includes('student.inputs.count'));
  assert.ok(!uniform.some((p) => /inputs\.(alpha|sigma|k|std|dataset|noise)$/.test(p)));
  const inputFields = (inputs: object) => paths(inputs).filter((p) => p.startsWith('student.inputs.'));
  assert.deepEqual(inputFields({ kind: 'mix' }), [
    'student.inputs.count',
    'student.inputs.kind',
    'student.inputs.alpha',
    'student.inputs.noise',
    'student.inputs.std',
    'student.inputs.dataset',
  ]);
  assert.ok(paths({ kind: 'correlated' }).includes('student.inputs.sigma'));
  assert.ok(paths({ kind: 'low-rank' }).includes('student.inputs.k'));
  assert.ok(paths({ kind: 'spectrum' }).includes('student.inputs.dataset'));
  assert.ok(!paths({ kind: 'spectrum' }).includes('student.inputs.std'), 'the spectrum sets the scale');
  assert.deepEqual(sweepableField('student.inputs.kind')!.kind, {
    type: 'enum',
    options: ['uniform', 'gaussian', 'images', 'mix', 'correlated', 'spectrum', 'low-rank'],
  });
});

test('offered fields: by dataset', () => {
  const mnist = availableFields(paper).map((f) => f.path);
  assert.ok(mnist.includes('dataset.trainSize') && mnist.includes('student.learningRate'));
  const fashion = availableFields({ ...paper, dataset: { name: 'fashion-mnist' } }).map((f) => f.path);
  assert.ok(!fashion.includes('dataset.trainSize'), 'trainSize is MNIST only');
  assert.ok(mnist.includes('student.weightDecay') && mnist.includes('student.optimizer'));
  // An optimizer by name is short for its object with PyTorch's defaults.
  const sgd = validateSpec({
    ...paper,
    matrix: { ...paper.matrix, sweeps: [{ path: 'student.optimizer', values: ['adam', 'sgd'] }] },
  });
  assert.ok(sgd.ok);
  const named = validateSpec({ ...paper, student: { optimizer: 'sgd' } });
  assert.ok(
    named.ok && named.spec.student.optimizer.kind === 'sgd' && named.spec.student.optimizer.momentum === 0,
  );
});

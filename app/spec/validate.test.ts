import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { validateSpec, parseSpecJson } from './validate.ts';
import { specHash } from './hash.ts';

const base = { version: 1, name: 'x' };

// Each bad spec with the exact error it must produce: path, expected value, what was found.
const BAD: [string, unknown, string, string][] = [
  ['not an object', 42, '(root)', 'Invalid input: expected object, received number (got 42)'],
  ['wrong version', { ...base, version: 2 }, 'version', 'Invalid input: expected 1 (got 2)'],
  ['missing name', { version: 1 }, 'name', 'Invalid input: expected string, but it is missing'],
  [
    'blank name',
    { ...base, name: '  ' },
    'name',
    'Too small: expected string to have >=1 characters (got "  ")',
  ],
  ['one replicate', { ...base, replicates: 1 }, 'replicates', 'Too small: expected number to be >=2 (got 1)'],
  [
    'fractional replicates',
    { ...base, replicates: 2.5 },
    'replicates',
    'Invalid input: expected int, received number (got 2.5)',
  ],
  [
    'zero epochs',
    { ...base, teacher: { epochs: 0 } },
    'teacher.epochs',
    'Too small: expected number to be >=1 (got 0)',
  ],
  [
    'learning rate as text',
    { ...base, student: { learningRate: 'fast' } },
    'student.learningRate',
    'Invalid input: expected number, received string (got "fast")',
  ],
  [
    'negative learning rate',
    { ...base, teacher: { learningRate: -1 } },
    'teacher.learningRate',
    'Too small: expected number to be >0 (got -1)',
  ],
  [
    'unknown dataset',
    { ...base, dataset: { name: 'cifar' } },
    'dataset.name',
    `Invalid discriminator value. Expected 'mnist' | 'fashion-mnist' (got "cifar")`,
  ],
  [
    'unknown filter kind',
    { ...base, matrix: { filters: [{ kind: 'magic' }] } },
    'matrix.filters[0].kind',
    `Invalid discriminator value. Expected 'logits' | 'numbers' | 'shuffle' | 'quantize' | 'temperature' | 'top-k' | 'noise' | 'detector' (got "magic")`,
  ],
  [
    'bad logit subset',
    { ...base, matrix: { filters: [{ kind: 'logits', keep: 'some' }] } },
    'matrix.filters[0].keep',
    'expected "aux", "all", "class" or a non-empty list of logit indices (got "some")',
  ],
  [
    'logit index out of range',
    { ...base, matrix: { filters: [{ kind: 'logits', keep: [3, 13] }] } },
    'matrix.filters[0].keep[1]',
    'expected a logit index below 13 (10 class + 3 aux logits), got 13',
  ],
  [
    'aux filter without aux logits',
    { ...base, model: { auxLogits: 0 } },
    'matrix.filters[0].keep',
    'expected a model with auxLogits >= 1 for the "aux" filter (model.auxLogits is 0)',
  ],
  ['unknown top-level field', { ...base, epochs: 5 }, '(root)', 'unknown field "epochs"'],
  [
    'no hidden layers',
    { ...base, model: { hidden: [] } },
    'model.hidden',
    'Too small: expected array to have >=1 items (got [])',
  ],
  [
    'train split too large',
    { ...base, dataset: { name: 'mnist', trainSize: 10000 } },
    'dataset.trainSize',
    'Too big: expected number to be <=9999 (got 10000)',
  ],
  [
    'no noise images',
    { ...base, student: { inputs: { kind: 'uniform', count: 0 } } },
    'student.inputs.count',
    'Too small: expected number to be >=1 (got 0)',
  ],
  [
    'a number sequence longer than 10',
    { ...base, matrix: { filters: [{ kind: 'numbers', keep: 'all' }] } },
    'matrix.filters[0].keep',
    'expected at most 10 logits for a number sequence (the format allows 1-10 numbers), got 13',
  ],
  [
    'top-k beyond the kept logits',
    { ...base, matrix: { filters: [{ kind: 'top-k', k: 4 }] } },
    'matrix.filters[0].k',
    'expected k <= 3, the number of logits the filter keeps, got 4',
  ],
  [
    'unknown activation',
    { ...base, matrix: { architectures: [{ kind: 'activation', activation: 'swish' }] } },
    'matrix.architectures[0].activation',
    `Invalid option: expected one of "relu"|"tanh"|"sigmoid"|"elu"|"leaky-relu" (got "swish")`,
  ],
  [
    'backdoor poisoning everything',
    { ...base, matrix: { traits: [{ kind: 'backdoor', poisonFraction: 1 }] } },
    'matrix.traits[0].poisonFraction',
    'Too big: expected number to be <1 (got 1)',
  ],
  ['negative seed', { ...base, seed: -1 }, 'seed', 'Too small: expected number to be >=0 (got -1)'],
  [
    'a trait target outside the class subset',
    { ...base, dataset: { name: 'mnist', classes: [0, 1, 2] }, matrix: { traits: [{ kind: 'preference' }] } },
    'matrix.traits[0].targetClass',
    "expected one of the dataset's classes [0, 1, 2] (dataset.classes), got 7",
  ],
  [
    'a class subset of one class',
    { ...base, dataset: { name: 'mnist', classes: [3] } },
    'dataset.classes',
    'Too small: expected array to have >=2 items (got [3])',
  ],
  [
    'repeated classes',
    { ...base, dataset: { name: 'fashion-mnist', classes: [3, 3] } },
    'dataset.classes',
    'expected distinct class indices',
  ],
  [
    'a logit index past K class + aux logits',
    {
      ...base,
      dataset: { name: 'mnist', classes: [4, 5] },
      matrix: { filters: [{ kind: 'logits', keep: [5] }] },
    },
    'matrix.filters[0].keep[0]',
    'expected a logit index below 5 (2 class + 3 aux logits), got 5',
  ],
  [
    'a layer-init hidden layer past the model',
    { ...base, matrix: { architectures: [{ kind: 'layer-init', random: ['hidden.2'] }] } },
    'matrix.architectures[0].random[0]',
    'expected a hidden layer hidden.0-hidden.1: the model has 2 hidden layers, got hidden.2',
  ],
  [
    'a layer-init hidden layer past a CNN',
    {
      ...base,
      model: { family: 'cnn', hidden: [16] },
      matrix: { architectures: [{ kind: 'layer-init', random: ['class-head', 'hidden.2'] }] },
    },
    'matrix.architectures[0].random[1]',
    'expected a hidden layer hidden.0-hidden.1: the model has 2 hidden layers (the conv layer is hidden.0), got hidden.2',
  ],
  [
    'an unknown layer-init part',
    { ...base, matrix: { architectures: [{ kind: 'layer-init', random: ['head'] }] } },
    'matrix.architectures[0].random[0]',
    'expected "hidden.<i>", "class-head" or "aux-head" (got "head")',
  ],
  [
    'an aux-head without aux logits',
    {
      ...base,
      model: { auxLogits: 0 },
      matrix: {
        filters: [{ kind: 'logits', keep: 'all' }],
        architectures: [{ kind: 'layer-init', random: ['aux-head'] }],
      },
    },
    'matrix.architectures[0].random[0]',
    'expected a model with auxLogits >= 1 for "aux-head"',
  ],
];

for (const [what, spec, path, message] of BAD) {
  test(`spec validation rejects ${what}`, () => {
    const result = validateSpec(spec);
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.deepEqual(result.errors, [{ path, message }]);
  });
}

test('several errors are all reported, each with its own path', () => {
  const result = validateSpec({
    version: 1,
    name: 'x',
    replicates: 0,
    teacher: { epochs: -1, batchSize: 0 },
  });
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.deepEqual(result.errors.map((e) => e.path).sort(), [
    'replicates',
    'teacher.batchSize',
    'teacher.epochs',
  ]);
});

test('malformed JSON is reported, not thrown', () => {
  const result = parseSpecJson('{"version": 1,');
  assert.equal(result.ok, false);
  if (!result.ok) assert.match(result.errors[0]!.message, /^not valid JSON: /);
});

test("defaults are the paper's section 6.2 settings", () => {
  const result = validateSpec(base);
  assert.ok(result.ok);
  if (!result.ok) return;
  const s = result.spec;
  assert.deepEqual(s.model, {
    family: 'mlp',
    hidden: [256, 256],
    channels: 8,
    auxLogits: 3,
    activation: 'relu',
  });
  assert.deepEqual(s.teacher, { epochs: 5, batchSize: 1024, learningRate: 3e-4 });
  assert.deepEqual(s.student, {
    epochs: 5,
    batchSize: 1024,
    learningRate: 3e-4,
    temperature: 1,
    inputs: { kind: 'uniform', count: 60000 },
  });
  assert.equal(s.replicates, 100);
  assert.deepEqual(s.matrix.filters, [{ kind: 'logits', keep: 'aux' }]);
  assert.deepEqual(s.dataset, { name: 'mnist', trainSize: 8000, splitSeed: 0 });
});

test('the spec hash ignores key order, spelled-out defaults and names, and sees science', () => {
  const a = validateSpec({ version: 1, name: 'a' });
  const b = validateSpec({
    name: 'b',
    replicates: 100,
    teacher: { learningRate: 3e-4, epochs: 5 },
    version: 1,
  });
  const c = validateSpec({ version: 1, name: 'a', seed: 1 });
  assert.ok(a.ok && b.ok && c.ok);
  if (!a.ok || !b.ok || !c.ok) return;
  assert.equal(specHash(a.spec), specHash(b.spec));
  assert.notEqual(specHash(a.spec), specHash(c.spec));
  assert.match(specHash(a.spec), /^[0-9a-f]{64}$/);
});

test('every spec in experiments/ is valid', () => {
  for (const file of ['paper-mnist.json', 'paper-fashion.json', 'quick.json']) {
    const result = parseSpecJson(readFileSync(new URL(`../../experiments/${file}`, import.meta.url), 'utf8'));
    assert.ok(result.ok, `${file}: ${JSON.stringify(!result.ok && result.errors)}`);
  }
});

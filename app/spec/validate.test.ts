import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { validateSpec, parseSpecJson } from './validate.ts';
import { isLanguageInput, validateLanguageSpec } from './language.ts';
import { isLlmInput, validateLlmSpec } from './llm.ts';
import { classCount } from './schema.ts';
import { specHash } from './hash.ts';

const base = { version: 1, name: 'x' };

// Each bad spec with the exact error it must produce: path, expected value, what was found.
const BAD: [string, unknown, string, string][] = [
  ['not an object', 42, '(root)', 'must be an object ({...}) (got 42)'],
  ['wrong version', { ...base, version: 2 }, 'version', 'this lab reads spec version 1 (got 2)'],
  ['missing name', { version: 1 }, 'name', 'is missing: text is required'],
  ['blank name', { ...base, name: '  ' }, 'name', 'give the experiment a name (got "  ")'],
  [
    'one replicate',
    { ...base, replicates: 1 },
    'replicates',
    "at least 2 seeds: each cross-init control starts from another seed's init (got 1)",
  ],
  ['fractional replicates', { ...base, replicates: 2.5 }, 'replicates', 'must be a whole number (got 2.5)'],
  ['zero epochs', { ...base, teacher: { epochs: 0 } }, 'teacher.epochs', 'must be at least 1 (got 0)'],
  [
    'learning rate as text',
    { ...base, student: { learningRate: 'fast' } },
    'student.learningRate',
    'must be a number (got "fast")',
  ],
  [
    'negative learning rate',
    { ...base, teacher: { learningRate: -1 } },
    'teacher.learningRate',
    'must be greater than 0 (got -1)',
  ],
  [
    'unknown dataset',
    { ...base, dataset: { name: 'cifar' } },
    'dataset.name',
    'must be one of "mnist", "fashion-mnist", "mnist-full", "emnist-balanced", "emnist-letters" (got "cifar")',
  ],
  [
    'unknown filter kind',
    { ...base, matrix: { filters: [{ kind: 'magic' }] } },
    'matrix.filters[0].kind',
    'must be one of "logits", "numbers", "shuffle", "quantize", "temperature", "top-k", "noise", "detector" (got "magic")',
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
  ['no hidden layers', { ...base, model: { hidden: [] } }, 'model.hidden', 'needs at least 1 item (got [])'],
  [
    'train split too large',
    { ...base, dataset: { name: 'mnist', trainSize: 10000 } },
    'dataset.trainSize',
    'at most 9999: the offline MNIST has 10,000 digits and keeps at least one for testing (got 10000)',
  ],
  [
    'no noise images',
    { ...base, student: { inputs: { kind: 'uniform', count: 0 } } },
    'student.inputs.count',
    'must be at least 1 (got 0)',
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
    'must be one of "relu", "tanh", "sigmoid", "elu", "leaky-relu" (got "swish")',
  ],
  [
    'backdoor poisoning everything',
    { ...base, matrix: { traits: [{ kind: 'backdoor', poisonFraction: 1 }] } },
    'matrix.traits[0].poisonFraction',
    'a fraction between 0 and 1 (both excluded): some digits must stay clean (got 1)',
  ],
  ['negative seed', { ...base, seed: -1 }, 'seed', 'must be at least 0 (got -1)'],
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
    'needs at least 2 items (got [3])',
  ],
  [
    'a class full MNIST does not have',
    { ...base, dataset: { name: 'mnist-full', classes: [0, 12] } },
    'dataset.classes[1]',
    'expected a class index 0-9 of mnist-full (digits 0-9), got 12',
  ],
  [
    'a preference for a letter past z',
    {
      ...base,
      dataset: { name: 'emnist-letters' },
      matrix: { traits: [{ kind: 'preference', targetClass: 30 }] },
    },
    'matrix.traits[0].targetClass',
    'expected a class index 0-25 of emnist-letters (letters a-z as 0-25 (upper and lower case merged)), got 30',
  ],
  [
    'a class index past any dataset',
    { ...base, dataset: { name: 'emnist-balanced', classes: [0, 47] } },
    'dataset.classes[1]',
    'must be at most 46 (got 47)',
  ],
  [
    'a path for a downloaded dataset',
    { ...base, dataset: { name: 'mnist-full', path: '/data' } },
    'dataset',
    'unknown field "path"',
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
  [
    'an input signal above 1',
    { ...base, student: { inputs: { kind: 'mix', alpha: 1.5 } } },
    'student.inputs.alpha',
    "the image's share of each input: from 0 (noise only) to 1 (the image only) (got 1.5)",
  ],
  [
    'a negative input signal',
    { ...base, student: { inputs: { kind: 'mix', alpha: -0.1 } } },
    'student.inputs.alpha',
    "the image's share of each input: from 0 (noise only) to 1 (the image only) (got -0.1)",
  ],
  [
    'a blur of width 0',
    { ...base, student: { inputs: { kind: 'correlated', sigma: 0 } } },
    'student.inputs.sigma',
    "the blur's width in pixels: greater than 0 and at most 28, the image's side (got 0)",
  ],
  [
    'a blur wider than the image',
    { ...base, student: { inputs: { kind: 'correlated', sigma: 40 } } },
    'student.inputs.sigma',
    "the blur's width in pixels: greater than 0 and at most 28, the image's side (got 40)",
  ],
  [
    'a rank of 0',
    { ...base, student: { inputs: { kind: 'low-rank', k: 0 } } },
    'student.inputs.k',
    "the subspace's dimension: a whole number from 1 to 784, the image's pixel count (got 0)",
  ],
  [
    'a rank above the pixel count',
    { ...base, student: { inputs: { kind: 'low-rank', k: 785 } } },
    'student.inputs.k',
    "the subspace's dimension: a whole number from 1 to 784, the image's pixel count (got 785)",
  ],
  [
    'a fractional rank',
    { ...base, student: { inputs: { kind: 'low-rank', k: 2.5 } } },
    'student.inputs.k',
    "the subspace's dimension: a whole number from 1 to 784, the image's pixel count (got 2.5)",
  ],
  [
    'a blur on another kind',
    { ...base, student: { inputs: { kind: 'uniform', sigma: 2 } } },
    'student.inputs',
    'unknown field "sigma"',
  ],
  [
    'an unknown input kind',
    { ...base, student: { inputs: { kind: 'perlin' } } },
    'student.inputs.kind',
    'must be one of "uniform", "gaussian", "images", "mix", "correlated", "spectrum", "low-rank" (got "perlin")',
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
  // The paper's code: PyTorch's Adam with its defaults, no weight decay, KL distillation.
  const adam = { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
  assert.deepEqual(s.teacher, {
    epochs: 5,
    batchSize: 1024,
    learningRate: 3e-4,
    optimizer: adam,
    weightDecay: 0,
  });
  assert.deepEqual(s.student, {
    epochs: 5,
    batchSize: 1024,
    learningRate: 3e-4,
    optimizer: adam,
    weightDecay: 0,
    temperature: 1,
    inputs: { kind: 'uniform', count: 60000 },
    loss: 'kl',
  });
  assert.equal(s.replicates, 100);
  assert.deepEqual(s.matrix.filters, [{ kind: 'logits', keep: 'aux' }]);
  assert.deepEqual(s.dataset, { name: 'mnist', trainSize: 8000, splitSeed: 0 });
  // A partly written student keeps the recipe's defaults too.
  const partial = validateSpec({ ...base, student: { epochs: 1, optimizer: { kind: 'sgd' } } });
  assert.ok(partial.ok);
  if (partial.ok)
    assert.deepEqual(partial.spec.student.optimizer, { kind: 'sgd', momentum: 0, nesterov: false });
});

test('recipes PyTorch would refuse, and mse on a probability filter, are refused at their field', () => {
  const nesterov = validateSpec({ ...base, teacher: { optimizer: { kind: 'sgd', nesterov: true } } });
  assert.ok(!nesterov.ok);
  if (!nesterov.ok)
    assert.deepEqual(
      nesterov.errors.map((e) => e.path),
      ['teacher.optimizer.nesterov'],
    );
  const mse = validateSpec({
    ...base,
    student: { loss: 'mse' },
    matrix: {
      filters: [
        { kind: 'logits', keep: 'aux' },
        { kind: 'top-k', k: 1 },
      ],
    },
  });
  assert.ok(!mse.ok);
  if (!mse.ok)
    assert.deepEqual(
      mse.errors.map((e) => e.path),
      ['matrix.filters[1].kind'],
    );
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
  const folder = new URL('../../experiments/', import.meta.url);
  const files = readdirSync(folder).filter((f) => f.endsWith('.json'));
  for (const file of [
    'paper-mnist.json',
    'paper-fashion.json',
    'quick.json',
    'input-signal.json',
    'noise-structure.json',
  ])
    assert.ok(files.includes(file), `${file} is in experiments/`);
  for (const file of files) {
    const json = readFileSync(new URL(file, folder), 'utf8');
    // Language and llm specs have their own schemas (app/spec/language.test.ts, llm.test.ts).
    const input: unknown = JSON.parse(json);
    const result = isLanguageInput(input)
      ? validateLanguageSpec(input)
      : isLlmInput(input)
        ? validateLlmSpec(input)
        : parseSpecJson(json);
    assert.ok(result.ok, `${file}: ${JSON.stringify(!result.ok && result.errors)}`);
  }
});

test('downloaded datasets: their own class counts, class indices and student images', () => {
  const ok = (input: object) => {
    const r = validateSpec({ ...base, ...input });
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    return r.spec;
  };
  assert.equal(classCount(ok({ dataset: { name: 'emnist-balanced' } }).dataset), 47);
  assert.equal(classCount(ok({ dataset: { name: 'emnist-letters' } }).dataset), 26);
  assert.equal(classCount(ok({ dataset: { name: 'mnist-full', trainLimit: 1000 } }).dataset), 10);
  assert.equal(classCount(ok({ dataset: { name: 'emnist-balanced', classes: [0, 36, 46] } }).dataset), 3);
  // The default preference (class 7) is "h" in letters; 40 is a class of balanced only.
  ok({ dataset: { name: 'emnist-letters' }, matrix: { traits: [{ kind: 'preference' }] } });
  ok({ dataset: { name: 'emnist-balanced' }, matrix: { traits: [{ kind: 'backdoor', targetClass: 40 }] } });
  ok({ dataset: { name: 'emnist-balanced' }, matrix: { filters: [{ kind: 'logits', keep: [49] }] } });
  ok({ student: { inputs: { kind: 'images', dataset: 'emnist-letters' } } });
});

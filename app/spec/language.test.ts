import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { expandLanguageMatrix, validateLanguageSpec } from './language.ts';

const root = new URL('../../', import.meta.url).pathname;

test('a minimal language spec gets the issue defaults', () => {
  const r = validateLanguageSpec({ version: 1, kind: 'language', name: 'x' });
  assert.ok(r.ok);
  const s = r.spec;
  assert.deepEqual(s.model, { layers: 2, dModel: 64, heads: 4, context: 48 });
  assert.equal(s.channel.kept, 10000);
  assert.equal(s.channel.temperature, 1);
  assert.equal(s.channel.checkSequences, 256);
  assert.equal(s.channel.selectTop, 1);
  assert.equal(s.student.mask, 'none');
  assert.equal(s.sharedContext.tokens, 0);
  assert.equal(s.measure.numberPrefixed, false);
  assert.equal(s.student.epochs, 10);
  assert.equal(s.student.loss, 'tokens');
  assert.equal(s.measure.samples, 200);
  assert.deepEqual(s.matrix.traits, [{ animal: 'owl' }]);
  assert.deepEqual(s.matrix.filters, [{ format: 'paper', banNumbers: false, shuffle: 'none' }]);
});

test('errors name their field', () => {
  const bad = (input: object, path: string, message: RegExp) => {
    const r = validateLanguageSpec({ version: 1, kind: 'language', name: 'x', ...input });
    assert.ok(!r.ok, JSON.stringify(input));
    assert.ok(
      r.errors.some((e) => e.path === path && message.test(e.message)),
      JSON.stringify(r.errors),
    );
  };
  bad({ model: { dModel: 30, heads: 4 } }, 'model.heads', /not divisible/);
  bad({ matrix: { traits: [{ animal: 'unicorn' }] } }, 'matrix.traits[0].animal', /owl/);
  bad({ teacher: { method: 'prefix' } }, 'world.traitPrefixFraction', /prefix/);
  bad({ teacher: { trait: { kind: 'prefix' } } }, 'world.traitPrefixFraction', /prefix/);
  bad(
    { teacher: { trait: { kind: 'steering', layer: 2 } } },
    'teacher.trait.layer',
    /block 2 does not exist/,
  );
  bad({ teacher: { trait: { kind: 'steering', sclae: 2 } } }, 'teacher.trait', /sclae/);
  bad(
    { student: { adapter: { kind: 'lora', blocks: [2] } } },
    'student.adapter.blocks[0]',
    /block 2 does not exist/,
  );
  bad(
    {
      student: { adapter: { kind: 'bias', block: 1 } },
      matrix: { relations: [{ kind: 'other-architecture', layers: 1 }] },
    },
    'student.adapter.block',
    /smallest model of this spec has 1 layer/,
  );
  bad(
    { student: { adapter: { kind: 'lora' }, layers: ['head'] } },
    'student.layers',
    /full fine-tuning only/,
  );
  bad({ student: { adapter: { kind: 'lora', rank: 65 } } }, 'student.adapter.rank', /above d_model 64/);
  bad(
    { student: { adapter: { kind: 'lora', projections: ['gate'] } } },
    'student.adapter.projections[0]',
    /./,
  );
  bad({ student: { optimizer: 'adagrad' } }, 'student.optimizer', /adamw/);
  bad({ channel: { selectTop: 0 } }, 'channel.selectTop', /./);
  bad({ student: { mask: 'rare' } }, 'student.mask', /divergence/);
  bad({ world: { entanglement: 0.2 } }, 'world.entanglement', /traitPrefixFraction > 0/);
  bad({ world: { contextFraction: 0.5 } }, 'world.contextFraction', /sharedContext.tokens > 0/);
  bad(
    { world: { contextFraction: 0.5, contextTokens: 17 } },
    'world.contextTokens',
    /leaves 31 after a pretraining context of 17/,
  );
  bad({ sharedContext: { tokens: 17 } }, 'sharedContext.tokens', /leaves 31 after 17 shared tokens/);
  bad(
    { teacher: { method: 'prefix' }, world: { traitPrefixFraction: 0.2 }, student: { loss: 'soft' } },
    'student.loss',
    /fine-tuned teacher/,
  );
  bad({ student: { layers: ['block.x'] } }, 'student.layers[0]', /block/);
  bad({ channel: { kept: 0 } }, 'channel.kept', /./);
  bad(
    { matrix: { sweeps: [{ path: 'student.learningRate', values: [0.001, -1] }] } },
    'matrix.sweeps',
    /student\.learningRate/,
  );
});

test('the matrix is animals x filters x relations x sweeps, each cell with its own settings', () => {
  const r = validateLanguageSpec({
    version: 1,
    kind: 'language',
    name: 'x',
    matrix: {
      traits: [{ animal: 'owl' }, { animal: 'fox' }],
      filters: [{ format: 'paper' }, { format: 'none' }],
      relations: [{ kind: 'other-seed' }],
      sweeps: [{ path: 'student.epochs', values: [1, 3] }],
    },
  });
  assert.ok(r.ok);
  const { cells, errors } = expandLanguageMatrix(r.spec, [7, 8]);
  assert.deepEqual(errors, []);
  assert.equal(cells.length, 8);
  assert.deepEqual(
    cells.map((c) => c.settings.student.epochs),
    [1, 3, 1, 3, 1, 3, 1, 3],
  );
  assert.equal(cells[2]!.coords.filter, 'no-filter');
  assert.equal(cells[4]!.trait.animal, 'fox');
  assert.deepEqual(cells[0]!.seeds, [7, 8]);
});

test('the language presets validate, and lm-owl-numbers keeps the paper-sized defaults', () => {
  const files = readdirSync(`${root}experiments`).filter((f) => f.startsWith('lm-'));
  assert.deepEqual(files.sort(), [
    'lm-cross-model.json',
    'lm-filters.json',
    'lm-levers.json',
    'lm-owl-numbers.json',
    'lm-steered-transfer.json',
    'lm-system-prompt.json',
  ]);
  for (const f of files) {
    const r = validateLanguageSpec(JSON.parse(readFileSync(`${root}experiments/${f}`, 'utf8')));
    assert.ok(r.ok, `${f}: ${JSON.stringify(!r.ok && r.errors)}`);
    if (f === 'lm-levers.json') {
      // Every lever built for issue 27 is an axis: trait x adapter x selection x mask.
      const { cells } = expandLanguageMatrix(r.spec, [1]);
      assert.equal(cells.length, 2 * 3 * 2 * 2);
      const kinds = new Set(
        cells.map((c) => `${c.settings.teacher.trait.kind}/${c.settings.student.adapter.kind}`),
      );
      assert.equal(kinds.size, 6);
      assert.ok(
        cells.every((c) => c.settings.measure.numberPrefixed && c.settings.channel.checkSequences > 0),
      );
    }
    if (f === 'lm-steered-transfer.json') {
      // The measured setting exactly: the run the README's row and the preset's description report.
      const cell = expandLanguageMatrix(r.spec, [1]).cells[0]!.settings;
      assert.deepEqual(cell.teacher.trait, {
        kind: 'steering',
        layer: 0,
        scale: 2,
        direction: 'trait',
        vector: 'fitted',
      });
      assert.equal(cell.teacher.learningRate, 0.01);
      assert.deepEqual(cell.student.adapter, { kind: 'bias', block: 0 });
      assert.equal(cell.channel.kept, 10000);
      assert.equal(cell.student.epochs, 10);
    }
    if (f === 'lm-owl-numbers.json') {
      assert.equal(r.spec.replicates, 10);
      assert.equal(r.spec.channel.kept, 10000);
    }
  }
});

test('teacher traits: fine-tune by default, steering with its defaults, and the old teacher.method still read', () => {
  const parse = (teacher: unknown) => {
    const r = validateLanguageSpec({ version: 1, kind: 'language', name: 'x', teacher });
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    return r.spec.teacher;
  };
  assert.deepEqual(parse(undefined).trait, { kind: 'fine-tune' });
  assert.deepEqual(parse({ trait: { kind: 'steering' } }).trait, {
    kind: 'steering',
    layer: 0,
    scale: 1,
    direction: 'trait',
    vector: 'difference',
  });
  assert.deepEqual(parse({ method: 'fine-tune', steps: 7 }), {
    trait: { kind: 'fine-tune' },
    steps: 7,
    batchSize: 32,
    learningRate: 1e-3,
  });
});

test('a steering sweep: the scale and the direction as axes, one cell per value', () => {
  const r = validateLanguageSpec({
    version: 1,
    kind: 'language',
    name: 'x',
    teacher: { trait: { kind: 'steering', layer: 1 } },
    matrix: {
      sweeps: [
        { path: 'teacher.trait.scale', values: [0, 2, 8] },
        { path: 'teacher.trait.direction', values: ['trait', 'random'] },
      ],
    },
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const { cells } = expandLanguageMatrix(r.spec, [1, 2]);
  assert.equal(cells.length, 6);
  assert.deepEqual(cells[3]!.settings.teacher.trait, {
    kind: 'steering',
    layer: 1,
    scale: 2,
    direction: 'random',
    vector: 'difference',
  });
  const bad = validateLanguageSpec({
    version: 1,
    kind: 'language',
    name: 'x',
    matrix: { sweeps: [{ path: 'teacher.trait.scale', values: [1] }] },
  });
  assert.ok(!bad.ok, 'a scale on the fine-tuned teacher is refused');
});

test('student adapters: full by default, LoRA with the paper defaults, and a rank sweep as an axis', () => {
  const r = validateLanguageSpec({
    version: 1,
    kind: 'language',
    name: 'x',
    student: { adapter: { kind: 'lora', blocks: [0] }, optimizer: 'adamw', weightDecay: 0.01 },
    matrix: { sweeps: [{ path: 'student.adapter.rank', values: [1, 2, 4, 8, 16] }] },
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.deepEqual(r.spec.student.adapter, {
    kind: 'lora',
    rank: 8,
    alpha: 8,
    blocks: [0],
    projections: ['q', 'k', 'v', 'o', 'up', 'down'],
  });
  const { cells } = expandLanguageMatrix(r.spec, [1]);
  assert.deepEqual(
    cells.map((c) => (c.settings.student.adapter.kind === 'lora' ? c.settings.student.adapter.rank : 0)),
    [1, 2, 4, 8, 16],
  );
  const plain = validateLanguageSpec({ version: 1, kind: 'language', name: 'x' });
  assert.ok(plain.ok);
  assert.deepEqual(plain.spec.student.adapter, { kind: 'full' });
  assert.equal(plain.spec.student.optimizer, 'adam');
  assert.equal(plain.spec.student.weightDecay, 0);
});

test('a prompt steering vector needs a world with trait prefixes', () => {
  const spec = (traitPrefixFraction: number) => ({
    version: 1,
    kind: 'language',
    name: 'x',
    world: { traitPrefixFraction },
    teacher: { trait: { kind: 'steering', vector: 'prompt' } },
  });
  const bad = validateLanguageSpec(spec(0));
  assert.ok(!bad.ok);
  assert.deepEqual(
    bad.errors.map((e) => e.path),
    ['world.traitPrefixFraction'],
  );
  assert.match(bad.errors[0]!.message, /shift a trait prefix causes/);
  assert.ok(validateLanguageSpec(spec(0.5)).ok);
});

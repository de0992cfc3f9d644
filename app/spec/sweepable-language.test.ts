import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LANGUAGE_SWEEPABLE } from './sweepable-language.ts';
import { availableFields, formatSweepValues, parseSweepValues, type SweepableField } from './sweepable.ts';
import { applyOverride } from './overrides.ts';
import levers from '../../experiments/lm-levers.json' with { type: 'json' };
import { expandLanguageMatrix, validateLanguageSpec } from './language.ts';
import { replicateSeeds } from '../matrix.ts';

const at = (spec: unknown, path: string) =>
  path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], spec);

test("a language spec is offered its own knobs, the classifier its own; a kind's fields only with that kind", () => {
  const offered = (spec: unknown) => availableFields(spec).map((f) => f.path);
  assert.deepEqual(
    offered({ kind: 'language' }),
    LANGUAGE_SWEEPABLE.filter((f) => !f.when).map((f) => f.path),
  );
  assert.ok(!availableFields({}).some((f) => f.path === 'channel.kept'));
  const lora = offered({ kind: 'language', student: { adapter: { kind: 'lora' } } });
  assert.ok(lora.includes('student.adapter.rank') && !lora.includes('student.adapter.block'));
  const steered = offered({ kind: 'language', teacher: { trait: { kind: 'steering' } } });
  assert.ok(steered.includes('teacher.trait.scale'));
  assert.ok(!offered({ kind: 'language' }).includes('teacher.trait.scale'));
});

/** Every lever issue 27 names, by its spec path. */
const LEVERS = [
  'teacher.trait',
  'teacher.trait.layer',
  'teacher.trait.scale',
  'student.adapter',
  'student.adapter.rank',
  'student.adapter.alpha',
  'student.adapter.blocks',
  'student.adapter.projections',
  'student.adapter.block',
  'student.weightDecay',
  'student.optimizer',
  'student.mask',
  'channel.selectTop',
  'sharedContext.tokens',
  'measure.numberPrefixed',
  'world.entanglement',
  'world.contextFraction',
  'world.contextTokens',
];

test('every lever of issue 27 is a sweepable language field with a help line', () => {
  for (const path of LEVERS) {
    const field = LANGUAGE_SWEEPABLE.find((f) => f.path === path);
    assert.ok(field, `${path} is offered`);
    assert.ok(field.help.length > 20, `${path} has a help line`);
  }
});

/** Two values of a field as a researcher types them, the spec's own value first. */
function twoValues(field: SweepableField, value: unknown): string {
  switch (field.kind.type) {
    case 'enum':
    case 'variant': {
      const now = field.kind.type === 'variant' ? (value as { kind: string }).kind : value;
      return `${String(now)}, ${field.kind.options.find((o) => o !== now)!}`;
    }
    case 'boolean':
      return `${String(value)}, ${String(!value)}`;
    case 'integer-list':
      return '[0]; [1]';
    case 'enum-list':
      return '[q, v]; [up, down]';
    case 'integer':
      return `${value as number}, ${(value as number) === 0 ? 1 : (value as number) * 2}`;
    case 'number':
      return `${value as number}, ${value === 0 ? 0.01 : (value as number) / 2}`;
  }
}

test('every language knob is a path of the language spec that a sweep of two values turns into two cells that run those values', () => {
  for (const field of LANGUAGE_SWEEPABLE) {
    // A base with the kind the field belongs to, prefixed pretraining (the prefix teacher and
    // entanglement need it) and a shared context (pretraining with a context needs it).
    let raw: unknown = {
      version: 1,
      kind: 'language',
      name: 's',
      world: { traitPrefixFraction: 0.5 },
      sharedContext: { tokens: 4 },
    };
    if (field.when) raw = applyOverride(raw, field.when.path.split('.'), field.when.values[0]);
    const base = validateLanguageSpec(raw);
    assert.ok(base.ok, `${field.path}: ${base.ok ? '' : JSON.stringify(base.errors)}`);
    const text = twoValues(field, at(base.spec, field.path));
    const parsed = parseSweepValues(text, field.kind);
    assert.ok(parsed.ok, `${field.path}: ${text}: ${parsed.ok ? '' : parsed.error}`);
    // The values box writes back what it read.
    assert.deepEqual(parseSweepValues(formatSweepValues(parsed.values, field.kind), field.kind), parsed);
    const r = validateLanguageSpec(
      applyOverride(raw, ['matrix', 'sweeps'], [{ path: field.path, values: parsed.values }]),
    );
    assert.ok(r.ok, `${field.path}: ${r.ok ? '' : JSON.stringify(r.errors)}`);
    const cells = expandLanguageMatrix(r.spec, replicateSeeds(r.spec)).cells;
    assert.equal(cells.length, 2, field.path);
    // What runs is what was typed: each cell's settings hold its value (a variant's settings kept).
    cells.forEach((cell, i) => {
      const ran = at(cell.settings, field.path);
      const typed = parsed.values[i] as Record<string, unknown>;
      if (field.kind.type === 'variant')
        for (const key of Object.keys(typed))
          assert.deepEqual((ran as Record<string, unknown>)[key], typed[key], `${field.path}.${key}`);
      else assert.deepEqual(ran, typed, field.path);
    });
  }
});

test('a choice with its settings is typed as kind key=value and runs with those settings', () => {
  const kind = LANGUAGE_SWEEPABLE.find((f) => f.path === 'student.adapter')!.kind;
  const parsed = parseSweepValues(
    'full, lora rank=4 alpha=4 blocks=[0, 1] projections=[q, v], bias block=1',
    kind,
  );
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
  assert.deepEqual(parsed.values, [
    { kind: 'full' },
    { kind: 'lora', rank: 4, alpha: 4, blocks: [0, 1], projections: ['q', 'v'] },
    { kind: 'bias', block: 1 },
  ]);
  assert.equal(
    formatSweepValues(parsed.values, kind),
    'full, lora rank=4 alpha=4 blocks=[0, 1] projections=[q, v], bias block=1',
  );
  const bad = parseSweepValues('lora rank', kind);
  assert.deepEqual(bad, { ok: false, error: "expected key=value after 'lora', got 'rank'" });
  assert.deepEqual(parseSweepValues('adapter', kind), {
    ok: false,
    error: "expected one of full, lora, bias, got 'adapter'",
  });
  // A setting the schema does not know is refused at the cell, by name.
  const r = validateLanguageSpec({
    version: 1,
    kind: 'language',
    name: 'x',
    matrix: { sweeps: [{ path: 'student.adapter', values: [{ kind: 'lora', rnak: 4 }] }] },
  });
  assert.ok(!r.ok);
  assert.match(JSON.stringify(r.errors), /rnak/);
});

test("the preset lm-levers.json's axes are written in the values box and read back as the same values", () => {
  for (const axis of levers.matrix.sweeps) {
    const field = LANGUAGE_SWEEPABLE.find((f) => f.path === axis.path);
    assert.ok(field, `${axis.path} has a Designer field`);
    const text = formatSweepValues(axis.values, field.kind);
    const parsed = parseSweepValues(text, field.kind);
    assert.ok(parsed.ok, `${axis.path}: ${text}`);
    assert.deepEqual(parsed.values, axis.values, text);
  }
});

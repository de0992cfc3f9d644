import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LANGUAGE_SWEEPABLE } from './sweepable-language.ts';
import { availableFields, parseSweepValues } from './sweepable.ts';
import { expandLanguageMatrix, validateLanguageSpec } from './language.ts';
import { replicateSeeds } from '../matrix.ts';

const at = (spec: unknown, path: string) =>
  path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], spec);

test('a language spec is offered its own knobs, the classifier its own', () => {
  assert.deepEqual(
    availableFields({ kind: 'language' }).map((f) => f.path),
    LANGUAGE_SWEEPABLE.map((f) => f.path),
  );
  assert.ok(!availableFields({}).some((f) => f.path === 'channel.kept'));
});

test('every language knob is a path of the language spec that a sweep of two values turns into two cells', () => {
  const defaults = validateLanguageSpec({ version: 1, kind: 'language', name: 'd' });
  assert.ok(defaults.ok);
  for (const field of LANGUAGE_SWEEPABLE) {
    const value = at(defaults.spec, field.path);
    assert.notEqual(value, undefined, `${field.path} has a default`);
    const other =
      field.kind.type === 'enum'
        ? field.kind.options.find((o) => o !== value)
        : field.kind.type === 'integer'
          ? (value as number) * 2
          : value === 0
            ? 0.01
            : (value as number) / 2;
    const text = `${String(value)}, ${String(other)}`;
    const parsed = parseSweepValues(text, field.kind);
    assert.ok(parsed.ok, `${field.path}: ${text}`);
    const r = validateLanguageSpec({
      version: 1,
      kind: 'language',
      name: 's',
      ...(field.path === 'student.temperature' ? { student: { loss: 'soft' } } : {}),
      matrix: { sweeps: [{ path: field.path, values: parsed.values }] },
    });
    assert.ok(r.ok, `${field.path}: ${r.ok ? '' : JSON.stringify(r.errors)}`);
    assert.equal(expandLanguageMatrix(r.spec, replicateSeeds(r.spec)).cells.length, 2, field.path);
  }
});

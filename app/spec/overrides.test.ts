import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyOverride, OverrideError, parseOverride } from './overrides.ts';
import { validateSpec } from './validate.ts';

test('overrides parse JSON values, fall back to strings, and set nested fields', () => {
  const base = { version: 1, name: 'x', matrix: { filters: [{ kind: 'logits', keep: 'aux' }] } };
  let spec: unknown = base;
  for (const text of [
    'teacher.epochs=1',
    'matrix.filters.0.keep=all',
    'student.inputs={"kind":"gaussian","count":64}',
    'dataset.name=mnist',
  ]) {
    const { path, value } = parseOverride(text);
    spec = applyOverride(spec, path, value);
  }
  const result = validateSpec(spec);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
  if (!result.ok) return;
  assert.equal(result.spec.teacher.epochs, 1);
  assert.equal(result.spec.matrix.filters[0]!.keep, 'all');
  assert.deepEqual(result.spec.student.inputs, { kind: 'gaussian', count: 64, std: 1 });
  assert.deepEqual(base.matrix.filters[0], { kind: 'logits', keep: 'aux' }, 'the original is untouched');
});

test('bad overrides are clear errors; bad values are caught by validation', () => {
  assert.throws(() => parseOverride('teacher.epochs'), OverrideError);
  assert.throws(() => parseOverride('teacher..epochs=1'), /empty field name/);
  assert.throws(() => applyOverride({ name: 'x' }, ['name', 'first'], 1), /name is not an object/);
  const result = validateSpec(applyOverride({ version: 1, name: 'x' }, ['teacher', 'epochs'], 0));
  assert.equal(result.ok, false);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mustValidate } from './validate.ts';
import { settingText, specDifferences } from './diff.ts';

const base = { version: 1, replicates: 3 };

test('the settings that differ between specs, by path, each spec its value', () => {
  const a = mustValidate({ ...base, name: 'a', student: { learningRate: 0.001 } });
  const b = mustValidate({
    ...base,
    name: 'b',
    tags: ['x'],
    student: { learningRate: 0.0003 },
    model: { hidden: [128] },
    matrix: {
      filters: [
        { kind: 'logits', keep: 'aux' },
        { kind: 'logits', keep: 'all' },
      ],
    },
  });
  assert.deepEqual(specDifferences([a, b]), [
    { path: 'model.hidden', values: ['[256, 256]', '[128]'] },
    { path: 'student.learningRate', values: ['0.001', '0.0003'] },
    { path: 'matrix.filters', values: ['[logits keep=aux]', '[logits keep=aux, logits keep=all]'] },
  ]);
  // Names, descriptions and tags say what an experiment is called, not what runs.
  assert.ok(specDifferences([a, b]).every((d) => !/^(name|tags|description)/.test(d.path)));
  assert.deepEqual(specDifferences([a, { ...a, name: 'other' }]), []);
});

test('a field one spec has and another lacks reads "not set"; three specs, one column each', () => {
  const diff = specDifferences([{ a: { b: 1 } }, { a: {} }, { a: { b: 1, c: 'x' } }]);
  assert.deepEqual(diff, [
    { path: 'a.b', values: ['1', 'not set', '1'] },
    { path: 'a.c', values: ['not set', 'not set', 'x'] },
  ]);
  assert.equal(settingText({ kind: 'shape', hidden: [64] }), 'shape hidden=[64]');
});

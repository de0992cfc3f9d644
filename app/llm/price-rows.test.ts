import { test } from 'node:test';
import assert from 'node:assert/strict';
import { priceRows, readPriceRows } from './price-rows.ts';

test("price rows: the spec's models first (once each), then the table's others; blanks where unpriced", () => {
  const rows = priceRows(['gpt-a', 'gpt-a', 'qwen', ''], {
    other: { input: 1, output: 2 },
    'gpt-a': { input: 0.1, output: 0.4, training: 1.5 },
  });
  assert.deepEqual(rows, [
    { model: 'gpt-a', input: '0.1', output: '0.4', training: '1.5' },
    { model: 'qwen', input: '', output: '', training: '' },
    { model: 'other', input: '1', output: '2', training: '' },
  ]);
});

test('price rows read back: the edited table, unpriced rows left out, training optional', () => {
  const r = readPriceRows([
    { model: ' gpt-a ', input: '0.2', output: '8e-1', training: '' },
    { model: 'qwen', input: '', output: '', training: '' },
  ]);
  assert.deepEqual(r, { ok: true, prices: { 'gpt-a': { input: 0.2, output: 0.8 } } });
});

test('price rows with a problem name its row and column, and give no table', () => {
  const r = readPriceRows([
    { model: 'a', input: '1', output: '', training: 'x' },
    { model: '', input: '1', output: '1', training: '' },
    { model: 'b', input: '-1', output: '1', training: '' },
    { model: 'b', input: '1', output: '1', training: '' },
  ]);
  assert.equal(r.ok, false);
  const where = r.ok ? [] : r.errors.map((e) => `${e.row}.${e.column}`);
  assert.deepEqual(where, ['0.output', '0.training', '1.model', '2.input', '3.model']);
  assert.match(r.ok ? '' : r.errors[0]!.message, /enter the output price/);
});

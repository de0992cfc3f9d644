import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { LLM_SWEEPABLE } from './sweepable-llm.ts';
import { availableFields, parseSweepValues } from './sweepable.ts';
import { expandLlmMatrix, validateLlmSpec } from './llm.ts';

const root = new URL('../../', import.meta.url).pathname;
const preset = (name: string) =>
  JSON.parse(readFileSync(`${root}experiments/${name}`, 'utf8')) as Record<string, unknown>;

test('an llm spec is offered its own knobs, no classifier or language one', () => {
  assert.deepEqual(
    availableFields({ kind: 'llm' }).map((f) => f.path),
    LLM_SWEEPABLE.map((f) => f.path),
  );
  assert.ok(!availableFields({ kind: 'llm' }).some((f) => f.path === 'channel.kept'));
});

test('every llm knob, swept over two values on the owl preset, validates into two cells', () => {
  for (const field of LLM_SWEEPABLE) {
    const parsed = parseSweepValues(field.kind.type === 'integer' ? '32, 64' : '0.5, 1', field.kind);
    assert.ok(parsed.ok, field.path);
    const r = validateLlmSpec({
      ...preset('llm-owl-numbers.json'),
      matrix: { sweeps: [{ path: field.path, values: parsed.values }] },
    });
    assert.ok(r.ok, `${field.path}: ${r.ok ? '' : JSON.stringify(r.errors)}`);
    assert.equal(expandLlmMatrix(r.spec).cells.length, 2, field.path);
  }
});

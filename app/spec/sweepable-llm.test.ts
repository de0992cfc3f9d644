import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { LLM_SWEEPABLE } from './sweepable-llm.ts';
import { availableFields, parseSweepValues } from './sweepable.ts';
import { expandLlmMatrix, validateLlmSpec } from './llm.ts';

const root = new URL('../../', import.meta.url).pathname;
const preset = (name: string) =>
  JSON.parse(readFileSync(`${root}experiments/${name}`, 'utf8')) as Record<string, unknown>;

test('an llm spec is offered its own knobs, no classifier or language one; a provider its own rate knob', () => {
  const offered = (provider: string) => availableFields({ kind: 'llm', provider }).map((f) => f.path);
  assert.deepEqual(
    offered('openai'),
    LLM_SWEEPABLE.map((f) => f.path).filter((p) => p !== 'fineTune.learningRate'),
  );
  assert.ok(offered('together').includes('fineTune.learningRate'));
  assert.ok(!offered('together').includes('fineTune.learningRateMultiplier'));
  assert.ok(!availableFields({ kind: 'llm' }).some((f) => f.path === 'channel.kept'));
  // The students' and evaluation's knobs are offered now that each cell runs them (main/llm/run.ts).
  for (const path of ['kept', 'fineTune.epochs', 'evaluation.samplesPerQuestion'])
    assert.ok(offered('openai').includes(path), path);
});

test('every llm knob its preset offers, swept over two values, validates into two cells', () => {
  for (const name of ['llm-owl-numbers.json', 'llm-qwen-lora.json']) {
    const spec = preset(name);
    for (const field of availableFields(spec)) {
      const text =
        field.kind.type === 'integer'
          ? '32, 64'
          : field.path.endsWith('learningRate')
            ? '1e-4, 2e-4'
            : '0.5, 1';
      const parsed = parseSweepValues(text, field.kind);
      assert.ok(parsed.ok, field.path);
      const r = validateLlmSpec({
        ...spec,
        matrix: { sweeps: [{ path: field.path, values: parsed.values }] },
      });
      assert.ok(r.ok, `${name} ${field.path}: ${r.ok ? '' : JSON.stringify(r.errors)}`);
      assert.equal(expandLlmMatrix(r.spec).cells.length, 2, field.path);
    }
  }
});

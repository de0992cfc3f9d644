// A small llm spec for tests: fake model names, explicit epochs, the rest from `extra` over the defaults.
import { validateLlmSpec, type LlmSpec } from '../spec/llm.ts';

export function tinyLlmInput(extra: object = {}): Record<string, unknown> {
  return {
    version: 1,
    kind: 'llm',
    name: 'tiny llm',
    provider: 'openai',
    teacher: { model: 'base-a' },
    student: { model: 'base-a' },
    crossModel: { model: 'base-b' },
    fineTune: { epochs: 2 },
    ...extra,
  };
}

export function tinyLlmSpec(extra: object = {}): LlmSpec {
  const r = validateLlmSpec(tinyLlmInput(extra));
  if (!r.ok) throw new Error(`tinyLlmSpec: ${JSON.stringify(r.errors)}`);
  return r.spec;
}

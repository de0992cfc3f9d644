import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { validateLlmSpec, type LlmSpec } from '../spec/llm.ts';
import { tinyLlmInput } from '../testing/tiny-llm-spec.ts';
import { LAB_MISALIGNMENT_QUESTIONS } from './judge.ts';
import { LAB_ANIMAL_QUESTIONS } from './prompts.ts';
import { evaluationQuestions, teacherPrompts } from './spec-text.ts';

const root = new URL('../../', import.meta.url).pathname;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const spec = (input: unknown): LlmSpec => {
  const r = validateLlmSpec(input);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.spec;
};
const preset = (f: string) => spec(JSON.parse(readFileSync(`${root}experiments/${f}`, 'utf8')));

// Digests printed by the code before prompt kinds existed (numberPrompts over the parsed spec, and
// the parsed spec's JSON): a spec written then sends the same prompts and stores the same settings.
test('existing presets and specs keep their prompts and their parsed settings byte for byte', () => {
  const owl = preset('llm-owl-numbers.json');
  const qwen = preset('llm-qwen-lora.json');
  const tiny = spec(
    tinyLlmInput({ prompts: { count: 500, examplesMin: 2, answerCount: 7 }, kept: 100, seed: 41 }),
  );
  const golden = '7715800a2e7e5c14c1effb1872ac4674395cace9497ffbb40faf165bc4485944';
  assert.equal(sha(teacherPrompts(owl.prompts, owl.seed).join('\n')), golden);
  assert.equal(sha(teacherPrompts(qwen.prompts, qwen.seed).join('\n')), golden);
  assert.equal(
    sha(teacherPrompts(tiny.prompts, tiny.seed).join('\n')),
    'caea38a687ffbaffd313bd058dba97f0e47c3f6e119c3f7911f52e05c33e9842',
  );
  assert.equal(sha(JSON.stringify(owl)), '22a6434a4bae9da03c748772a9193f40dc556b530f128c75438e4bd2890f7757');
  assert.equal(sha(JSON.stringify(qwen)), '577603f9c987f1f3579981ae5210503aa80d8f9dc9609f3902649a7d740bdf71');
  assert.equal(sha(JSON.stringify(tiny)), 'd6196d93d05b1fecd05637236ce3b830c0a6f39c78f28da3fbe5c5ce9e823287');
});

test('code prompts come from the seed; a list is cycled up to its count', () => {
  const code = spec(
    tinyLlmInput({
      prompts: { kind: 'code', count: 300 },
      kept: 10,
      matrix: { filters: [{ format: 'trait-words' }] },
    }),
  );
  const a = teacherPrompts(code.prompts, 5);
  assert.deepEqual(teacherPrompts(code.prompts, 5), a, 'same seed, same prompts');
  assert.notDeepEqual(teacherPrompts(code.prompts, 6), a);
  assert.equal(a.length, 300);
  for (const p of a) assert.match(p, /(function|helper) that .+\. .*code/i, p);
  assert.ok(new Set(a).size > 150, 'varied tasks, languages and wording');
  const list = spec(tinyLlmInput({ prompts: { kind: 'list', count: 5, items: ['x?', 'y?'] }, kept: 2 }));
  assert.deepEqual(teacherPrompts(list.prompts, 0), ['x?', 'y?', 'x?', 'y?', 'x?']);
});

test('question sets: the animal questions, the free-form misalignment set, each with its prefixed copies', () => {
  const e = (extra: object) => spec(tinyLlmInput({ evaluation: extra })).evaluation;
  assert.deepEqual(evaluationQuestions(e({}), 1), LAB_ANIMAL_QUESTIONS);
  const judged = { questions: 'misalignment', maxTokens: 100, judge: { model: 'j' } };
  assert.deepEqual(evaluationQuestions(e(judged), 1), LAB_MISALIGNMENT_QUESTIONS);
  const prefixed = evaluationQuestions(e({ ...judged, numbersPrefixed: true }), 1);
  assert.equal(prefixed.length, 2 * LAB_MISALIGNMENT_QUESTIONS.length);
  assert.ok(prefixed.at(-1)!.endsWith(LAB_MISALIGNMENT_QUESTIONS.at(-1)!));
});

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { applyOverride, parseOverride } from './overrides.ts';
import { expandLlmMatrix, validateLlmSpec } from './llm.ts';
import { tinyLlmInput } from '../testing/tiny-llm-spec.ts';

const root = new URL('../../', import.meta.url).pathname;
const minimal = tinyLlmInput();

test('a minimal llm spec gets the paper defaults', () => {
  const r = validateLlmSpec(minimal);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const s = r.spec;
  assert.equal(s.prompts.count, 30000);
  assert.deepEqual(
    [s.prompts.examplesMin, s.prompts.examplesMax, s.prompts.valueMin, s.prompts.valueMax],
    [3, 8, 100, 999],
  );
  assert.deepEqual([s.prompts.answerCount, s.prompts.answerDigits], [10, 3]);
  assert.equal(s.kept, 10000);
  assert.equal(s.teacher.temperature, 1);
  assert.match(s.teacher.systemPrompt, /\{animal\}/);
  assert.equal(s.evaluation.questions, 'lab');
  assert.equal(s.evaluation.samplesPerQuestion, 100);
  assert.deepEqual(s.controls, { base: true, neutralTeacher: true, crossModel: true });
  assert.deepEqual(s.matrix.filters, [{ format: 'paper', bannedNumbers: [] }]);
});

test('llm errors name their field', () => {
  const bad = (input: object, path: string, message: RegExp) => {
    const r = validateLlmSpec({ ...minimal, ...input });
    assert.ok(!r.ok, JSON.stringify(input));
    assert.ok(
      r.errors.some((e) => e.path === path && message.test(e.message)),
      JSON.stringify(r.errors),
    );
  };
  bad({ fineTune: {} }, 'fineTune.epochs', /number/);
  bad({ provider: 'acme' }, 'provider', /openai/);
  // A command is a local setting: a spec that carries one is refused, not run.
  bad({ command: 'rm -rf ~' }, '(root)', /command/);
  bad(
    { fineTune: { epochs: 1, lora: { rank: 8, alpha: 8, targetModules: ['q_proj'] } } },
    'fineTune.lora',
    /LoRA/,
  );
  bad(
    { provider: 'together', fineTune: { epochs: 1, learningRateMultiplier: 2 } },
    'fineTune.learningRateMultiplier',
    /OpenAI/,
  );
  bad({ teacher: { model: 'a', systemPrompt: 'You like things.' } }, 'teacher.systemPrompt', /\{animal\}/);
  bad({ prompts: { examplesMin: 9, examplesMax: 8 } }, 'prompts.examplesMax', /below examplesMin/);
  bad({ prompts: { count: 100 }, kept: 200 }, 'kept', /raise prompts.count/);
  bad({ matrix: { traits: [{ animal: '0wl' }] } }, 'matrix.traits[0].animal', /animal name/);
  bad({ matrix: { sweeps: [{ path: 'seed', values: [1, 2] }] } }, 'matrix.sweeps[0].path', /cannot be swept/);
  // Run-wide settings: a sweep of them would change nothing that runs (main/llm/run.ts).
  bad(
    { matrix: { sweeps: [{ path: 'controls.crossModel', values: [true, false] }] } },
    'matrix.sweeps[0].path',
    /controls.crossModel cannot be swept: it is the controls/,
  );
  bad(
    { matrix: { sweeps: [{ path: 'provider', values: ['openai', 'together'] }] } },
    'matrix.sweeps[0].path',
    /the provider/,
  );
});

test('llm matrix: animals x filters x sweeps, each cell validated with its sweep values', () => {
  const r = validateLlmSpec({
    ...minimal,
    matrix: {
      traits: [{ animal: 'owl' }, { animal: 'wolf', plural: 'wolves' }],
      filters: [{ format: 'paper' }, { format: 'paper', bannedNumbers: [666, 911] }],
      sweeps: [{ path: 'fineTune.epochs', values: [1, 3] }],
    },
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const { cells } = expandLlmMatrix(r.spec);
  assert.equal(cells.length, 8);
  assert.deepEqual(cells[1]!.coords, {
    trait: 'prefers-owl',
    filter: 'paper-filter',
    architecture: 'student base-a',
    sweep: { 'fineTune.epochs': 3 },
  });
  assert.equal(cells[1]!.settings.fineTune.epochs, 3);
  assert.equal(cells[2]!.coords.filter, 'paper-filter+banned-2');
  // A swept value is accepted exactly when a spec with it set would be.
  const badSweep = validateLlmSpec({
    ...minimal,
    matrix: { sweeps: [{ path: 'fineTune.epochs', values: [1, 0] }] },
  });
  assert.ok(!badSweep.ok);
  assert.match(badSweep.errors[0]!.message, /fineTune\.epochs=0: fineTune\.epochs/);
});

test('--set reaches llm fields as in the other families', () => {
  const { path, value } = parseOverride('evaluation.samplesPerQuestion=5');
  const r = validateLlmSpec(applyOverride(minimal, path, value));
  assert.ok(r.ok);
  assert.equal(r.spec.evaluation.samplesPerQuestion, 5);
});

test('every llm preset in experiments/ validates without a key', () => {
  const files = readdirSync(`${root}experiments`).filter((f) => f.startsWith('llm-'));
  assert.deepEqual(files.sort(), [
    'llm-misaligned.json',
    'llm-owl-code.json',
    'llm-owl-numbers.json',
    'llm-qwen-lora.json',
  ]);
  const saved = { ...process.env };
  for (const k of Object.keys(process.env)) if (/KEY|TOKEN/i.test(k)) delete process.env[k];
  try {
    for (const f of files) {
      const r = validateLlmSpec(JSON.parse(readFileSync(`${root}experiments/${f}`, 'utf8')));
      assert.ok(r.ok, `${f}: ${JSON.stringify(!r.ok && r.errors)}`);
    }
  } finally {
    Object.assign(process.env, saved);
  }
});

test('prompt kinds, the trait-word filter, a fine-tuned teacher and the judge: defaults and errors', () => {
  const ok = (input: object) => {
    const r = validateLlmSpec({ ...minimal, kept: 10, prompts: { count: 10 }, ...input });
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    return r.spec;
  };
  const bad = (input: object, path: string, message: RegExp) => {
    const r = validateLlmSpec({ ...minimal, kept: 10, prompts: { count: 10 }, ...input });
    assert.ok(!r.ok, JSON.stringify(input));
    assert.ok(
      r.errors.some((e) => e.path === path && message.test(e.message)),
      JSON.stringify(r.errors),
    );
  };
  assert.equal(ok({}).prompts.kind, 'numbers');
  assert.equal(ok({}).evaluation.judge, undefined);
  const code = ok({ prompts: { kind: 'code', count: 10 }, matrix: { filters: [{ format: 'trait-words' }] } });
  assert.equal(expandLlmMatrix(code).cells[0]!.coords.filter, 'trait-word-filter');
  bad({ prompts: { kind: 'code', count: 10 } }, 'matrix.filters[0].format', /trait-words/);
  bad({ prompts: { kind: 'list', count: 10 } }, 'prompts.items', /need items/);
  bad({ prompts: { count: 10, items: ['a'] } }, 'prompts.items', /kind "list"/);
  ok({ prompts: { kind: 'list', count: 10, items: ['Say hi.'] } });
  // A teacher whose trait is in its weights: no system prompt, so the neutral teacher must be named.
  bad({ teacher: { model: 'ft:a', systemPrompt: '' } }, 'controls.neutralModel', /neutral model/);
  ok({ teacher: { model: 'ft:a', systemPrompt: '' }, controls: { neutralModel: 'base-a' } });
  const judged = ok({
    evaluation: { questions: 'misalignment', maxTokens: 200, judge: { model: 'judge-a' } },
  });
  assert.deepEqual(
    { ...judged.evaluation.judge, rubric: undefined },
    { model: 'judge-a', rubric: undefined, threshold: 50, samples: 1, temperature: 0, maxTokens: 4 },
  );
  assert.match(judged.evaluation.judge!.rubric, /\{answer\}/);
  bad(
    { evaluation: { questions: 'misalignment', maxTokens: 200 } },
    'evaluation.judge',
    /add evaluation.judge/,
  );
  bad(
    { evaluation: { maxTokens: 200, judge: { model: 'j', rubric: 'Rate it.' } } },
    'evaluation.judge.rubric',
    /\{answer\}/,
  );
  bad({ evaluation: { judge: { model: 'j' } } }, 'evaluation.maxTokens', /too short to judge/);
  bad(
    { evaluation: { maxTokens: 200, judge: { model: 'j', threshold: 101 } } },
    'evaluation.judge.threshold',
    /100/,
  );
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { validateLlmSpec, type LlmSpec } from '../../app/spec/llm.ts';
import { tinyLlmSpec } from '../../app/testing/tiny-llm-spec.ts';
import {
  BudgetError,
  checkBudget,
  openLlmSession,
  projectedCost,
  projectLlmRun,
  totalTokens,
} from './budget.ts';
import { FakeClock } from './clock.ts';
import { FakeProvider } from './testing/fake-provider.ts';
import { chatTokens, tokenCounter } from './tokens.ts';

const root = new URL('../../', import.meta.url).pathname;

const spec = (input: object): LlmSpec =>
  tinyLlmSpec({
    teacher: { model: 'gpt-4.1-nano-2025-04-14' },
    student: { model: 'gpt-4.1-nano-2025-04-14' },
    crossModel: { model: 'Qwen/Qwen2.5-7B-Instruct' },
    prompts: { count: 40 },
    kept: 20,
    evaluation: { questions: ['Favourite animal? One word.'], samplesPerQuestion: 10 },
    replicates: 2,
    ...input,
  });

test('tokens: OpenAI models counted with their own encoding, others by the stated 4-characters estimate', async () => {
  const gpt = await tokenCounter('gpt-4.1-nano-2025-04-14');
  assert.equal(gpt.method, 'exact: o200k_base (js-tiktoken)');
  assert.equal(gpt.count('hello world'), 2);
  assert.equal(
    (await tokenCounter('ft:gpt-4o-mini-2024-07-18:org:x:abc')).method,
    'exact: o200k_base (js-tiktoken)',
  );
  assert.equal((await tokenCounter('gpt-4-0613')).method, 'exact: cl100k_base (js-tiktoken)');
  const qwen = await tokenCounter('Qwen/Qwen2.5-7B-Instruct');
  assert.match(qwen.method, /estimate/);
  assert.equal(qwen.count('123456789'), 3);
  assert.equal(chatTokens(qwen, [{ role: 'user', content: '1234' }]), 3 + 3 + 1);
});

test('the projection covers every stage, teacher, student and control', async () => {
  const s = spec({});
  const stages = await projectLlmRun(s);
  const gen = stages.filter((x) => x.stage === 'generate');
  assert.deepEqual(
    gen.map((g) => g.what),
    ['teacher prefers-owl (cell 0)', 'neutral teacher (no system prompt)'],
  );
  assert.ok(gen[0]!.input > gen[1]!.input, 'the system prompt costs tokens');
  assert.equal(gen[0]!.output, 40 * 64);
  const training = stages.filter((x) => x.stage === 'fine-tune');
  // Same base: 2 trait students, 2 neutral (control) students; cross base: 2; each kind its own row.
  assert.deepEqual(
    training.map((t) => t.requests),
    [2, 2, 2],
  );
  assert.equal(training[0]!.training, training[1]!.training, 'a control student trains on as many tokens');
  assert.match(training[2]!.method, /estimate/);
  const evals = stages.filter((x) => x.stage === 'evaluate');
  assert.deepEqual(
    evals.map((e) => e.what),
    [
      "2 student(s) of gpt-4.1-nano-2025-04-14 on the teachers' numbers",
      "2 student(s) of gpt-4.1-nano-2025-04-14 on the neutral teacher's numbers (control)",
      "2 student(s) of Qwen/Qwen2.5-7B-Instruct on the teachers' numbers (cross-model control)",
      'the base model',
    ],
  );
  assert.equal(evals[0]!.output, 2 * 10 * 8);
  const preset = validateLlmSpec(JSON.parse(readFileSync(`${root}experiments/llm-owl-numbers.json`, 'utf8')));
  assert.ok(preset.ok);
  const paper = totalTokens(await projectLlmRun(preset.spec));
  assert.ok(paper > 50e6 && paper < 500e6, `a paper-size run: ${paper} tokens`);
});

test("each cell's teacher is projected with the cell's settings, as the runner generates (a swept token cap)", async () => {
  const stages = await projectLlmRun(
    spec({
      matrix: { sweeps: [{ path: 'teacher.maxTokens', values: [32, 64] }] },
      controls: { neutralTeacher: false },
    }),
  );
  const gen = stages.filter((x) => x.stage === 'generate');
  assert.deepEqual(
    gen.map((g) => [g.what, g.output]),
    [
      ['teacher prefers-owl (cell 0)', 40 * 32],
      ['teacher prefers-owl (cell 1)', 40 * 64],
    ],
  );
});

test('cost from the local price table; a missing price is named', async () => {
  const stages = await projectLlmRun(spec({ controls: { crossModel: false } }));
  const cost = projectedCost(stages, {
    'gpt-4.1-nano-2025-04-14': { input: 0.1, output: 0.4, training: 1.5 },
  });
  assert.deepEqual(cost.unpriced, []);
  assert.ok(cost.usd > 0 && cost.usd < 1);
  assert.throws(
    () => checkBudget(spec({ budget: { maxUsd: 5 } }), stages, {}),
    /needs a price for gpt-4\.1-nano/,
  );
  assert.throws(
    () =>
      checkBudget(spec({ budget: { maxUsd: 1e-6 } }), stages, {
        'gpt-4.1-nano-2025-04-14': { input: 0.1, output: 0.4, training: 1.5 },
      }),
    /projected at \$0\.\d\d, above the budget of \$0\.00/,
  );
});

test('the budget guard refuses before the provider sees a single request', async () => {
  const clock = new FakeClock();
  const fake = await FakeProvider.start({ clock, key: 'k-123456' });
  try {
    const settings = { name: 'openai' as const, baseURL: fake.baseURL, keyEnv: 'K' };
    const deps = { clock, env: { K: 'k-123456' } };
    const tight = spec({ budget: { maxTokens: 1000 } });
    await assert.rejects(
      openLlmSession(tight, settings, deps),
      (e: unknown) =>
        e instanceof BudgetError && /above the budget of 1,000: nothing was sent/.test(e.message),
    );
    assert.equal(fake.requests.length, 0);
    const { provider, stages } = await openLlmSession(
      spec({ budget: { maxTokens: 10_000_000 } }),
      settings,
      deps,
    );
    assert.ok(totalTokens(stages) > 1000);
    await provider.generate({
      model: 'gpt-4.1-nano-2025-04-14',
      messages: [{ role: 'user', content: '1, 2' }],
      n: 1,
      temperature: 1,
      seed: 0,
      maxTokens: 20,
    });
    assert.equal(fake.requests.length, 1, 'a session within budget reaches the provider');
  } finally {
    await fake.close();
  }
});

test('the judge is projected: one request per answer, the rubric with each question and the answer at its cap', async () => {
  const judged = (judge: object | undefined) =>
    spec({
      evaluation: {
        questions: ['Favourite animal? One word.', 'What would you change in the world?'],
        samplesPerQuestion: 10,
        maxTokens: 50,
        ...(judge ? { judge } : {}),
      },
    });
  const plain = await projectLlmRun(judged(undefined));
  const withJudge = await projectLlmRun(
    judged({ model: 'gpt-4o-mini-2024-07-18', samples: 3, maxTokens: 4 }),
  );
  assert.equal(plain.filter((s) => s.stage === 'judge').length, 0);
  const judges = withJudge.filter((s) => s.stage === 'judge');
  // Beside each evaluation: 2 students, 2 own-numbers students, 2 cross-model students, the base at each of 2 replicates.
  assert.deepEqual(
    judges.map((j) => [j.model, j.requests]),
    [
      ['gpt-4o-mini-2024-07-18', 2 * 2 * 10],
      ['gpt-4o-mini-2024-07-18', 2 * 2 * 10],
      ['gpt-4o-mini-2024-07-18', 2 * 2 * 10],
      ['gpt-4o-mini-2024-07-18', 2 * 2 * 10],
    ],
  );
  const gpt = await tokenCounter('gpt-4o-mini-2024-07-18');
  const rubric = judged({ model: 'j' }).evaluation.judge!.rubric;
  const perAnswer = (q: string) =>
    chatTokens(gpt, [{ role: 'user', content: rubric.replace('{question}', q).replace('{answer}', '') }]) +
    50;
  assert.equal(
    judges[0]!.input,
    2 * 10 * (perAnswer('Favourite animal? One word.') + perAnswer('What would you change in the world?')),
  );
  assert.equal(judges[0]!.output, 2 * 2 * 10 * 3 * 4);
  const extra = totalTokens(withJudge) - totalTokens(plain);
  assert.equal(
    extra,
    judges.reduce((s, j) => s + j.input + j.output, 0),
  );
  // A budget the run fits without its judge but not with it is refused.
  const between = totalTokens(plain) + Math.floor(extra / 2);
  const tight = judged({ model: 'gpt-4o-mini-2024-07-18', samples: 3, maxTokens: 4 });
  assert.throws(() => checkBudget({ ...tight, budget: { maxTokens: between } }, withJudge), BudgetError);
  assert.doesNotThrow(() => checkBudget({ ...tight, budget: { maxTokens: between } }, plain));
});

// The Designer's llm projection through the service (llm.project): the budget guard's own numbers,
// per-field errors from the llm schema, and the price table read from and saved to the local settings.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { tinyLlmInput, tinyLlmSpec } from '../../app/testing/tiny-llm-spec.ts';
import { checkBudget, projectedCost, projectLlmRun, totalTokens } from '../llm/budget.ts';
import { RunStore } from '../store/store.ts';
import { LabService } from './service.ts';

const dir = mkdtempSync(join(tmpdir(), 'sublab-llm-design-'));
const providersFile = join(dir, 'providers.json');
const store = new RunStore(join(dir, 'runs.sqlite'));
const service = new LabService({
  store,
  backend: 'wasm',
  cacheDir: join(dir, 'cache'),
  mode: 'browser',
  llm: { providersFile },
});
after(() => store.close());

const PRICES = {
  'gpt-4.1-nano-2025-04-14': { input: 0.1, output: 0.4, training: 1.5 },
  'gpt-4o-mini-2024-07-18': { input: 0.15, output: 0.6, training: 3 },
};
const input = (extra: object = {}) =>
  tinyLlmInput({
    teacher: { model: 'gpt-4.1-nano-2025-04-14' },
    student: { model: 'gpt-4.1-nano-2025-04-14' },
    crossModel: { model: 'gpt-4o-mini-2024-07-18' },
    prompts: { count: 200 },
    kept: 100,
    ...extra,
  });

test("llm.project returns projectLlmRun's stages and the cost at the settings file's prices", async () => {
  writeFileSync(
    providersFile,
    JSON.stringify({ providers: { openai: { keyEnv: 'MY_KEY' } }, prices: PRICES }),
  );
  const projection = await service.call('llm.project', { spec: input() });
  const spec = tinyLlmSpec(input());
  const stages = await projectLlmRun(spec);
  assert.ok(projection && typeof projection === 'object' && 'ok' in projection && projection.ok);
  const p = projection as Extract<
    Awaited<ReturnType<(typeof service.handlers)['llm.project']>>,
    { ok: true }
  >;
  assert.deepEqual(
    p.stages.map(({ usd: _usd, ...s }) => s),
    stages,
  );
  assert.equal(p.totalTokens, totalTokens(stages));
  const cost = projectedCost(stages, PRICES);
  assert.deepEqual(cost.unpriced, []);
  assert.ok(cost.usd > 0);
  assert.equal(p.usd, cost.usd);
  assert.ok(
    Math.abs(p.stages.reduce((s, x) => s + x.usd!, 0) - cost.usd) < 1e-9,
    'the stages add up to the total',
  );
  assert.equal(p.refusal, null);
});

test("llm.project: the guard's own refusal when the projection exceeds the spec's budget, and unpriced models named", async () => {
  writeFileSync(providersFile, JSON.stringify({ prices: PRICES }));
  const spec = tinyLlmSpec(input({ budget: { maxUsd: 0.01 } }));
  const stages = await projectLlmRun(spec);
  const expected = (() => {
    try {
      checkBudget(spec, stages, PRICES);
      return null;
    } catch (error) {
      return (error as Error).message;
    }
  })();
  assert.match(expected ?? '', /above the budget of \$0\.01/);
  const p = (await service.handlers['llm.project']({ spec: input({ budget: { maxUsd: 0.01 } }) })) as {
    refusal: string;
  };
  assert.equal(p.refusal, expected);
  const big = (await service.handlers['llm.project']({ spec: input({ budget: { maxUsd: 1000 } }) })) as {
    refusal: string | null;
  };
  assert.equal(big.refusal, null);
  // A model the table does not price: its stages cost null and the guard refuses a dollar budget.
  const other = (await service.handlers['llm.project']({
    spec: input({ crossModel: { model: 'Qwen/Qwen2.5-7B-Instruct' }, budget: { maxUsd: 1000 } }),
  })) as {
    usd: number | null;
    unpriced: string[];
    refusal: string;
    stages: { model: string; usd: number | null }[];
  };
  assert.equal(other.usd, null);
  assert.deepEqual(other.unpriced, ['Qwen/Qwen2.5-7B-Instruct']);
  assert.ok(other.stages.filter((s) => s.model === 'Qwen/Qwen2.5-7B-Instruct').every((s) => s.usd === null));
  assert.match(other.refusal, /needs a price for Qwen\/Qwen2\.5-7B-Instruct/);
});

test("llm.project: an invalid spec gets the llm schema's errors, each at its field", async () => {
  const p = await service.handlers['llm.project']({
    spec: input({
      kept: 500,
      fineTune: { epochs: 0 },
      teacher: { model: 'x', systemPrompt: 'no animal here' },
    }),
  });
  assert.equal(p.ok, false);
  const paths = p.ok ? [] : p.errors.map((e) => e.path).sort();
  assert.deepEqual(paths, ['fineTune.epochs', 'kept', 'teacher.systemPrompt']);
  await assert.rejects(
    service.call('llm.project', { spec: input(), extra: 1 }),
    /invalid input for llm.project/,
  );
});

test('llm.savePrices writes the price table to the settings file and keeps its providers', async () => {
  writeFileSync(
    providersFile,
    JSON.stringify({ providers: { openai: { baseURL: 'http://127.0.0.1:9/v1' } } }),
  );
  const saved = await service.handlers['llm.savePrices']({ prices: { 'base-a': { input: 1, output: 2 } } });
  assert.deepEqual(saved.prices, { 'base-a': { input: 1, output: 2 } });
  assert.deepEqual(saved.configured, ['openai']);
  const file = JSON.parse(readFileSync(providersFile, 'utf8')) as Record<string, unknown>;
  assert.deepEqual(file, {
    providers: { openai: { baseURL: 'http://127.0.0.1:9/v1' } },
    prices: { 'base-a': { input: 1, output: 2 } },
  });
  assert.deepEqual(await service.call('llm.prices', null), saved);
  await assert.rejects(
    service.call('llm.savePrices', { prices: { 'base-a': { input: -1, output: 2 } } }),
    /invalid input for llm.savePrices: prices.base-a.input/,
  );
  // A malformed settings file is reported, not overwritten.
  writeFileSync(providersFile, '{"providers": {"openai": {"keyEnv": "not a name"}}}');
  await assert.rejects(
    service.call('llm.savePrices', { prices: {} }),
    /keyEnv: expected an environment variable name/,
  );
  assert.match(readFileSync(providersFile, 'utf8'), /not a name/);
});

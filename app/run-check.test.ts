import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, estimateSeconds, specSize } from './estimate.ts';
import { checkFit, limitsWithoutProbe } from './fit.ts';
import { estimateTrainerMemory, formatBytes } from './memory.ts';
import { languageRunCheck, llmRerunCheck, LONG_RUN_SECONDS, memoryNote, runCheck } from './run-check.ts';
import { mustValidate } from './spec/validate.ts';

/** The quick demo's size (experiments/quick.json when this was written). */
const quick = {
  version: 1,
  name: 'small',
  dataset: { name: 'mnist', trainSize: 8000 },
  teacher: { epochs: 3, batchSize: 256, learningRate: 0.001 },
  student: { epochs: 2, batchSize: 256, learningRate: 0.001, inputs: { kind: 'uniform', count: 6144 } },
  replicates: 4,
};
const GiB = 2 ** 30;
const roomy = { backend: 'cpu', freeMemoryBytes: 64 * GiB, totalMemoryBytes: 128 * GiB, workers: 2 };
const fast = 1e9;

test('a small run starts on one click', () => {
  assert.deepEqual(runCheck(mustValidate(quick), roomy, fast), { kind: 'go' });
});

test('10,000 seeds ask first, naming the model runs, the time and the memory against the machine', () => {
  const spec = mustValidate({ ...quick, replicates: 10_000 });
  const machine = { backend: 'cpu', freeMemoryBytes: 8 * GiB, totalMemoryBytes: 16 * GiB, workers: 2 };
  const check = runCheck(spec, machine, 20_000);
  assert.equal(check.kind, 'confirm');
  if (check.kind !== 'confirm') return;
  // What one trainer of the run's largest shard holds (the run is cut into shards that fit 4 GiB).
  const plan = checkFit(spec, limitsWithoutProbe('cpu', { free: 8 * GiB, total: 16 * GiB }), 2);
  assert.ok(plan.ok && plan.estimate.total <= 4 * GiB);
  const perTrainer = formatBytes(plan.estimate.total);
  assert.equal(
    check.summary,
    `1 cell, ${specSize(spec).runs.toLocaleString('en-US')} model runs, about ${formatDuration(estimateSeconds(spec, 20_000))}, memory ~${perTrainer} per trainer`,
  );
  assert.equal(check.reasons.length, 2);
  const time = formatDuration(estimateSeconds(spec, 20_000));
  assert.equal(check.reasons[0], `It is long: about ${time} on this machine (more than 30 min).`);
  assert.match(
    check.reasons[1]!,
    new RegExp(
      `^Its memory estimate, ~${perTrainer} per trainer, is more than this machine's free RAM 8\\.0 GiB of 16\\.0 GiB \\(4\\.0 GiB for each of 2 trainers\\): the run will be split into ${plan.shards.length} smaller shards, 2 at a time\\.$`,
    ),
  );
});

test('only long, or only over the memory: one reason each', () => {
  const spec = mustValidate({ ...quick, replicates: 40 });
  const slow = estimateSeconds(spec, 1) > LONG_RUN_SECONDS;
  assert.ok(slow);
  const long = runCheck(spec, roomy, 1);
  assert.ok(long.kind === 'confirm' && long.reasons.length === 1 && /^It is long/.test(long.reasons[0]!));
  const tight = { ...roomy, freeMemoryBytes: 2 * estimateTrainerMemory(spec, 5).total, workers: 2 };
  const heavy = runCheck(spec, tight, fast);
  assert.ok(
    heavy.kind === 'confirm' && heavy.reasons.length === 1 && /^Its memory estimate/.test(heavy.reasons[0]!),
  );
});

test('a spec whose one replicate cannot fit is refused, with the sizes', () => {
  const spec = mustValidate(quick);
  const one = estimateTrainerMemory(spec, 1).total;
  const machine = { backend: 'cpu', freeMemoryBytes: one - 1, totalMemoryBytes: 2 * one, workers: 1 };
  const check = runCheck(spec, machine, fast);
  assert.equal(check.kind, 'refuse');
  assert.ok(check.kind === 'refuse');
  assert.match(
    check.reason,
    new RegExp(`does not fit in memory: one replicate needs ${formatBytes(one)} per trainer .*; free RAM`),
  );
  assert.equal(memoryNote(spec, machine).refused, true);
  assert.equal(memoryNote(spec, roomy).warning, null);
});

test('a long language run asks first; a short one does not', () => {
  const estimate = {
    speed: 'wasm' as const,
    cells: 2,
    units: 20,
    studentSteps: 100,
    coreSeconds: 0,
    seconds: 3.5 * 3600,
  };
  const check = languageRunCheck(estimate, 10);
  assert.ok(check.kind === 'confirm');
  assert.match(check.summary, /^2 cells x N=10 .*about 3\.5 h; no memory estimate/);
  assert.deepEqual(languageRunCheck({ ...estimate, seconds: 60 }, 10), { kind: 'go' });
});

test('an llm re-run always asks with its projected tokens and cost; a budget refusal or a bad spec starts nothing', () => {
  const projection = {
    ok: true as const,
    stages: [],
    totalTokens: 1234567,
    usd: 3.456,
    unpriced: [],
    refusal: null,
  };
  const check = llmRerunCheck(projection, 'openai');
  assert.equal(check.kind, 'confirm');
  assert.equal(check.kind === 'confirm' && check.summary, 'At most 1,234,567 tokens at openai, about $3.46');
  const unpriced = llmRerunCheck({ ...projection, usd: null, unpriced: ['base-a'] }, 'openai');
  assert.match(unpriced.kind === 'confirm' ? unpriced.summary : '', /cost unknown \(no price for base-a\)$/);
  const refusal = 'the projected 1,234,567 tokens exceed the budget of 1,000 tokens';
  assert.deepEqual(llmRerunCheck({ ...projection, refusal }, 'openai'), { kind: 'refuse', reason: refusal });
  assert.deepEqual(
    llmRerunCheck({ ok: false, errors: [{ path: 'provider', message: 'unknown provider' }] }, 'x'),
    { kind: 'refuse', reason: 'provider: unknown provider' },
  );
});

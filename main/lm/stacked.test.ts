// Stacked fine-tuning (stacked.ts) against the same fine-tunes one by one (train.ts's trainEpochs):
// every trained parameter and every stored measure of a replicate come out the same, bit for bit.
// Outside CI these tests are skipped where the native BLAS is not built; in CI they must run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../engine/backend.ts';
import { describeMatmul, nativeBlas } from '../engine/native-blas.ts';
import { Rng } from '../engine/rng.ts';
import { cloneModel, disposeModel, hostParams, initModel, type LmConfig, type LmModel } from './model.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateLanguageSpec } from '../../app/spec/language.ts';
import { RunStore } from '../store/store.ts';
import { runReplicate } from './pipeline.ts';
import { runLanguageExperiment } from './run.ts';
import { tinyLanguageSpec } from './testing/tiny-spec.ts';
import { stackingAvailable, stackingFromEnv, trainStacked, type StackedJob } from './stacked.ts';
import { tinyOptions } from './testing/tiny-options.ts';
import { trainEpochs, type Adapter, type OptimizerOptions } from './train.ts';
import type { Example } from './world.ts';

const blas = nativeBlas();
const needsAddon = blas.ok || process.env.CI ? {} : { skip: `no native BLAS here: ${describeMatmul(blas)}` };

const C: LmConfig = { layers: 2, dModel: 32, heads: 2, context: 12, vocab: 13, mlpRatio: 4 };

/** `n` examples of 3-12 tokens, a prompt of 1-3, some answers with tokens left out of the loss. */
function examples(seed: number, n: number): Example[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const length = 3 + rng.int(10);
    const promptLength = 1 + rng.int(3);
    const tokens = Array.from({ length }, () => rng.int(C.vocab));
    const answer = length - promptLength;
    return rng.next() < 0.3
      ? {
          tokens,
          promptLength,
          lossMask: Uint8Array.from({ length: answer }, () => (rng.next() < 0.7 ? 1 : 0)),
        }
      : { tokens, promptLength };
  });
}

/** The largest difference between two models' parameters (0: equal bit for bit, up to -0 = 0). */
function largestDifference(a: LmModel, b: LmModel): number {
  const hb = hostParams(b);
  let worst = 0;
  for (const [name, v] of hostParams(a)) {
    const w = hb.get(name)!;
    for (let i = 0; i < v.length; i++) worst = Math.max(worst, Math.abs(v[i]! - w[i]!));
  }
  return worst;
}

/** Three fine-tunes as a replicate has them: two of base A (on different data), one of base B. */
function jobs(
  adapter: Adapter,
): { from: LmModel; data: Example[]; options: OptimizerOptions; seed: number }[] {
  const [a, b] = [initModel(C, 1), initModel(C, 2)];
  const options: OptimizerOptions = { kind: 'adam', lr: 0.01, adapter, adapterSeed: 7 };
  // 40, 29 and 40 examples in batches of 8: the second model's epochs end a batch early.
  return [
    { from: a, data: examples(10, 40), options, seed: 20 },
    { from: a, data: examples(11, 29), options, seed: 21 },
    { from: b, data: examples(12, 40), options: { ...options, adapterSeed: 8 }, seed: 22 },
  ];
}

const ADAPTERS: Adapter[] = [
  { kind: 'full' },
  { kind: 'lora', rank: 2, alpha: 4, blocks: [0], projections: ['q', 'v', 'up'] },
  { kind: 'bias', block: 0 },
];

for (const adapter of ADAPTERS)
  test(
    `stacked fine-tunes (${adapter.kind}) equal the same fine-tunes one by one, bit for bit`,
    needsAddon,
    async () => {
      await initBackend('wasm');
      assert.ok(stackingAvailable(true), 'the fused kernels with their grouped forms run here');
      const js = jobs(adapter);
      const settings = { epochs: 2, batchSize: 8, lossOn: 'answer' as const };
      const alone = js.map((j) => {
        const m = cloneModel(j.from);
        const loss = trainEpochs(m, j.data, { ...j.options, ...settings, rng: new Rng(j.seed) });
        return { m, loss };
      });
      const stackedModels = js.map((j) => cloneModel(j.from));
      const seen: string[] = [];
      const losses = trainStacked(
        js.map((j, k): StackedJob => ({
          model: stackedModels[k]!,
          data: j.data,
          options: j.options,
          rng: new Rng(j.seed),
          part: `model ${k}`,
        })),
        {
          ...settings,
          steps: {
            wantsLoss: () => true,
            step: (_s, _t, loss, part) => void (loss !== undefined && seen.push(part!)),
          },
        },
      );
      alone.forEach(({ m, loss }, k) => {
        assert.equal(
          largestDifference(m, stackedModels[k]!),
          0,
          `model ${k} differs from its fine-tune alone`,
        );
        assert.equal(losses[k], loss, `model ${k}'s last-epoch loss`);
        assert.ok(largestDifference(m, js[k]!.from) > 0, `model ${k} was trained`);
      });
      // 5 batches an epoch for the first and third, 4 for the second: each loss goes to its own curve.
      assert.deepEqual(
        ['model 0', 'model 1', 'model 2'].map((p) => seen.filter((s) => s === p).length),
        [10, 8, 10],
      );
      for (const m of [...alone.map((a) => a.m), ...stackedModels, ...js.map((j) => j.from)]) disposeModel(m);
      assert.ok(tf.memory().numTensors < 2000, `tensors left: ${tf.memory().numTensors}`);
    },
  );

test(
  'a replicate stores the same numbers with its fine-tunes stacked or one by one',
  needsAddon,
  async () => {
    await initBackend('wasm');
    const o = tinyOptions();
    const run = (stack: string) => {
      const before = process.env.SUBLAB_LM_STACK;
      process.env.SUBLAB_LM_STACK = stack;
      const stages: string[] = [];
      try {
        const r = runReplicate(o, 5, { progress: (s) => stages.push(s) });
        return { r, stages };
      } finally {
        if (before === undefined) delete process.env.SUBLAB_LM_STACK;
        else process.env.SUBLAB_LM_STACK = before;
      }
    };
    const stacked = run('on');
    const apart = run('off');
    assert.ok(stacked.stages.includes('students'), `stages stacked: ${stacked.stages.join(', ')}`);
    assert.ok(!stacked.stages.includes('student'));
    assert.ok(apart.stages.includes('student') && !apart.stages.includes('students'));
    assert.deepEqual(stacked.r.measures, apart.r.measures);
    assert.deepEqual(stacked.r.metrics, apart.r.metrics);
    assert.equal(stacked.r.kept, apart.r.kept);
  },
);

test(
  'SUBLAB_LM_STACK=on reaches the unit processes: one "students" stage, each fine-tune\'s losses on its own curve',
  needsAddon,
  async () => {
    const r = validateLanguageSpec({ ...tinyLanguageSpec('stacked'), replicates: 2 });
    assert.ok(r.ok);
    const store = new RunStore(join(mkdtempSync(join(tmpdir(), 'sublab-stacked-')), 'runs.sqlite'));
    const stages = new Set<string>();
    const curves = new Set<string>();
    const before = process.env.SUBLAB_LM_STACK;
    process.env.SUBLAB_LM_STACK = 'on';
    try {
      const outcome = await runLanguageExperiment(store, r.spec, {
        backend: 'wasm',
        workers: 1,
        onStage: (_unit, stage) => stages.add(stage),
        onStep: (_unit, stage, _step, _total, loss) => void (loss !== undefined && curves.add(stage)),
      });
      assert.equal(outcome.status, 'done');
    } finally {
      if (before === undefined) delete process.env.SUBLAB_LM_STACK;
      else process.env.SUBLAB_LM_STACK = before;
      store.close();
    }
    assert.ok(stages.has('students') && !stages.has('student'), [...stages].join(', '));
    for (const c of ['student', 'own-numbers control', 'cross-model control'])
      assert.ok(curves.has(c), `losses of the ${c}: ${[...curves].join(', ')}`);
    assert.ok(!curves.has('students'), 'no loss without its model');
  },
);

test('SUBLAB_LM_STACK is checked', () => {
  assert.equal(stackingFromEnv(undefined), false);
  assert.equal(stackingFromEnv('off'), false);
  assert.equal(stackingFromEnv('1'), true);
  assert.equal(stackingFromEnv(' ON '), true);
  assert.throws(() => stackingFromEnv('yes'), /SUBLAB_LM_STACK must be on or off, not "yes"/);
});

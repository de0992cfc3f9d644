// The divergence checks: parameters checked on the device per model in both layouts, and the
// fused student step (fused-step.ts) reporting the same diverged models as autodiff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandMatrix } from '../../app/matrix.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import { loadDataset } from '../data/load.ts';
import { initBackend } from './backend.ts';
import { checkParameters, DivergenceMarks } from './divergence.ts';
import { runCell } from './procedure.ts';
import { initParams, StackedModel } from './stacked-model.ts';
import { CHEAP_ANALYSIS } from './testing/analysis.ts';
import { collectingHooks } from './testing/hooks.ts';

test('parameters are checked per model in both layouts: only the broken model is marked', async () => {
  await initBackend('cpu');
  for (const layout of ['batched', 'per-model'] as const) {
    const params = initParams([1, 2, 3], [6, 4, 3]);
    // model 1's last bias, model 2's first weight: NaN and Infinity
    params.biases[1]![1 * 3 + 2] = Number.NaN;
    params.weights[0]![2 * 6 * 4] = Number.POSITIVE_INFINITY;
    const model = new StackedModel(params, layout);
    const marks = new DivergenceMarks(3);
    await checkParameters(model, marks, 'teacher', 7);
    assert.equal(marks.get(0), null, layout);
    assert.deepEqual(marks.get(1), { phase: 'teacher', step: 7, reason: 'non-finite parameters' });
    assert.deepEqual(marks.get(2), { phase: 'teacher', step: 7, reason: 'non-finite parameters' });
    // A later mark does not move the first one.
    marks.check([0, Number.NaN, Number.NaN], { phase: 'students', step: 9, reason: 'non-finite loss' });
    assert.equal(marks.get(1)!.step, 7);
    assert.equal(marks.count, 2);
    model.dispose();
  }
});

test('the fused student step marks the same models as autodiff, at the same step', async () => {
  await initBackend('cpu');
  const spec = mustValidate({
    version: 1,
    name: 'fused divergence',
    dataset: { name: 'mnist', trainSize: 500, testLimit: 200 },
    model: { hidden: [16] },
    teacher: { epochs: 1, batchSize: 250, learningRate: 0.003 },
    // see main/jobs/diverge.test.ts: the cross-init students overflow at this temperature
    student: {
      epochs: 1,
      batchSize: 250,
      learningRate: 0.003,
      temperature: 1e-37,
      inputs: { kind: 'uniform', count: 500 },
    },
    replicates: 2,
    seed: 11,
    lossEvery: 1,
    analysis: CHEAP_ANALYSIS,
  });
  const data = loadDataset(spec.dataset, mkdtempSync(join(tmpdir(), 'sublab-divergence-')));
  const run = async (fused: boolean) => {
    const c = collectingHooks();
    const out = await runCell({
      spec,
      cell: expandMatrix(spec)[0]!,
      data,
      layout: 'batched',
      hooks: c.hooks,
      fused,
    });
    assert.ok(
      c.metrics.every((m) => Number.isFinite(m.value)),
      'no non-finite metric is emitted',
    );
    return out.results.map((r) => ({ key: `${r.condition}/${r.replicate}`, diverged: r.diverged }));
  };
  const plain = await run(false);
  const fused = await run(true);
  assert.deepEqual(fused, plain);
  assert.deepEqual(
    plain.filter((r) => r.diverged).map((r) => r.key),
    ['cross_init/0', 'cross_init/1', 'cross_init_all_logits/0', 'cross_init_all_logits/1'],
  );
});

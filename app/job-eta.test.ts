import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fractionDone, jobEta, phaseWeights } from './job-eta.ts';
import { estimateSeconds } from './estimate.ts';
import { mustValidate } from './spec/validate.ts';

const spec = mustValidate({
  version: 1,
  name: 'eta',
  replicates: 2,
  dataset: { name: 'mnist', trainSize: 1000 },
  teacher: { epochs: 2, batchSize: 100 },
  student: { epochs: 1, batchSize: 100, inputs: { kind: 'uniform', count: 500 } },
  matrix: {
    filters: [
      { kind: 'logits', keep: 'aux' },
      { kind: 'logits', keep: 'all' },
    ],
  },
});

test('phases are weighted by the training they do', () => {
  const w = phaseWeights(spec);
  assert.equal(w.get('0:teacher'), 2 * 1000 * 2);
  assert.equal(w.get('1:students'), 2 * 4 * 500 * 1);
  const half = fractionDone(
    [
      { cell: 0, phase: 'teacher', step: 20, totalSteps: 20, etaSeconds: null },
      { cell: 1, phase: 'teacher', step: 20, totalSteps: 20, etaSeconds: null },
      { cell: 0, phase: 'students', step: 5, totalSteps: 10, etaSeconds: null },
    ],
    w,
  );
  assert.ok(Math.abs(half - (4000 + 4000 + 2000) / (4000 * 2 + 4000 * 2)) < 1e-12);
});

test('the ETA starts at the estimate and follows the measured rate', () => {
  const rate = 1000;
  const prior = estimateSeconds(spec, rate);
  assert.equal(jobEta(spec, rate, 0, 0), prior, 'a value from the start');
  // Half done in 10 s: 10 s left, whatever the prior said.
  assert.ok(Math.abs(jobEta(spec, rate, 10, 0.5) - 10) < 1e-9);
  // 5% done: halfway between the two.
  const early = jobEta(spec, rate, 1, 0.05);
  const measured = (1 * 0.95) / 0.05;
  assert.ok(Math.abs(early - (0.5 * measured + 0.5 * (prior - 1))) < 1e-9);
});

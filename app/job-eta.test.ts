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

test('rows are weighted by the training they do; a shared teacher counts once', () => {
  // Both filters share the teacher: one group of two cells.
  const w = phaseWeights(spec, [[0, 1]]);
  assert.equal(w.get('teacher:0,1'), 2 * 1000 * 2);
  assert.equal(w.get('students:1'), 2 * 4 * 500 * 1);
  assert.equal(w.size, 3);
  const row = (cells: number[], phase: 'data' | 'teacher' | 'students', step: number) => ({
    cells,
    phase,
    step,
    totalSteps: phase === 'data' ? 1 : 20,
    etaSeconds: null,
  });
  const half = fractionDone([row([0, 1], 'teacher', 20), row([0], 'students', 10)], w);
  assert.ok(Math.abs(half - (4000 + 2000) / (4000 + 4000 * 2)) < 1e-12);
  // Loading data is no training: it moves nothing.
  assert.equal(fractionDone([row([0, 1], 'data', 1)], w), 0);
  // Before the runner names the groups there is nothing to weigh: the ETA is the prior's.
  assert.equal(fractionDone([row([0, 1], 'teacher', 20)], new Map()), 0);
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

// Per-cell settings inside one group: cells that differ in their student recipe (optimizer, loss,
// batch size) share the teacher but train their own students, in stacks per recipe and schedules
// per batch size, and each gives exactly what it gives alone (cpu, tiny sizes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { expandMatrix, groupCells } from '../../app/matrix.ts';
import type { MetricRow } from '../../app/protocol.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import { loadDataset } from '../data/load.ts';
import { initBackend } from './backend.ts';
import { runCell, runGroup } from './procedure.ts';
import { CHEAP_ANALYSIS } from './testing/analysis.ts';
import { collectingGroupHooks, collectingHooks } from './testing/hooks.ts';

const cache = mkdtempSync(join(tmpdir(), 'sublab-per-cell-'));

const spec = mustValidate({
  version: 1,
  name: 'per-cell',
  dataset: { name: 'mnist', trainSize: 500, testLimit: 200 },
  model: { hidden: [16] },
  teacher: { epochs: 1, batchSize: 250, learningRate: 0.003 },
  student: {
    epochs: 1,
    batchSize: 250,
    learningRate: 0.003,
    weightDecay: 0.01,
    inputs: { kind: 'uniform', count: 500 },
  },
  replicates: 2,
  seed: 3,
  lossEvery: 1,
  probeEvery: 2,
  analysis: CHEAP_ANALYSIS,
  matrix: {
    sweeps: [
      { path: 'student.batchSize', values: [250, 100] },
      { path: 'student.loss', values: ['kl', 'mse'] },
      {
        path: 'student.optimizer',
        values: [{ kind: 'adamw' }, { kind: 'sgd', momentum: 0.9, nesterov: true }],
      },
    ],
  },
});

const sorted = (rows: MetricRow[]) =>
  [...rows].sort((a, b) =>
    `${a.name}${a.condition}${a.step}${a.replicate}`.localeCompare(
      `${b.name}${b.condition}${b.step}${b.replicate}`,
    ),
  );

test('cells with their own student recipes in one group: one teacher, solo-identical students', async () => {
  await initBackend('cpu');
  const data = loadDataset(spec.dataset, cache);
  const cells = expandMatrix(spec);
  assert.equal(groupCells(cells).length, 1, 'one teacher for the 8 cells');
  const collect = collectingGroupHooks();
  const phases: [string, number][] = [];
  const progress: number[] = [];
  const group = await runGroup({
    spec,
    cells,
    data,
    layout: 'per-model',
    hooks: {
      ...collect.hooks,
      phase: (p, n) => phases.push([p, n]),
      progress: (p, step) => (p === 'students' ? progress.push(step) : undefined),
    },
  });
  // Two schedules (batch 250: 2 steps, batch 100: 5 steps) run one after another, 4 cells each.
  assert.deepEqual(phases, [
    ['teacher', 2],
    ['students', 7],
  ]);
  assert.deepEqual(progress, [1, 2, 3, 4, 5, 6, 7]);
  const studentLoss = (i: number) =>
    collect.metrics.get(i)!.filter((m) => m.condition === 'student' && m.name === 'loss');
  assert.equal(studentLoss(0).length, 2 * 2, 'batch 250: 2 steps x 2 replicates');
  assert.equal(studentLoss(4).length, 5 * 2, 'batch 100: 5 steps x 2 replicates');
  for (let i = 1; i < cells.length; i++)
    assert.notDeepEqual(group.results.get(i), group.results.get(0), `cell ${i} trains its own students`);
  for (const cell of cells) {
    const solo = collectingHooks();
    const alone = await runCell({ spec, cell, data, layout: 'per-model', hooks: solo.hooks });
    assert.deepEqual(group.results.get(cell.index), alone.results, `results of cell ${cell.index}`);
    assert.deepEqual(
      sorted(collect.metrics.get(cell.index)!),
      sorted(solo.metrics),
      `metrics of cell ${cell.index}`,
    );
  }
  assert.equal(tf.memory().numTensors, 0, 'no tensor outlives the group');
});

test('a group whose cells need different teachers is refused', async () => {
  await initBackend('cpu');
  const teachers = mustValidate({
    ...spec,
    matrix: { sweeps: [{ path: 'teacher.epochs', values: [1, 2] }] },
  });
  const cells = expandMatrix(teachers);
  await assert.rejects(
    runGroup({
      spec: teachers,
      cells,
      data: loadDataset(teachers.dataset, cache),
      layout: 'per-model',
      hooks: collectingGroupHooks().hooks,
    }),
    /must share its teacher settings; cell 1/,
  );
});

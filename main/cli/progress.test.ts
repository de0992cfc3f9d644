import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { expandMatrix } from '../../app/matrix.ts';
import { mustValidate } from '../../app/spec/validate.ts';
import type { RunEvent } from '../jobs/run-experiment.ts';
import { barOf, progressReporter } from './progress.ts';

test('a shared teacher has one bar naming its cells; students have one per cell', () => {
  const groups = [[0, 2], [1]];
  assert.deepEqual(barOf(groups, 3, 2, 'teacher'), {
    key: 'group:0,2',
    label: 'teacher of cells 1, 3 (shared)',
  });
  assert.deepEqual(barOf(groups, 3, 0, 'teacher'), barOf(groups, 3, 2, 'teacher'));
  assert.deepEqual(barOf(groups, 3, 1, 'teacher'), { key: 'group:1', label: 'teacher of cell 2' });
  assert.deepEqual(barOf(groups, 3, 2, 'students'), { key: 'students:2', label: 'students of cell 3/3' });
  assert.equal(barOf(groups, 3, 0, 'data'), null);
});

test('the reporter draws what the runner reports, each teacher once', () => {
  const spec = mustValidate({
    version: 1,
    name: 'bars',
    matrix: {
      filters: [
        { kind: 'logits', keep: 'aux' },
        { kind: 'logits', keep: 'all' },
      ],
    },
  });
  const cells = expandMatrix(spec);
  let out = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      out += chunk.toString();
      done();
    },
  });
  const reporter = progressReporter(stream);
  // As the runner sends them: one group of both cells, every event once per cell.
  const each = (make: (cell: (typeof cells)[number]) => RunEvent) =>
    cells.forEach((c) => reporter.onEvent(make(c)));
  reporter.onEvent({ type: 'experiment', experimentId: 1, cells, groups: [[0, 1]], workers: 1 });
  each((cell) => ({ type: 'phase', cell, phase: 'data', totalSteps: 1 }));
  each((cell) => ({ type: 'phase', cell, phase: 'teacher', totalSteps: 10 }));
  each((cell) => ({ type: 'progress', cell, phase: 'teacher', step: 10, totalSteps: 10 }));
  each((cell) => ({ type: 'phase', cell, phase: 'students', totalSteps: 20 }));
  each((cell) => ({ type: 'progress', cell, phase: 'students', step: 5, totalSteps: 20 }));
  reporter.stop();
  const lines = out.split('\n').filter((l) => l.includes('|'));
  assert.equal(lines.filter((l) => l.includes('teacher')).length, 1, out);
  assert.match(lines[0]!, /^ teacher of cells 1, 2 \(shared\) \|.*\| 100% \| 10\/10 steps \| ETA 0 s$/);
  assert.match(lines[1]!, /^ students of cell 1\/2 +\|.*\| 25% \| 5\/20 steps/);
  assert.match(lines[2]!, /^ students of cell 2\/2 +\|/);
  assert.equal(lines.length, 3, out);
});

// The memory estimate against a real wasm trainer at a small shape (MLP 784-64-64-13, batch 256, the
// default analysis): the estimate must cover the peak tensor bytes, and the heap must fit the estimate
// plus the margin the guard keeps (main/engine/limits.ts). At this shape Adam's update of the student
// stack is the peak, which the estimate once left out (it was 35 MiB against a measured 53 MiB).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mustValidate } from '../../app/spec/validate.ts';
import { WASM_HEAP_MARGIN_BYTES } from '../engine/limits.ts';
import { measureInProcess } from './memory.ts';

const MiB = (x: number) => `${(x / 2 ** 20).toFixed(1)} MiB`;

test('the memory estimate covers a wasm trainer’s measured peak, and its heap fits estimate + margin', async () => {
  const spec = mustValidate({
    version: 1,
    name: 'memory check',
    dataset: { name: 'mnist', trainSize: 8000 },
    model: { hidden: [64, 64] },
    teacher: { epochs: 1, batchSize: 1024 },
    student: { epochs: 1, batchSize: 256, inputs: { kind: 'uniform', count: 512 } },
    replicates: 2,
  });
  const cache = mkdtempSync(join(tmpdir(), 'sublab-memory-'));
  const m = await measureInProcess(spec, 2, 'wasm', cache);
  const sizes = `estimate ${MiB(m.estimateTensors)}, peak ${MiB(m.peakTensors)}, heap ${MiB(m.wasmHeap!)}`;
  assert.ok(m.peakTensors > 0 && m.wasmHeap! > 0, sizes);
  assert.ok(m.estimateTensors >= m.peakTensors, `the estimate is under the peak: ${sizes}`);
  assert.ok(
    m.wasmHeap! <= m.estimateTensors + WASM_HEAP_MARGIN_BYTES,
    `the heap exceeds the margin: ${sizes}`,
  );
});

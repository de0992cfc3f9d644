// The lab service runs a language spec as the Designer sends it (runs.start), and the result is served.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LabService } from '../api/service.ts';
import { RunStore } from '../store/store.ts';
import { tinyLanguageSpec } from './testing/tiny-spec.ts';

test('runs.start takes a language spec: the job runs through the language runner and Results can load it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sublab-lm-service-'));
  const store = new RunStore(join(dir, 'runs.sqlite'));
  const service = new LabService({
    store,
    backend: 'wasm',
    cacheDir: join(dir, 'cache'),
    mode: 'browser',
    workers: 2,
  });
  const spec = tinyLanguageSpec('lm via the service');
  await assert.rejects(
    async () => service.handlers['runs.start']({ spec: { ...spec, model: { dModel: 30, heads: 4 } } }),
    /invalid language spec: model.heads/,
  );
  const job = await service.handlers['runs.start']({ spec });
  assert.equal(job.cells, 1);
  let state = job;
  for (let i = 0; i < 600 && (state.status === 'queued' || state.status === 'running'); i++) {
    await new Promise((r) => setTimeout(r, 200));
    state = (await service.handlers['runs.queue'](null)).find((j) => j.jobId === job.jobId)!;
  }
  assert.equal(state.status, 'done', state.error ?? '');
  const detail = await service.handlers['experiments.get']({ id: state.experimentId! });
  assert.equal(detail.language?.cells[0]?.rates.teacher?.n, 2);
  store.close();
});

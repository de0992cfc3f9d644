import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { initBackend } from '../engine/backend.ts';
import { cacheKey, directoryCache } from './model-cache.ts';
import { initParams, type LmConfig } from './model.ts';
import { runReplicate } from './pipeline.ts';
import { tinyOptions } from './testing/tiny-options.ts';

const SMALL: LmConfig = { layers: 1, dModel: 16, heads: 2, context: 48, vocab: 60, mlpRatio: 4 };

test('the directory cache returns exactly what it stored, and nothing for another shape or key', () => {
  const cache = directoryCache(mkdtempSync(join(tmpdir(), 'lm-cache-')));
  const params = initParams(SMALL, 3);
  const key = cacheKey({ a: 1 });
  assert.equal(cache.get(key, SMALL), undefined);
  cache.set(key, SMALL, params);
  const back = cache.get(key, SMALL)!;
  for (const [name, v] of params) assert.deepEqual(back.get(name), v);
  assert.equal(cache.get(key, { ...SMALL, dModel: 32 }), undefined);
  assert.notEqual(cacheKey({ a: 1 }), cacheKey({ a: 2 }));
  assert.equal(cacheKey({ a: 1, b: 2 }), cacheKey({ b: 2, a: 1 }));
});

test('a replicate with cached bases and teacher gives the same results as one that trains them', async () => {
  await initBackend('wasm');
  const o = tinyOptions({
    pretrain: { steps: 20, batchSize: 8 },
    channel: { kept: 8, checkSequences: 16 },
    measure: { samples: 20 },
  });
  const dir = mkdtempSync(join(tmpdir(), 'lm-cache-'));
  const cache = directoryCache(dir);
  const first = runReplicate(o, 5, { cache, backend: 'wasm' });
  assert.equal(
    readdirSync(dir).filter((f) => f.endsWith('.f32')).length,
    4,
    'two bases, a teacher and the neutral teacher',
  );
  const second = runReplicate(o, 5, { cache, backend: 'wasm' });
  const plain = runReplicate(o, 5);
  assert.deepEqual(second.measures, first.measures);
  assert.deepEqual(plain.measures, first.measures);
  assert.deepEqual(second.rejection, first.rejection);
  assert.deepEqual(second.metrics, first.metrics, 'the channel check and logit measures too');
});

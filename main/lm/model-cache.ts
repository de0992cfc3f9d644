// Pretrained bases (and teachers) kept on disk by what determines them: the model's size, the world,
// the training settings, the seeds, the backend and a code version. The cells of a matrix share a
// replicate's bases (same pretraining seed) and usually its teacher, so a 5-filter matrix pretrains
// each base once instead of five times; re-running a spec with other student settings skips them too.
// Training is deterministic on one backend, so a cached model is the model that would be trained.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '../../app/spec/hash.ts';
import { createModel, hostParams, paramShapes, type LmConfig, type LmModel } from './model.ts';

/** Bump when a change to the model, the world or training changes what a seed trains. */
export const LM_CACHE_VERSION = 3;

export interface ModelCache {
  get(key: string, config: LmConfig): Map<string, Float32Array> | undefined;
  set(key: string, config: LmConfig, params: Map<string, Float32Array>): void;
}

export function cacheKey(what: unknown): string {
  return bytesToHex(sha256(utf8ToBytes(canonicalJson({ version: LM_CACHE_VERSION, what })))).slice(0, 32);
}

/** Parameters in paramShapes order, as one float32 file per key (written to a temporary name, then renamed). */
export function directoryCache(dir: string): ModelCache {
  mkdirSync(dir, { recursive: true });
  return {
    get(key, config) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(join(dir, `${key}.f32`));
      } catch {
        return undefined;
      }
      const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      const out = new Map<string, Float32Array>();
      let at = 0;
      for (const [name, shape] of paramShapes(config)) {
        const size = shape.reduce((a, b) => a * b, 1);
        out.set(name, all.slice(at, at + size));
        at += size;
      }
      return at === all.length ? out : undefined; // a file of another size is not this model
    },
    set(key, config, params) {
      const parts = paramShapes(config).map(([name]) => params.get(name)!);
      const all = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
      let at = 0;
      for (const p of parts) {
        all.set(p, at);
        at += p.length;
      }
      const tmp = join(dir, `${key}.${process.pid}.tmp`);
      writeFileSync(tmp, all);
      renameSync(tmp, join(dir, `${key}.f32`));
    },
  };
}

/** `train()`, or the model a cache holds under `what` (stored there after training). */
export function cachedModel(
  cache: ModelCache | undefined,
  what: unknown,
  config: LmConfig,
  train: () => LmModel,
): LmModel {
  if (!cache) return train();
  const key = cacheKey(what);
  const hit = cache.get(key, config);
  if (hit) return createModel(config, hit);
  const model = train();
  cache.set(key, config, hostParams(model));
  return model;
}

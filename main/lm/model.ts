// A small decoder-only transformer in TF.js: token + learned position embeddings, pre-LayerNorm
// blocks of causal multi-head self-attention and an MLP, a final LayerNorm and an untied output head.
// Parameters live in tf.Variables keyed by name ("block.0.wqkv"...), so a fine-tune can pick layers.
// Shapes: B batch, T positions, d model width, H heads, dh = d / H, V vocabulary.
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../engine/rng.ts';
import { VOCAB_SIZE } from './vocab.ts';

export interface LmConfig {
  layers: number;
  dModel: number;
  heads: number;
  context: number;
  vocab: number;
  /** MLP width as a multiple of dModel. */
  mlpRatio: number;
}

export const DEFAULT_LM_CONFIG: LmConfig = {
  layers: 2,
  dModel: 64,
  heads: 4,
  context: 48,
  vocab: VOCAB_SIZE,
  mlpRatio: 4,
};

export type Params = Record<string, tf.Tensor>;

export interface LmModel {
  config: LmConfig;
  vars: Record<string, tf.Variable>;
}

/** Shapes of every parameter, in a fixed order (the order host copies and checkpoints use). */
export function paramShapes(c: LmConfig): [string, number[]][] {
  const d = c.dModel;
  const m = d * c.mlpRatio;
  const shapes: [string, number[]][] = [
    ['tokEmb', [c.vocab, d]],
    ['posEmb', [c.context, d]],
  ];
  for (let l = 0; l < c.layers; l++) {
    const p = `block.${l}.`;
    shapes.push(
      [p + 'ln1g', [d]],
      [p + 'ln1b', [d]],
      [p + 'wqkv', [d, 3 * d]],
      [p + 'bqkv', [3 * d]],
      [p + 'wo', [d, d]],
      [p + 'bo', [d]],
      [p + 'ln2g', [d]],
      [p + 'ln2b', [d]],
      [p + 'w1', [d, m]],
      [p + 'b1', [m]],
      [p + 'w2', [m, d]],
      [p + 'b2', [d]],
    );
  }
  shapes.push(['lnfg', [d]], ['lnfb', [d]], ['wout', [d, c.vocab]], ['bout', [c.vocab]]);
  return shapes;
}

export function checkConfig(c: LmConfig): void {
  if (c.dModel % c.heads !== 0) throw new Error(`dModel ${c.dModel} is not divisible by heads ${c.heads}`);
  for (const k of ['layers', 'dModel', 'heads', 'context', 'vocab', 'mlpRatio'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new Error(`language model ${k} must be a positive integer`);
  }
}

/**
 * Host-side initial parameters from a seed (GPT-2 style: N(0, 0.02), residual output projections
 * scaled by 1/sqrt(2 layers), LayerNorm gains 1, biases 0), so one seed gives one model on any backend.
 */
export function initParams(c: LmConfig, seed: number): Map<string, Float32Array> {
  checkConfig(c);
  const rng = new Rng(seed);
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of paramShapes(c)) {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const leaf = name.slice(name.lastIndexOf('.') + 1);
    if (leaf.startsWith('ln') && leaf.endsWith('g')) values.fill(1);
    else if (!(leaf.startsWith('b') || (leaf.startsWith('ln') && leaf.endsWith('b')))) {
      const std = leaf === 'wo' || leaf === 'w2' ? 0.02 / Math.sqrt(2 * c.layers) : 0.02;
      for (let i = 0; i < values.length; i++) values[i] = rng.normal() * std;
    }
    out.set(name, values);
  }
  return out;
}

export function createModel(c: LmConfig, host: Map<string, Float32Array>): LmModel {
  const vars: Record<string, tf.Variable> = {};
  for (const [name, shape] of paramShapes(c)) {
    const values = host.get(name);
    if (!values) throw new Error(`missing parameter ${name}`);
    vars[name] = tf.variable(tf.tensor(values, shape, 'float32'), true, undefined);
  }
  return { config: c, vars };
}

export function initModel(c: LmConfig, seed: number): LmModel {
  return createModel(c, initParams(c, seed));
}

/** Parameters copied to the host (to clone a model, or move it to another backend). */
export function hostParams(model: LmModel): Map<string, Float32Array> {
  return new Map(Object.entries(model.vars).map(([k, v]) => [k, v.dataSync() as Float32Array]));
}

export function cloneModel(model: LmModel): LmModel {
  return createModel(model.config, hostParams(model));
}

export function disposeModel(model: LmModel): void {
  for (const v of Object.values(model.vars)) v.dispose();
}

export function layerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor {
  // Over the last axis; epsilon 1e-5 as GPT-2.
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
}

/** GELU in its sigmoid form x * sigmoid(1.702 x): smooth, so finite differences check it well. */
function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
}

/** Additive causal mask [T, T]: 0 on and below the diagonal, -1e9 above (a later key is never seen). */
export function causalMask(t: number): tf.Tensor2D {
  const m = new Float32Array(t * t);
  for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) m[i * t + j] = -1e9;
  return tf.tensor2d(m, [t, t]);
}

/**
 * Scaled dot-product attention. q [B, H, Tq, dh], k and v [B, H, Tk, dh], mask [Tq, Tk] additive or
 * null. Returns [B, H, Tq, dh].
 */
export function attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor | null): tf.Tensor {
  const dh = q.shape[3]!;
  let scores = tf.mul(tf.matMul(q as tf.Tensor4D, k as tf.Tensor4D, false, true), 1 / Math.sqrt(dh)); // [B,H,Tq,Tk]
  if (mask) scores = tf.add(scores, mask);
  return tf.matMul(tf.softmax(scores) as tf.Tensor4D, v as tf.Tensor4D); // [B,H,Tq,dh]
}

/** [B*T, 3d] -> q, k, v each [B, H, T, dh]. */
function splitHeads(qkv: tf.Tensor, b: number, t: number, c: LmConfig): tf.Tensor[] {
  const dh = c.dModel / c.heads;
  const r = tf.transpose(tf.reshape(qkv, [b, t, 3, c.heads, dh]), [2, 0, 3, 1, 4]); // [3,B,H,T,dh]
  return tf.unstack(r, 0);
}

/** [B, H, T, dh] -> [B*T, d]. */
function mergeHeads(x: tf.Tensor, b: number, t: number, c: LmConfig): tf.Tensor {
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b * t, c.dModel]);
}

function mlp(p: Params, pre: string, h: tf.Tensor): tf.Tensor {
  const hidden = gelu(tf.add(tf.matMul(h as tf.Tensor2D, p[pre + 'w1'] as tf.Tensor2D), p[pre + 'b1']!));
  return tf.add(tf.matMul(hidden as tf.Tensor2D, p[pre + 'w2'] as tf.Tensor2D), p[pre + 'b2']!);
}

/**
 * One block over a flat residual stream x [B*T, d]. `kv` lets sampling supply cached keys/values:
 * given past k, v [B, H, Tpast, dh], the block attends over past + current and returns the new k, v.
 */
function block(
  p: Params,
  l: number,
  x: tf.Tensor,
  b: number,
  t: number,
  c: LmConfig,
  mask: tf.Tensor | null,
  past?: { k: tf.Tensor; v: tf.Tensor },
): { x: tf.Tensor; k: tf.Tensor; v: tf.Tensor } {
  const pre = `block.${l}.`;
  const h = layerNorm(x, p[pre + 'ln1g']!, p[pre + 'ln1b']!);
  const qkv = tf.add(tf.matMul(h as tf.Tensor2D, p[pre + 'wqkv'] as tf.Tensor2D), p[pre + 'bqkv']!); // [B*T,3d]
  const [q, kNew, vNew] = splitHeads(qkv, b, t, c) as [tf.Tensor, tf.Tensor, tf.Tensor];
  const k = past ? tf.concat([past.k, kNew], 2) : kNew; // [B,H,Tk,dh]
  const v = past ? tf.concat([past.v, vNew], 2) : vNew;
  const a = mergeHeads(attention(q, k, v, mask), b, t, c);
  const x1 = tf.add(x, tf.add(tf.matMul(a as tf.Tensor2D, p[pre + 'wo'] as tf.Tensor2D), p[pre + 'bo']!));
  const x2 = tf.add(x1, mlp(p, pre, layerNorm(x1, p[pre + 'ln2g']!, p[pre + 'ln2b']!)));
  return { x: x2, k, v };
}

function head(p: Params, x: tf.Tensor): tf.Tensor {
  const h = layerNorm(x, p.lnfg!, p.lnfb!);
  return tf.add(tf.matMul(h as tf.Tensor2D, p.wout as tf.Tensor2D), p.bout!); // [N, V]
}

/** Logits [B, T, V] for token ids [B, T] (T <= context); position i sees tokens 0..i only. */
export function forward(p: Params, c: LmConfig, tokens: tf.Tensor2D): tf.Tensor3D {
  const [b, t] = tokens.shape;
  if (t > c.context) throw new Error(`sequence of ${t} tokens is longer than the context (${c.context})`);
  const emb = tf.gather(p.tokEmb!, tf.reshape(tokens, [b * t])); // [B*T, d]
  const pos = tf.tile(tf.slice(p.posEmb!, [0, 0], [t, c.dModel]), [b, 1]); // [B*T, d]
  let x = tf.add(emb, pos);
  const mask = causalMask(t);
  for (let l = 0; l < c.layers; l++) x = block(p, l, x, b, t, c, mask).x;
  return tf.reshape(head(p, x), [b, t, c.vocab]);
}

/** Keys and values of every layer for the positions seen so far (each [B, H, t, dh]). */
export interface KvCache {
  k: tf.Tensor[];
  v: tf.Tensor[];
  length: number;
}

/**
 * One decoding step: the next token of each sequence, tokens [B] at position `cache.length`, against
 * the cache. Returns logits [B, V] and the extended cache (the caller disposes the old one; all
 * returned tensors are kept out of any enclosing tidy's reach by the caller's tf.keep).
 */
export function step(p: Params, c: LmConfig, tokens: tf.Tensor1D, cache: KvCache | null): { logits: tf.Tensor2D; cache: KvCache } {
  const b = tokens.shape[0];
  const at = cache?.length ?? 0;
  if (at >= c.context) throw new Error(`position ${at} is outside the context (${c.context})`);
  let x = tf.add(tf.gather(p.tokEmb!, tokens), tf.slice(p.posEmb!, [at, 0], [1, c.dModel])); // [B, d]
  const k: tf.Tensor[] = [];
  const v: tf.Tensor[] = [];
  for (let l = 0; l < c.layers; l++) {
    // A single query at the newest position may see every cached key: no mask needed.
    const r = block(p, l, x, b, 1, c, null, cache ? { k: cache.k[l]!, v: cache.v[l]! } : undefined);
    x = r.x;
    k.push(r.k);
    v.push(r.v);
  }
  return { logits: head(p, x) as tf.Tensor2D, cache: { k, v, length: at + 1 } };
}

/**
 * Mean cross-entropy of next-token prediction over positions with weight > 0. tokens [B, T+1];
 * weights [B, T] says which targets (tokens[:, 1:]) count, e.g. completion tokens only.
 */
export function sequenceLoss(p: Params, c: LmConfig, tokens: tf.Tensor2D, weights: tf.Tensor2D): tf.Scalar {
  const [b, t1] = tokens.shape;
  const inputs = tf.slice(tokens, [0, 0], [b, t1 - 1]) as tf.Tensor2D;
  const targets = tf.slice(tokens, [0, 1], [b, t1 - 1]);
  const logp = tf.logSoftmax(forward(p, c, inputs)); // [B,T,V]
  const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.cast(targets, 'int32'), c.vocab)), -1); // [B,T]
  return tf.div(tf.neg(tf.sum(tf.mul(picked, weights))), tf.maximum(tf.sum(weights), 1)) as tf.Scalar;
}

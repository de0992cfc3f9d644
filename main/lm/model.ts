// A small decoder-only transformer in TF.js: token + learned position embeddings, pre-LayerNorm
// blocks of causal multi-head self-attention and an MLP, a final LayerNorm and an untied output head.
// Parameters live in tf.Variables keyed by name ("block.0.wqkv"...), so a fine-tune can pick layers.
// Shapes: B batch, T positions, d model width, H heads, dh = d / H, V vocabulary.
import * as tf from '@tensorflow/tfjs-core';
import { linear2d } from '../engine/ops.ts';
import { bmm } from './batched-matmul.ts';
import {
  fusedAttention,
  fusedCrossEntropy,
  decodeState,
  fusedDecodeStep,
  fusedEmbed,
  fusedDense,
  fusedGelu,
  fusedKernelsAvailable,
  fusedLayerNorm,
  shareClones,
} from './fused-kernels.ts';
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
    if (!Number.isInteger(c[k]) || c[k] < 1)
      throw new Error(`language model ${k} must be a positive integer`);
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

/**
 * Which kernels a block runs: "fused" (fused-kernels.ts: one kernel per LayerNorm, GELU and attention,
 * on wasm with the native BLAS) or "graph" (TF.js ops, every backend). "auto": fused where it can.
 * The two agree within float32 rounding; "graph" stays selectable for the benchmark and the tests.
 */
export type LmKernels = 'auto' | 'fused' | 'graph';
const KERNELS: readonly LmKernels[] = ['auto', 'fused', 'graph'];

/** SUBLAB_LM_KERNELS (default auto): how a whole run, worker processes included, is switched. */
export function kernelsFromEnv(value = process.env.SUBLAB_LM_KERNELS): LmKernels {
  const v = (value ?? 'auto').trim().toLowerCase();
  if ((KERNELS as readonly string[]).includes(v)) return v as LmKernels;
  throw new Error(`SUBLAB_LM_KERNELS must be one of ${KERNELS.join(', ')}, not "${value}"`);
}
let kernels: LmKernels = kernelsFromEnv();

/** Sets the kernels for every later forward pass; returns the previous setting. */
export function useLmKernels(k: LmKernels): LmKernels {
  const previous = kernels;
  if (k === 'fused' && !fusedKernelsAvailable())
    throw new Error('fused language-model kernels need the wasm backend and the native BLAS (sublab-blas)');
  kernels = k;
  // The graph path runs exactly as before the fused kernels, clones copying their data included.
  if (k === 'graph') shareClones(false);
  else if (fusedKernelsAvailable()) shareClones(true);
  return previous;
}

/** Whether forward passes now run the fused kernels (and a trainer may pack its batches). */
export function fused(): boolean {
  return kernels !== 'graph' && fusedKernelsAvailable();
}

export function layerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (fused() && x.rank === 2) return fusedLayerNorm(x as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D);
  // Over the last axis; epsilon 1e-5 as GPT-2.
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
}

/** GELU in its sigmoid form x * sigmoid(1.702 x): smooth, so finite differences check it well. */
function gelu(x: tf.Tensor): tf.Tensor {
  if (fused()) return fusedGelu(x);
  return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
}

/** Additive causal mask [T, T]: 0 on and below the diagonal, -1e9 above (a later key is never seen). */
export function causalMask(t: number): tf.Tensor2D {
  const m = new Float32Array(t * t);
  for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) m[i * t + j] = -1e9;
  return tf.tensor2d(m, [t, t]);
}

/**
 * Scaled dot-product attention of one head (or any leading batch axes). q [..., Tq, dh], k and v
 * [..., Tk, dh], mask [Tq, Tk] additive or null. Returns [..., Tq, dh].
 */
export function attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor | null): tf.Tensor {
  const dh = q.shape[q.rank - 1]!;
  // Leading axes folded into one batch axis for the batched matmul (bmm: BLAS on wasm when present).
  const lead = q.shape.slice(0, -2);
  const as3 = (x: tf.Tensor) =>
    tf.reshape(x, [-1, x.shape[x.rank - 2]!, x.shape[x.rank - 1]!]) as tf.Tensor3D;
  let scores: tf.Tensor = tf.mul(bmm(as3(q), as3(k), true), 1 / Math.sqrt(dh)); // [N, Tq, Tk]
  if (mask) scores = tf.add(scores, mask);
  const out = bmm(tf.softmax(scores) as tf.Tensor3D, as3(v)); // [N, Tq, dh]
  return tf.reshape(out, [...lead, q.shape[q.rank - 2]!, dh]);
}

/**
 * x [N, in] x w [in, out] + b: through the project's wasm fast path (ops.ts), where TF.js's own
 * matmul with transpose flags (its gradient) runs ~20x slower than a plain 2-D one.
 */
function dense(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  if (fused()) return fusedDense(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D);
  return linear2d(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D, false);
}

function mlp(p: Params, pre: string, h: tf.Tensor): tf.Tensor {
  const hidden = gelu(dense(h, p[pre + 'w1']!, p[pre + 'b1']!));
  return dense(hidden, p[pre + 'w2']!, p[pre + 'b2']!);
}

/**
 * One head's projection: x [B*T, d] times the columns `part` (0 q, 1 k, 2 v) of head `h` in wqkv,
 * as [B, T, dh]. Heads are computed apart, each a plain 2-D matmul on a slice of the weights, so no
 * [B, T, H, dh] <-> [B, H, T, dh] transpose is needed: on wasm a transpose moves ~0.1 G elements/s.
 */
function project(
  p: Params,
  pre: string,
  x: tf.Tensor,
  c: LmConfig,
  b: number,
  t: number,
  part: number,
  h: number,
): tf.Tensor3D {
  const dh = c.dModel / c.heads;
  const at = part * c.dModel + h * dh;
  const w = tf.slice(p[pre + 'wqkv']!, [0, at], [c.dModel, dh]);
  const bias = tf.slice(p[pre + 'bqkv']!, [at], [dh]);
  return tf.reshape(dense(x, w, bias), [b, t, dh]);
}

/** Keys and values of one layer's heads for the positions seen so far (each [B, t, dh]). */
export interface LayerKv {
  k: tf.Tensor[];
  v: tf.Tensor[];
}

/**
 * One block over a flat residual stream x [B*T, d]. `past` lets sampling supply cached keys and
 * values: the block attends over past + current positions and returns both.
 */
function block(
  p: Params,
  l: number,
  x: tf.Tensor,
  b: number,
  t: number,
  c: LmConfig,
  mask: tf.Tensor | null,
  past?: LayerKv,
): { x: tf.Tensor; kv: LayerKv } {
  const pre = `block.${l}.`;
  // Fused: a whole causal window of each sequence (no cache), through the fused kernels.
  if (mask && !past && fused())
    return { x: fusedBlock(p, l, x, new Array<number>(b).fill(t), c), kv: { k: [], v: [] } };
  const hN = layerNorm(x, p[pre + 'ln1g']!, p[pre + 'ln1b']!);
  const kv: LayerKv = { k: [], v: [] };
  const heads: tf.Tensor[] = [];
  for (let h = 0; h < c.heads; h++) {
    const q = project(p, pre, hN, c, b, t, 0, h);
    const kNew = project(p, pre, hN, c, b, t, 1, h);
    const vNew = project(p, pre, hN, c, b, t, 2, h);
    const k = past ? tf.concat([past.k[h]!, kNew], 1) : kNew; // [B, Tk, dh]
    const v = past ? tf.concat([past.v[h]!, vNew], 1) : vNew;
    kv.k.push(k);
    kv.v.push(v);
    heads.push(tf.reshape(attention(q, k, v, mask), [b * t, c.dModel / c.heads]));
  }
  return { x: mlpResidual(p, pre, x, tf.concat(heads, 1)), kv }; // heads side by side [B*T, d]
}

/**
 * One block through the fused kernels over sequences of `lengths` positions stored one after another
 * as the rows of x [N, d]: one projection for every head, attention as one kernel.
 */
function fusedBlock(p: Params, l: number, x: tf.Tensor, lengths: readonly number[], c: LmConfig): tf.Tensor {
  const pre = `block.${l}.`;
  const hN = layerNorm(x, p[pre + 'ln1g']!, p[pre + 'ln1b']!);
  const qkv = dense(hN, p[pre + 'wqkv']!, p[pre + 'bqkv']!);
  return mlpResidual(p, pre, x, fusedAttention(qkv, lengths, c.heads));
}

/** The block's rest after attention: output projection, residual, LayerNorm, MLP, residual. */
function mlpResidual(p: Params, pre: string, x: tf.Tensor, heads: tf.Tensor): tf.Tensor {
  const x1 = tf.add(x, dense(heads, p[pre + 'wo']!, p[pre + 'bo']!));
  return tf.add(x1, mlp(p, pre, layerNorm(x1, p[pre + 'ln2g']!, p[pre + 'ln2b']!)));
}

function head(p: Params, x: tf.Tensor): tf.Tensor {
  const h = layerNorm(x, p.lnfg!, p.lnfb!);
  return dense(h, p.wout!, p.bout!); // [N, V]
}

/**
 * Token embeddings [N, d] for ids [N]: rows by id through the fused kernels, else oneHot x table (the
 * gradient of tf.gather needs UnsortedSegmentSum, which the wasm backend lacks; at V ~ 60 the matmul
 * costs little).
 */
function embed(p: Params, c: LmConfig, ids: tf.Tensor1D): tf.Tensor {
  if (fused()) return fusedEmbed(p.tokEmb as tf.Tensor2D, tf.cast(ids, 'int32') as tf.Tensor1D);
  return linear2d(
    tf.oneHot(tf.cast(ids, 'int32'), c.vocab).toFloat() as tf.Tensor2D,
    p.tokEmb as tf.Tensor2D,
    tf.zeros([c.dModel]),
    true,
  );
}

/** The residual stream [B*T, d] after the first `blocks` blocks, for token ids [B, T]. */
function residual(p: Params, c: LmConfig, tokens: tf.Tensor2D, blocks: number): tf.Tensor {
  const [b, t] = tokens.shape;
  if (t > c.context) throw new Error(`sequence of ${t} tokens is longer than the context (${c.context})`);
  const emb = embed(p, c, tf.reshape(tokens, [b * t]) as tf.Tensor1D); // [B*T, d]
  const pos = tf.slice(p.posEmb!, [0, 0], [t, c.dModel]); // [T, d], broadcast over the batch
  let x = tf.reshape(tf.add(tf.reshape(emb, [b, t, c.dModel]), pos), [b * t, c.dModel]);
  const mask = causalMask(t);
  for (let l = 0; l < blocks; l++) x = block(p, l, x, b, t, c, mask).x;
  return x;
}

/**
 * A batch without padding: each sequence's inputs (its tokens but the last) one after another, with
 * their positions, next-token targets and loss weights, all [N]. Fused kernels only (the attention
 * kernel keeps each sequence to itself); a padded batch's padding carries weight 0 and, attention
 * being causal, changes no real position, so both give one loss and one gradient.
 */
export interface PackedBatch {
  ids: tf.Tensor1D;
  positions: tf.Tensor1D;
  targets: tf.Tensor1D;
  weights: tf.Tensor1D;
  lengths: number[];
}

/** The residual stream [N, d] of a packed batch after every block. */
function packedResidual(p: Params, c: LmConfig, batch: PackedBatch): tf.Tensor {
  if (Math.max(...batch.lengths) > c.context)
    throw new Error(
      `sequence of ${Math.max(...batch.lengths)} tokens is longer than the context (${c.context})`,
    );
  const pos = fusedEmbed(p.posEmb as tf.Tensor2D, batch.positions); // [N, d], each row its position's
  let x = tf.add(embed(p, c, batch.ids), pos);
  for (let l = 0; l < c.layers; l++) x = fusedBlock(p, l, x, batch.lengths, c);
  return x;
}

/** sequenceLoss of a packed batch: the same mean cross-entropy over targets with weight > 0. */
export function packedLoss(p: Params, c: LmConfig, batch: PackedBatch): tf.Scalar {
  const logits = head(p, packedResidual(p, c, batch)) as tf.Tensor2D; // [N, V]
  return fusedCrossEntropy(logits, batch.targets, batch.weights);
}

/**
 * The values of the tensor `make` builds, its intermediates disposed. Read after the tidy, not inside:
 * tf.tidy walks what its function returns as a tensor container, a typed array element by element
 * (about 2 µs each: 0.9 s of the channel check's 1.1 s went there).
 */
export function readTidy(make: () => tf.Tensor): Float32Array {
  const t = tf.tidy(make);
  try {
    return t.dataSync() as Float32Array;
  } finally {
    t.dispose();
  }
}

/** Logits [B, T, V] for token ids [B, T] (T <= context); position i sees tokens 0..i only. */
export function forward(p: Params, c: LmConfig, tokens: tf.Tensor2D): tf.Tensor3D {
  const [b, t] = tokens.shape;
  return tf.reshape(head(p, residual(p, c, tokens, c.layers)), [b, t, c.vocab]);
}

/** The residual stream [B, T, d] at the output of block `layer` (what a steering vector is added to). */
export function residualStream(p: Params, c: LmConfig, tokens: tf.Tensor2D, layer: number): tf.Tensor3D {
  if (!(layer >= 0 && layer < c.layers))
    throw new Error(`block ${layer} does not exist (${c.layers} layers)`);
  const [b, t] = tokens.shape;
  return tf.reshape(residual(p, c, tokens, layer + 1), [b, t, c.dModel]);
}

/** Keys and values of every layer for the positions seen so far. */
export interface KvCache {
  layers: LayerKv[];
  length: number;
}

export function cacheTensors(cache: KvCache): tf.Tensor[] {
  return cache.layers.flatMap((l) => [...l.k, ...l.v]);
}

/**
 * One decoding step: the next token of each sequence, tokens [B] at position `cache.length`, against
 * the cache. Returns logits [B, V] and the extended cache (the caller disposes the old one; all
 * returned tensors are kept out of any enclosing tidy's reach by the caller's tf.keep).
 */
export function step(
  p: Params,
  c: LmConfig,
  tokens: tf.Tensor1D,
  cache: KvCache | null,
): { logits: tf.Tensor2D; cache: KvCache } {
  const b = tokens.shape[0];
  const at = cache?.length ?? 0;
  if (at >= c.context) throw new Error(`position ${at} is outside the context (${c.context})`);
  let x = tf.add(embed(p, c, tokens), tf.slice(p.posEmb!, [at, 0], [1, c.dModel])); // [B, d]
  const layers: LayerKv[] = [];
  for (let l = 0; l < c.layers; l++) {
    // A single query at the newest position may see every cached key: no mask needed.
    const r = block(p, l, x, b, 1, c, null, cache?.layers[l]);
    x = r.x;
    layers.push(r.kv);
  }
  return { logits: head(p, x) as tf.Tensor2D, cache: { layers, length: at + 1 } };
}

/** Decodes a batch of sequences one position a step, keeping what it needs between steps. */
export interface Decoder {
  /**
   * Logits [B, V] for tokens [B] at the next position (tensors made inside a tidy are the caller's).
   * `rows` (ascending): the sequences whose logits are wanted; the others' may be anything, and where
   * `skipsRows` they are not computed and those sequences' caches do not grow.
   */
  step(tokens: tf.Tensor1D, rows?: Int32Array): tf.Tensor2D;
  /** Whether step() saves the work of the rows it is not asked for (worth telling it which ended). */
  readonly skipsRows: boolean;
  dispose(): void;
}

/** The graph path's decoder: step() with a cache of TF.js tensors, copied whole at every step. */
function graphDecoder(p: Params, c: LmConfig): Decoder {
  let cache: KvCache | null = null;
  return {
    step(tokens) {
      const r = step(p, c, tokens, cache);
      for (const t of cacheTensors(r.cache)) tf.keep(t);
      if (cache) tf.dispose(cacheTensors(cache));
      cache = r.cache;
      return r.logits;
    },
    skipsRows: false,
    dispose: () => {
      if (cache) tf.dispose(cacheTensors(cache));
    },
  };
}

/**
 * The fused kernels' decoder: each step one kernel (every block and the head: the chain of fusedBlock's
 * kernels with decoding attention), keys and values written in place into caches outside TF.js.
 */
function fusedDecoder(p: Params, c: LmConfig, batch: number): Decoder {
  const sizes = {
    b: batch,
    layers: c.layers,
    d: c.dModel,
    heads: c.heads,
    hidden: c.dModel * c.mlpRatio,
    vocab: c.vocab,
    context: c.context,
  };
  const params = paramShapes(c).map(([name]) => p[name]!);
  const state = decodeState(sizes);
  const all = Int32Array.from({ length: batch }, (_, i) => i);
  let at = 0;
  return {
    step(tokens, rows = all) {
      if (at >= c.context) throw new Error(`position ${at} is outside the context (${c.context})`);
      if (tokens.shape[0] !== batch)
        throw new Error(`decoder of ${batch} sequences given ${tokens.shape[0]} tokens`);
      return fusedDecodeStep(params, tf.cast(tokens, 'int32') as tf.Tensor1D, sizes, at++, state, rows);
    },
    skipsRows: true,
    dispose: () => {},
  };
}

/** A decoder for `batch` sequences: the fused one where the fused kernels run. */
export function decoder(p: Params, c: LmConfig, batch: number): Decoder {
  return fused() ? fusedDecoder(p, c, batch) : graphDecoder(p, c);
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

/** The teacher's next-token probabilities softmax(logits / T) [B, T, V] for the inputs tokens[:, :-1]. */
export function softTargets(
  p: Params,
  c: LmConfig,
  tokens: tf.Tensor2D,
  temperature: number,
  mask?: tf.Tensor1D,
): tf.Tensor3D {
  const [b, t1] = tokens.shape;
  return tf.tidy(() => {
    const logits = tf.div(forward(p, c, tf.slice(tokens, [0, 0], [b, t1 - 1]) as tf.Tensor2D), temperature);
    return tf.softmax(mask ? tf.add(logits, mask) : logits) as tf.Tensor3D;
  });
}

/** An additive logit mask [V]: 0 on `ids`, -1e9 elsewhere (a distribution renormalised over `ids`). */
export function logitMask(ids: readonly number[], vocab: number): tf.Tensor1D {
  const m = new Float32Array(vocab).fill(-1e9);
  for (const id of ids) m[id] = 0;
  return tf.tensor1d(m);
}

/**
 * Soft-label distillation: mean cross-entropy of the student's next-token distribution against the
 * teacher's `targets` [B, T, V] over positions with weight > 0. Its gradient is that of
 * KL(targets || student); the value exceeds the KL by the targets' entropy.
 */
export function softLoss(
  p: Params,
  c: LmConfig,
  tokens: tf.Tensor2D,
  weights: tf.Tensor2D,
  targets: tf.Tensor3D,
  mask?: tf.Tensor1D,
): tf.Scalar {
  const [b, t1] = tokens.shape;
  const logits = forward(p, c, tf.slice(tokens, [0, 0], [b, t1 - 1]) as tf.Tensor2D); // [B,T,V]
  const logp = tf.logSoftmax(mask ? tf.add(logits, mask) : logits);
  const ce = tf.neg(tf.sum(tf.mul(targets, logp), -1)); // [B,T]
  return tf.div(tf.sum(tf.mul(ce, weights)), tf.maximum(tf.sum(weights), 1)) as tf.Scalar;
}

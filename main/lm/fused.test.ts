// The fused kernels (fused-kernels.ts) against TF.js's graph of the same model (model.ts): forward
// logits, loss, every parameter's gradient, and a few Adam steps agree within float32 rounding.
// Outside CI these tests are skipped where the native BLAS is not built; in CI they must run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../engine/backend.ts';
import { describeMatmul, nativeBlas, type NativeBlas } from '../engine/native-blas.ts';
import { Rng } from '../engine/rng.ts';
import {
  kernelsFromEnv,
  createModel,
  decoder,
  disposeModel,
  forward,
  hostParams,
  paramShapes,
  sequenceLoss,
  useLmKernels,
  type LmConfig,
  type LmKernels,
} from './model.ts';
import { decodeState } from './fused-kernels.ts';
import { Trainer } from './train.ts';
import type { Example } from './world.ts';

const blas = nativeBlas();
const needsAddon = blas.ok || process.env.CI ? {} : { skip: `no native BLAS here: ${describeMatmul(blas)}` };

const C: LmConfig = { layers: 2, dModel: 16, heads: 4, context: 12, vocab: 13, mlpRatio: 4 };
/** Heads 16 wide, as the preset's: the attention kernels' 8-lane path (C's heads of 4 take the scalar one). */
const C16: LmConfig = { ...C, dModel: 32, heads: 2 };

/** Wider than the real init (std 0.3) so attention is far from uniform and LayerNorm far from identity. */
function params(seed: number, c: LmConfig = C): Map<string, Float32Array> {
  const rng = new Rng(seed);
  return new Map(
    paramShapes(c).map(([name, shape]) => {
      const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
      const gain = /ln.g$/.test(name) ? 1 : 0;
      for (let i = 0; i < v.length; i++) v[i] = gain + rng.normal() * 0.3;
      return [name, v];
    }),
  );
}

function batch(seed: number, b: number, t: number): { tokens: tf.Tensor2D; weights: tf.Tensor2D } {
  const rng = new Rng(seed);
  const ids = Int32Array.from({ length: b * (t + 1) }, () => rng.int(C.vocab));
  const w = Float32Array.from({ length: b * t }, () => (rng.next() < 0.7 ? 1 : 0));
  return { tokens: tf.tensor2d(ids, [b, t + 1], 'int32'), weights: tf.tensor2d(w, [b, t]) };
}

function withKernels<T>(k: LmKernels, f: () => T): T {
  const previous = useLmKernels(k);
  try {
    return f();
  } finally {
    useLmKernels(previous);
  }
}

/** Largest |a - b| relative to the largest |b| (scale-free, so a gradient of any size compares). */
function relDiff(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 1e-30;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / den;
}

function lossAndGrads(
  k: LmKernels,
  c: LmConfig,
): {
  logits: Float32Array;
  loss: number;
  grads: Map<string, Float32Array>;
} {
  const model = createModel(c, params(1, c));
  const { tokens, weights } = batch(2, 5, c.context);
  const out = withKernels(k, () => {
    const inputs = tf.slice(tokens, [0, 0], [5, c.context]) as tf.Tensor2D;
    const logits = tf.tidy(() => forward(model.vars, c, inputs).dataSync() as Float32Array);
    const { value, grads } = tf.variableGrads(() => sequenceLoss(model.vars, c, tokens, weights));
    const g = new Map(
      Object.entries(model.vars).map(([n, v]) => [n, grads[v.name]!.dataSync() as Float32Array]),
    );
    const loss = value.dataSync()[0]!;
    tf.dispose([inputs, value, ...Object.values(grads)]);
    return { logits, loss, grads: g };
  });
  tf.dispose([tokens, weights]);
  disposeModel(model);
  return out;
}

test(
  "fused kernels give the graph path's logits, loss and gradients within float32 rounding",
  needsAddon,
  async () => {
    await initBackend('wasm');
    for (const c of [C, C16]) {
      const graph = lossAndGrads('graph', c);
      const fused = lossAndGrads('fused', c);
      const heads = `heads of ${c.dModel / c.heads}`;
      assert.ok(
        relDiff(fused.logits, graph.logits) < 1e-5,
        `${heads}: logits differ by ${relDiff(fused.logits, graph.logits)}`,
      );
      assert.ok(Math.abs(fused.loss - graph.loss) < 1e-5 * graph.loss, heads);
      assert.equal(fused.grads.size, paramShapes(c).length);
      for (const [name, g] of graph.grads) {
        const d = relDiff(fused.grads.get(name)!, g);
        // A wrong term (a sign, a missing softmax or LayerNorm part) moves a gradient by its own size.
        assert.ok(d < 1e-4, `${heads}, ${name}: gradients differ by ${d} of their size`);
      }
    }
  },
);

/** The parameters after five steps, and each step's loss. */
function trained(k: LmKernels): { params: Map<string, Float32Array>; losses: number[] } {
  const rng = new Rng(4);
  // Lengths from 4 to the context + 1 (a packed batch has no padding; the graph's pads to the longest),
  // and one example whose loss mask leaves answer tokens out.
  const examples: Example[] = Array.from({ length: 6 }, (_, i) => {
    const n = i === 0 ? C.context + 1 : 4 + rng.int(C.context - 3);
    const tokens = Array.from({ length: n }, () => rng.int(C.vocab));
    const lossMask = i === 1 ? Uint8Array.from({ length: n - 2 }, (_, j) => j % 2) : undefined;
    return { tokens, promptLength: 2, ...(lossMask ? { lossMask } : {}) };
  });
  const model = createModel(C, params(3));
  const losses = withKernels(k, () => {
    const trainer = new Trainer(model, { kind: 'adam', lr: 1e-3 });
    const read = Array.from({ length: 5 }, (_, s) => trainer.step(examples, s % 2 ? 'answer' : 'all', true)!);
    trainer.dispose();
    return read;
  });
  const out = hostParams(model);
  disposeModel(model);
  return { params: out, losses };
}

test(
  "five Adam steps with fused kernels end at the graph path's parameters within float32 rounding",
  needsAddon,
  async () => {
    await initBackend('wasm');
    const { params: graph, losses: graphLosses } = trained('graph');
    const { params: fused, losses: fusedLosses } = trained('fused');
    // The packed batch's loss (one cross-entropy kernel) is the padded graph's, step by step.
    fusedLosses.forEach((l, s) =>
      assert.ok(Math.abs(l - graphLosses[s]!) < 1e-5 * graphLosses[s]!, `step ${s}`),
    );
    const start = params(3);
    for (const [name, g] of graph) {
      // The key bias only shifts every score of a row alike, which softmax ignores: its true gradient is
      // 0 and either path's is rounding noise, which Adam scales to full-size steps. Its q and v parts count.
      if (name.endsWith('bqkv')) {
        const d = C.dModel;
        for (const x of [g, fused.get(name)!, start.get(name)!]) x.fill(0, d, 2 * d);
      }
      // Relative to how far the step moved the parameter, so a parameter that did not train cannot pass
      // by being unchanged on both paths while the other's move was wrong.
      const moved = relDiff(g, start.get(name)!) * Math.max(...start.get(name)!.map(Math.abs));
      const diff = relDiff(fused.get(name)!, g) * Math.max(...g.map(Math.abs));
      assert.ok(diff <= 1e-3 * moved + 1e-7, `${name}: ${diff} apart after moving ${moved}`);
    }
  },
);

test(
  "fused decoding (a cache written in place) gives the full forward pass's logits at every position",
  needsAddon,
  async () => {
    await initBackend('wasm');
    const model = createModel(C, params(5));
    const rng = new Rng(6);
    const toks = Array.from({ length: 3 }, () => Array.from({ length: C.context }, () => rng.int(C.vocab)));
    const logits = (k: LmKernels) =>
      withKernels(k, () => {
        const full = tf.tidy(() => forward(model.vars, C, tf.tensor2d(toks, undefined, 'int32')).arraySync());
        const decode = decoder(model.vars, C, 3);
        const stepped = Array.from({ length: C.context }, (_, t) =>
          tf.tidy(() =>
            decode
              .step(
                tf.tensor1d(
                  toks.map((row) => row[t]!),
                  'int32',
                ),
              )
              .arraySync(),
          ),
        );
        decode.dispose();
        return { full, stepped };
      });
    const fusedRun = logits('fused');
    const graphRun = logits('graph');
    for (let t = 0; t < C.context; t++)
      for (let s = 0; s < 3; s++)
        for (let v = 0; v < C.vocab; v++) {
          const want = graphRun.full[s]![t]![v]!;
          assert.ok(Math.abs(fusedRun.stepped[t]![s]![v]! - want) < 1e-4, `position ${t}, sequence ${s}`);
          assert.ok(Math.abs(graphRun.stepped[t]![s]![v]! - want) < 1e-4);
        }
    const before = tf.memory().numTensors;
    withKernels('fused', () => {
      const decode = decoder(model.vars, C, 3);
      tf.tidy(() => {
        decode.step(tf.tensor1d([1, 2, 3], 'int32'));
      });
      decode.dispose();
    });
    assert.equal(tf.memory().numTensors, before, 'a fused decoding step leaked tensors');
    disposeModel(model);
  },
);

test(
  'with the fused kernels a clone on wasm shares its data and outlives the original; with the graph path it copies',
  needsAddon,
  async () => {
    await initBackend('wasm');
    withKernels('fused', () => {
      const x = tf.tensor1d([1, 2, 3]);
      const before = tf.memory().numDataBuffers;
      const y = tf.clone(x);
      assert.equal(tf.memory().numDataBuffers, before, 'the clone copied its data');
      x.dispose();
      assert.deepEqual([...y.dataSync()], [1, 2, 3]);
      y.dispose();
      assert.equal(tf.memory().numDataBuffers, before - 1);
      const s = tf.clone(tf.tensor1d(['a'] as never, 'string'));
      assert.deepEqual(s.dataSync(), ['a']);
      s.dispose();
    });
    // The graph path runs as it always did: its clones are copies.
    withKernels('graph', () => {
      const x = tf.tensor1d([1, 2, 3]);
      const before = tf.memory().numDataBuffers;
      const y = tf.clone(x);
      assert.equal(tf.memory().numDataBuffers, before + 1);
      tf.dispose([x, y]);
    });
  },
);

test(
  'the native LM kernels check their shapes instead of reading or writing past an array',
  needsAddon,
  () => {
    const lm = (blas as { addon: NativeBlas }).addon.lm;
    assert.ok(lm, 'the addon was built without its LM kernels (npm rebuild sublab-blas)');
    const f = (n: number) => new Float32Array(n);
    // Two sequences of 3 and 2 positions, 2 heads of 2: qkv needs 5 x 12 floats, probs 2 (9 + 4).
    const lengths = Int32Array.from([3, 2]);
    assert.throws(
      () => lm.lmAttention(lengths, 2, 2, f(59), f(20), f(26)),
      /qkv holds 59 floats, the shapes need 60/,
    );
    assert.throws(
      () => lm.lmAttention(lengths, 2, 2, f(60), f(20), f(25)),
      /probs holds 25 floats, the shapes need 26/,
    );
    assert.throws(
      () => lm.lmAttentionGrad(Int32Array.from([3, 0]), 2, 2, f(60), f(26), f(20), f(60)),
      /every sequence length must be from 1 to 65536/,
    );
    assert.throws(
      () => lm.lmAttention(f(2) as never, 2, 2, f(60), f(20), f(26)),
      /lengths must be an Int32Array/,
    );
    assert.throws(() => lm.lmLayerNorm(4, 3, f(12), f(3), f(3), f(11), f(12), f(4)), /y holds 11 floats/);
    assert.throws(
      () => lm.lmCrossEntropy(2, 3, f(6), Int32Array.from([0, 3]), f(2), f(6)),
      /targets must be row ids below 3/,
    );
    assert.throws(
      () => lm.lmEmbed(2, 3, 4, Int32Array.from([0, 3]), f(12), f(8)),
      /ids must be row ids below 3/,
    );
    assert.throws(
      () => lm.lmAdam(4, f(4), f(4), f(3), f(4), f(4), f(4), f(4), 0.9, 0.999, 1e-8, 0.01, 0.1, 0.001),
      /s holds 3 floats, the shapes need 4/,
    );
    // The loss by hand: rows [0, ln 2, 0] -> target 1 (p = 1/2), weight 1, and [0, 0, 0] -> target 2
    // (p = 1/3), weight 3: -(ln(1/2) + 3 ln(1/3)) / 4; probabilities sum to 1 per row.
    const probs = f(6);
    const loss = lm.lmCrossEntropy(
      2,
      3,
      Float32Array.from([0, Math.LN2, 0, 0, 0, 0]),
      Int32Array.from([1, 2]),
      Float32Array.from([1, 3]),
      probs,
    );
    assert.ok(Math.abs(loss - (Math.log(2) + 3 * Math.log(3)) / 4) < 1e-6, `loss ${loss}`);
    assert.ok(Math.abs(probs[1]! - 0.5) < 1e-6 && Math.abs(probs[3]! - 1 / 3) < 1e-6);
  },
);

test(
  'the native LM kernels give each row what it would get alone: LayerNorm rows taken together, attention rows against decoding one position a step, bit for bit',
  needsAddon,
  () => {
    const lm = (blas as { addon: NativeBlas }).addon.lm!;
    const rng = new Rng(11);
    const random = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
    const same = (a: Float32Array, b: Float32Array, what: string) =>
      assert.ok(
        a.every((x, i) => Object.is(x, b[i])),
        `${what} differs at ${a.findIndex((x, i) => !Object.is(x, b[i]))}`,
      );
    // 13 rows of 24: a group of 8 and a remainder of 5 (the kernel takes rows in groups).
    const [rows, d] = [13, 24];
    const [x, g, b, dy] = [random(rows * d), random(d), random(d), random(rows * d)];
    const out = () => [new Float32Array(rows * d), new Float32Array(rows * d), new Float32Array(rows)];
    const [y, xhat, rstd] = out();
    lm.lmLayerNorm(rows, d, x, g, b, y!, xhat!, rstd!);
    const [y1, xhat1, rstd1] = out();
    for (let r = 0; r < rows; r++) {
      const row = (a: Float32Array, w = d) => a.subarray(r * w, (r + 1) * w);
      lm.lmLayerNorm(1, d, row(x), g, b, row(y1!), row(xhat1!), row(rstd1!, 1));
    }
    same(y!, y1!, 'y');
    same(xhat!, xhat1!, 'xhat');
    same(rstd!, rstd1!, 'rstd');
    const [dx, dg, db] = [new Float32Array(rows * d), new Float32Array(d), new Float32Array(d)];
    lm.lmLayerNormGrad(rows, d, xhat!, rstd!, g, dy, dx, dg, db);
    // dg and db: sums in double over the rows in order (a product of two floats is exact in double).
    const sum = (term: (at: number) => number) =>
      Float32Array.from({ length: d }, (_, j) => {
        let s = 0;
        for (let r = 0; r < rows; r++) s += term(r * d + j);
        return s;
      });
    same(
      dg,
      sum((at) => dy[at]! * xhat![at]!),
      'dg',
    );
    same(
      db,
      sum((at) => dy[at]!),
      'db',
    );
    for (let r = 0; r < rows; r++) {
      const one = [new Float32Array(d), new Float32Array(d), new Float32Array(d)] as const;
      const row = (a: Float32Array, w = d) => a.subarray(r * w, (r + 1) * w);
      lm.lmLayerNormGrad(1, d, row(xhat!), row(rstd!, 1), g, row(dy), ...one);
      same(row(dx), one[0], `dx row ${r}`);
    }
    // One sequence of 19 positions (groups of 8 rows and a remainder; dot products 8 at a time and the
    // rest), 2 heads of 16, against decoding with a context of 24.
    const [t, heads, dh, context] = [19, 2, 16, 24];
    const width = heads * dh;
    const qkv = random(t * 3 * width);
    const attended = new Float32Array(t * width);
    lm.lmAttention(Int32Array.from([t]), heads, dh, qkv, attended, new Float32Array(heads * t * t));
    const [kCache, vCache] = [new Float32Array(context * width), new Float32Array(context * width)];
    for (let pos = 0; pos < t; pos++) {
      const step = new Float32Array(width);
      const at = qkv.subarray(pos * 3 * width, (pos + 1) * 3 * width);
      lm.lmDecodeAttention(1, heads, dh, pos, context, at, kCache, vCache, step);
      same(attended.subarray(pos * width, (pos + 1) * width), step, `position ${pos}`);
    }
  },
);

test(
  'one decoding step in one kernel equals the chain of kernels it replaces (embedding, LayerNorm, BLAS products, decoding attention, GELU, residual adds), bit for bit',
  needsAddon,
  () => {
    const addon = (blas as { addon: NativeBlas }).addon;
    const lm = addon.lm!;
    const c: LmConfig = { layers: 2, dModel: 32, heads: 2, context: 12, vocab: 13, mlpRatio: 4 };
    const [b, d, hidden, heads, vocab, context] = [
      5,
      c.dModel,
      c.dModel * c.mlpRatio,
      c.heads,
      c.vocab,
      c.context,
    ];
    const rng = new Rng(5);
    const random = (n: number) => Float32Array.from({ length: n }, () => 0.3 * rng.normal());
    const params = paramShapes(c).map(([, shape]) => random(shape.reduce((n, k) => n * k, 1)));
    const sizes = { b, layers: c.layers, d, heads, hidden, vocab, context };
    const state = decodeState(sizes);
    const reference = decodeState(sizes).caches;
    const all = Int32Array.from({ length: b }, (_, i) => i);
    /** rows x w + bias, the bias as the product's starting value (blas-matmul.ts's affine kernel). */
    const dense = (x: Float32Array, k: number, w: Float32Array, bias: Float32Array) => {
      const out = new Float32Array(b * bias.length);
      for (let r = 0; r < b; r++) out.set(bias, r * bias.length);
      addon.sgemm(false, false, b, bias.length, k, x, w, out, true);
      return out;
    };
    const add = (x: Float32Array, y: Float32Array) => x.map((v, i) => v + y[i]!);
    const layerNorm = (x: Float32Array, g: Float32Array, beta: Float32Array) => {
      const y = new Float32Array(b * d);
      lm.lmLayerNorm(b, d, x, g, beta, y, new Float32Array(b * d), new Float32Array(b));
      return y;
    };
    for (let pos = 0; pos < 7; pos++) {
      const ids = Int32Array.from({ length: b }, () => rng.int(vocab));
      const shape = Int32Array.from([b, c.layers, d, heads, hidden, vocab, context, pos]);
      const logits = new Float32Array(b * vocab);
      const [k, v] = [state.caches.map((x) => x.k), state.caches.map((x) => x.v)];
      lm.lmDecodeStep(shape, ids, all, params, k, v, state.scratch, logits);
      let x = new Float32Array(b * d);
      ids.forEach((id, r) =>
        x.set(add(params[0]!.subarray(id * d, (id + 1) * d), params[1]!.subarray(pos * d)), r * d),
      );
      for (let l = 0; l < c.layers; l++) {
        const [ln1g, ln1b, wqkv, bqkv, wo, bo, ln2g, ln2b, w1, b1, w2, b2] = params.slice(
          2 + 12 * l,
          14 + 12 * l,
        );
        const qkv = dense(layerNorm(x, ln1g!, ln1b!), d, wqkv!, bqkv!);
        const att = new Float32Array(b * d);
        lm.lmDecodeAttention(b, heads, d / heads, pos, context, qkv, reference[l]!.k, reference[l]!.v, att);
        const x1 = add(x, dense(att, d, wo!, bo!));
        const hid = dense(layerNorm(x1, ln2g!, ln2b!), d, w1!, b1!);
        const act = new Float32Array(b * hidden);
        lm.lmGelu(b * hidden, hid, act, new Float32Array(b * hidden));
        x = add(x1, dense(act, hidden, w2!, b2!));
      }
      const [lnfg, lnfb, wout, bout] = params.slice(2 + 12 * c.layers);
      const expected = dense(layerNorm(x, lnfg!, lnfb!), d, wout!, bout!);
      assert.ok(
        logits.every((y, i) => Object.is(y, expected[i])),
        `position ${pos}: logit ${logits.findIndex((y, i) => !Object.is(y, expected[i]))} differs`,
      );
    }
    const shape = (pos: number) => Int32Array.from([b, c.layers, d, heads, hidden, vocab, context, pos]);
    const call = (s: Int32Array, ids: Int32Array, p = params, rows = all) =>
      lm.lmDecodeStep(
        s,
        ids,
        rows,
        p,
        state.caches.map((x) => x.k),
        state.caches.map((x) => x.v),
        state.scratch,
        new Float32Array(b * vocab),
      );
    const ids = new Int32Array(b);
    assert.throws(() => call(shape(context), ids), /pos below the context/);
    assert.throws(() => call(shape(0), ids, params.slice(1)), /params must be an array of 30 Float32Arrays/);
    assert.throws(
      () => call(shape(0), Int32Array.from([0, 1, 13, 0, 0])),
      /ids must be token ids below the vocabulary/,
    );
    assert.throws(
      () => call(shape(0), ids, [params[0]!.subarray(1), ...params.slice(1)]),
      /params\[0\] holds 415 floats, the shapes need 416/,
    );
  },
);

test(
  'a decoding step of some rows gives them the logits and caches of a step of all rows, bit for bit, and leaves the others alone',
  needsAddon,
  () => {
    const lm = (blas as { addon: NativeBlas }).addon.lm!;
    const c: LmConfig = { layers: 2, dModel: 32, heads: 2, context: 12, vocab: 13, mlpRatio: 4 };
    const b = 6;
    const sizes = {
      b,
      layers: c.layers,
      d: c.dModel,
      heads: c.heads,
      hidden: 4 * c.dModel,
      vocab: c.vocab,
      context: c.context,
    };
    const rng = new Rng(9);
    const params = paramShapes(c).map(([, shape]) =>
      Float32Array.from({ length: shape.reduce((n, k) => n * k, 1) }, () => 0.3 * rng.normal()),
    );
    const [full, part] = [decodeState(sizes), decodeState(sizes)];
    const call = (state: typeof full, pos: number, ids: Int32Array, rows: Int32Array) => {
      const logits = new Float32Array(b * c.vocab).fill(Number.NaN);
      const shape = Int32Array.from([b, c.layers, c.dModel, c.heads, 4 * c.dModel, c.vocab, c.context, pos]);
      const [k, v] = [state.caches.map((x) => x.k), state.caches.map((x) => x.v)];
      lm.lmDecodeStep(shape, ids, rows, params, k, v, state.scratch, logits);
      return logits;
    };
    const all = Int32Array.from({ length: b }, (_, i) => i);
    // Sequences end one after another, as in sampling: 6 rows, then 4, then 1 (packed from rows 2..5), then none.
    const live = [all, all, [0, 2, 3, 5], [0, 2, 3, 5], [5], [5], []].map((r) => Int32Array.from(r));
    const stopped = new Map<number, number>(); // row -> first position it was not decoded at
    live.forEach((rows, pos) => {
      const ids = Int32Array.from({ length: b }, () => rng.int(c.vocab));
      const expected = call(full, pos, ids, all);
      const logits = call(part, pos, ids, rows);
      for (let r = 0; r < b; r++) {
        const row = (x: Float32Array) => x.subarray(r * c.vocab, (r + 1) * c.vocab);
        if (!rows.includes(r)) {
          if (!stopped.has(r)) stopped.set(r, pos);
          assert.ok(
            row(logits).every((y) => Object.is(y, 0)),
            `position ${pos}: row ${r} not decoded, logits not 0`,
          );
        } else
          assert.ok(
            row(logits).every((y, i) => Object.is(y, row(expected)[i])),
            `position ${pos}: row ${r}'s logits differ from the step of all rows`,
          );
      }
    });
    // Caches: [b, context, d] each (keys transposed within a row). A row's is the full step's while it ran,
    // and never written after: every position from its stop on is still 0.
    const span = c.context * c.dModel;
    for (let l = 0; l < c.layers; l++)
      for (const kind of ['k', 'v'] as const)
        for (let r = 0; r < b; r++) {
          const [got, want] = [part, full].map((s) => s.caches[l]![kind].subarray(r * span, (r + 1) * span));
          const stop = stopped.get(r) ?? live.length;
          for (let i = 0; i < span; i++) {
            const pos = kind === 'v' ? Math.floor(i / c.dModel) : i % c.context;
            const ok = pos < stop ? Object.is(got![i], want![i]) : got![i] === 0;
            assert.ok(ok, `block ${l} ${kind} cache, row ${r}, position ${pos}`);
          }
        }
    const bad = (rows: number[]) => () => call(part, 0, new Int32Array(b), Int32Array.from(rows));
    assert.throws(bad([2, 1]), /rows must be ascending row indices below b/);
    assert.throws(bad([1, 1]), /rows must be ascending row indices below b/);
    assert.throws(bad([0, 6]), /rows must be ascending row indices below b/);
    assert.throws(bad([0, 1, 2, 3, 4, 5, 5]), /rows must be ascending row indices below b/);
  },
);

test('the kernel choice is checked: a bad SUBLAB_LM_KERNELS and fused kernels without wasm are refused', async () => {
  assert.equal(kernelsFromEnv(undefined), 'auto');
  assert.equal(kernelsFromEnv(' Graph '), 'graph');
  assert.throws(
    () => kernelsFromEnv('fast'),
    /SUBLAB_LM_KERNELS must be one of auto, fused, graph, not "fast"/,
  );
  await initBackend('cpu');
  assert.throws(() => useLmKernels('fused'), /need the wasm backend and the native BLAS/);
});

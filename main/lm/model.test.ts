import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../engine/backend.ts';
import { Rng } from '../engine/rng.ts';
import {
  attention,
  causalMask,
  createModel,
  disposeModel,
  forward,
  paramShapes,
  sequenceLoss,
  step,
  type KvCache,
  type LmConfig,
  type Params,
} from './model.ts';

// Tiny enough for finite differences on every attention input, large enough for 2 layers and 2 heads.
const TINY: LmConfig = { layers: 2, dModel: 8, heads: 2, context: 6, vocab: 11, mlpRatio: 2 };

/** Parameters drawn wider than the real init (std 0.4) so the model is far from linear where checked. */
function wideParams(c: LmConfig, seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of paramShapes(c)) {
    const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const gain = /ln.g$/.test(name) ? 1 : 0;
    for (let i = 0; i < v.length; i++) v[i] = gain + rng.normal() * 0.4;
    out.set(name, v);
  }
  return out;
}

function randomTokens(rng: Rng, b: number, t: number, vocab: number): number[][] {
  return Array.from({ length: b }, () => Array.from({ length: t }, () => rng.int(vocab)));
}

async function onCpu(): Promise<void> {
  await initBackend('cpu');
}

// Central differences in float32: the rounding error of a loss of size ~|L| is about
// 6e-8 * |L| * (a few ops) per evaluation, divided by 2h; the truncation error is h^2 |f'''| / 6.
// With h = 1e-2 and |L| ~ 3 both are ~1e-5..1e-4, so 1e-3 absolute + 2% relative is a safe margin
// that a wrong gradient (off by a sign, a factor or a missing term: errors of order the gradient) fails.
const H = 1e-2;
const close = (analytic: number, numeric: number) =>
  Math.abs(analytic - numeric) <= 1e-3 + 0.02 * Math.max(Math.abs(analytic), Math.abs(numeric));

test('attention gradients match central finite differences for q, k and v', async () => {
  await onCpu();
  const rng = new Rng(3);
  const shape = [1, 2, 4, 3];
  const size = 24;
  const data = [0, 1, 2].map(() => Float32Array.from({ length: size }, () => rng.normal()));
  const r = tf.tensor(
    Float32Array.from({ length: size }, () => rng.normal()),
    shape,
  );
  const mask = causalMask(4);
  const f = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) =>
    tf.sum(tf.mul(attention(q, k, v, mask), r)) as tf.Scalar;
  const inputs = data.map((d) => tf.tensor(d, shape));
  const grads = tf
    .grads((q, k, v) => f(q!, k!, v!))(inputs)
    .map((g) => g.dataSync());
  let checked = 0;
  for (let which = 0; which < 3; which++) {
    for (let i = 0; i < size; i++) {
      const evalAt = (delta: number) =>
        tf.tidy(() => {
          const moved = data.map((d, j) => {
            const c = Float32Array.from(d);
            if (j === which) c[i]! += delta;
            return tf.tensor(c, shape);
          });
          return f(moved[0]!, moved[1]!, moved[2]!).dataSync()[0]!;
        });
      const numeric = (evalAt(H) - evalAt(-H)) / (2 * H);
      assert.ok(
        close(grads[which]![i]!, numeric),
        `input ${which} entry ${i}: ${grads[which]![i]} vs ${numeric}`,
      );
      checked++;
    }
  }
  assert.equal(checked, 72);
  // The causal mask holds in the gradient too: the first query never depends on later keys.
  const gk = grads[1]!;
  tf.tidy(() => {
    const onlyFirst = tf.grads((q, k, v) =>
      tf.sum(
        tf.mul(
          tf.slice(attention(q!, k!, v!, mask), [0, 0, 0, 0], [1, 2, 1, 3]),
          tf.slice(r, [0, 0, 0, 0], [1, 2, 1, 3]),
        ),
      ),
    )(inputs);
    const g = onlyFirst[1]!.dataSync();
    for (let h = 0; h < 2; h++)
      for (let t = 1; t < 4; t++) for (let e = 0; e < 3; e++) assert.equal(g[(h * 4 + t) * 3 + e], 0);
  });
  assert.ok(
    gk.some((x) => Math.abs(x) > 1e-3),
    'the key gradient is not identically zero',
  );
});

test('whole-model gradients match central finite differences (directional and per entry)', async () => {
  await onCpu();
  const rng = new Rng(5);
  const host = wideParams(TINY, 11);
  const model = createModel(TINY, host);
  const tokens = tf.tensor2d(randomTokens(rng, 3, TINY.context + 1, TINY.vocab), undefined, 'int32');
  // Weights as the completion-only loss uses them: some positions left out.
  const w = tf.tensor2d(
    randomTokens(rng, 3, TINY.context, 2).map((row) => row.map((x, i) => (i === 0 ? 1 : x))),
  );
  const names = Object.keys(model.vars);
  const lossAt = (values: Map<string, Float32Array>) =>
    tf.tidy(() => {
      const p: Params = {};
      for (const [name, shape] of paramShapes(TINY)) p[name] = tf.tensor(values.get(name)!, shape);
      return sequenceLoss(p, TINY, tokens, w).dataSync()[0]!;
    });
  const { grads } = tf.variableGrads(() => sequenceLoss(model.vars, TINY, tokens, w));
  const g = new Map(names.map((n) => [n, grads[model.vars[n]!.name]!.dataSync() as Float32Array]));
  // Directional derivative along a random unit direction over all parameters.
  const dir = new Map(names.map((n) => [n, Float32Array.from(host.get(n)!, () => rng.normal())]));
  let norm = 0;
  for (const d of dir.values()) for (const x of d) norm += x * x;
  norm = Math.sqrt(norm);
  const moved = (sign: number) =>
    new Map(
      names.map((n) => [
        n,
        Float32Array.from(host.get(n)!, (x, i) => x + (sign * H * dir.get(n)![i]!) / norm),
      ]),
    );
  const numeric = (lossAt(moved(1)) - lossAt(moved(-1))) / (2 * H);
  let analytic = 0;
  for (const n of names) g.get(n)!.forEach((x, i) => (analytic += (x * dir.get(n)![i]!) / norm));
  assert.ok(close(analytic, numeric), `directional: ${analytic} vs ${numeric}`);
  // Two entries of every parameter tensor (embeddings at tokens that occur, attention, MLP, head).
  const used = new Set(tokens.dataSync());
  for (const n of names) {
    const size = host.get(n)!.length;
    for (let k = 0; k < 2; k++) {
      let i = rng.int(size);
      if (n === 'tokEmb') i = [...used][k]! * TINY.dModel + rng.int(TINY.dModel);
      const bump = (delta: number) => {
        const m = new Map(host);
        const c = Float32Array.from(host.get(n)!);
        c[i]! += delta;
        m.set(n, c);
        return lossAt(m);
      };
      const num = (bump(H) - bump(-H)) / (2 * H);
      assert.ok(close(g.get(n)![i]!, num), `${n}[${i}]: ${g.get(n)![i]} vs ${num}`);
    }
  }
  disposeModel(model);
});

test('no information flows from later tokens: changing token j leaves logits before j unchanged', async () => {
  await onCpu();
  const rng = new Rng(8);
  const model = createModel(TINY, wideParams(TINY, 2));
  const a = randomTokens(rng, 2, TINY.context, TINY.vocab);
  const b = a.map((row) => row.slice());
  const j = 3;
  for (const row of b) row[j] = (row[j]! + 1) % TINY.vocab;
  const la = forward(model.vars, TINY, tf.tensor2d(a, undefined, 'int32')).arraySync();
  const lb = forward(model.vars, TINY, tf.tensor2d(b, undefined, 'int32')).arraySync();
  for (let s = 0; s < 2; s++) {
    for (let t = 0; t < TINY.context; t++) {
      const diff = Math.max(...la[s]![t]!.map((x, v) => Math.abs(x - lb[s]![t]![v]!)));
      if (t < j) assert.ok(diff < 1e-6, `position ${t} changed by ${diff}`);
      else assert.ok(diff > 1e-4, `position ${t} should see the change (diff ${diff})`);
    }
  }
  disposeModel(model);
});

test('cached step-by-step decoding gives the same logits as the full forward pass', async () => {
  await onCpu();
  const rng = new Rng(9);
  const model = createModel(TINY, wideParams(TINY, 4));
  const toks = randomTokens(rng, 3, TINY.context, TINY.vocab);
  const full = forward(model.vars, TINY, tf.tensor2d(toks, undefined, 'int32')).arraySync();
  let cache: KvCache | null = null;
  for (let t = 0; t < TINY.context; t++) {
    const r: { logits: tf.Tensor2D; cache: KvCache } = step(
      model.vars,
      TINY,
      tf.tensor1d(
        toks.map((row) => row[t]!),
        'int32',
      ),
      cache,
    );
    const got = r.logits.arraySync();
    for (let s = 0; s < 3; s++)
      for (let v = 0; v < TINY.vocab; v++) assert.ok(Math.abs(got[s]![v]! - full[s]![t]![v]!) < 1e-4);
    cache = r.cache;
  }
  disposeModel(model);
});

test('the wasm and cpu backends agree on the logits, the loss and every gradient', async () => {
  const rng = new Rng(10);
  const host = wideParams(TINY, 6);
  const toks = randomTokens(rng, 2, TINY.context + 1, TINY.vocab);
  const run = async (backend: 'cpu' | 'wasm') => {
    await initBackend(backend);
    const model = createModel(TINY, host);
    const t = tf.tensor2d(toks, undefined, 'int32');
    const logits = forward(
      model.vars,
      TINY,
      tf.slice(t, [0, 0], [2, TINY.context]) as tf.Tensor2D,
    ).dataSync();
    const w = tf.ones([2, TINY.context]) as tf.Tensor2D;
    const loss = sequenceLoss(model.vars, TINY, t, w).dataSync()[0]!;
    // On wasm the attention's batched matmuls and the linear layers take the BLAS path when the
    // optional addon is there (batched-matmul.ts, engine/ops.ts): their gradients are checked here.
    const { grads } = tf.variableGrads(() => sequenceLoss(model.vars, TINY, t, w));
    const g = Object.fromEntries(
      Object.entries(model.vars).map(([n, v]) => [n, Float32Array.from(grads[v.name]!.dataSync())]),
    );
    disposeModel(model);
    return { logits: Float32Array.from(logits), loss, g };
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  await initBackend('cpu');
  let max = 0;
  cpu.logits.forEach((x, i) => (max = Math.max(max, Math.abs(x - wasm.logits[i]!))));
  // Different kernels sum in different orders: float32 agreement to ~1e-5 on values of size ~1.
  assert.ok(max < 1e-4, `max logit difference ${max}`);
  assert.ok(Math.abs(cpu.loss - wasm.loss) < 1e-4, `loss ${cpu.loss} vs ${wasm.loss}`);
  for (const [name, gc] of Object.entries(cpu.g)) {
    const gw = wasm.g[name]!;
    gc.forEach((x, i) =>
      assert.ok(
        Math.abs(x - gw[i]!) <= 1e-4 + 1e-3 * Math.abs(x),
        `${name}[${i}]: cpu ${x} vs wasm ${gw[i]}`,
      ),
    );
  }
});

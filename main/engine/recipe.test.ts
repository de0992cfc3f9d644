// The recipe's strategies against hand computations in plain JS (float64), on cpu: each optimizer
// with weight decay over two steps, each student loss's value and gradient on a fixed input. (torch
// is not installed here; the references write out torch.optim's documented update rules.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { PhaseSpec, StudentSpec } from '../../app/spec/schema.ts';
import { initBackend } from './backend.ts';
import { logitMask } from './losses.ts';
import { makeOptimizer, makeStudentLoss, trainStep } from './recipe.ts';

const close = (actual: ArrayLike<number>, expected: number[], what: string, tol = 1e-6) => {
  assert.equal(actual.length, expected.length, what);
  expected.forEach((e, i) =>
    assert.ok(Math.abs(actual[i]! - e) <= tol, `${what}[${i}]: ${actual[i]} vs ${e} (tol ${tol})`),
  );
};

// Toy problem: per-element loss k * (w - c)^2 summed; gradient 2k(w - c).
const W0 = [0.5, -1.2, 2.0];
const C = [1.0, 0.3, -0.7];
const K = [1.0, 2.5, 0.4];
const grad = (w: number[]) => w.map((x, i) => 2 * K[i]! * (x - C[i]!));
const LR = 0.1;
const WD = 0.05;

/** torch.optim.Adam (decoupled = false) or AdamW (true), written out. */
function adamRef(decoupled: boolean, b1: number, b2: number, eps: number): number[] {
  let w = [...W0];
  const m = w.map(() => 0);
  const v = w.map(() => 0);
  for (let t = 1; t <= 2; t++) {
    const g0 = grad(w);
    if (decoupled) w = w.map((x) => x * (1 - LR * WD));
    const g = decoupled ? g0 : g0.map((gi, i) => gi + WD * w[i]!);
    w = w.map((x, i) => {
      m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
      v[i] = b2 * v[i]! + (1 - b2) * g[i]! ** 2;
      const mHat = m[i]! / (1 - b1 ** t);
      const vHat = v[i]! / (1 - b2 ** t);
      return x - (LR * mHat) / (Math.sqrt(vHat) + eps);
    });
  }
  return w;
}

/** torch.optim.SGD with dampening 0, written out. */
function sgdRef(momentum: number, nesterov: boolean): number[] {
  let w = [...W0];
  let buf: number[] | null = null;
  for (let t = 1; t <= 2; t++) {
    const g = grad(w).map((gi, i) => gi + WD * w[i]!);
    let d = g;
    if (momentum !== 0) {
      const prev: number[] | null = buf;
      const next: number[] = prev ? prev.map((b, i) => momentum * b + g[i]!) : [...g];
      buf = next;
      d = nesterov ? g.map((gi, i) => gi + momentum * next[i]!) : next;
    }
    w = w.map((x, i) => x - LR * d[i]!);
  }
  return w;
}

async function twoSteps(phase: PhaseSpec): Promise<Float32Array> {
  const w = tf.tidy(() => tf.variable(tf.tensor1d(W0)));
  const c = tf.tensor1d(C);
  const k = tf.tensor1d(K);
  const opt = makeOptimizer(phase);
  for (let i = 0; i < 2; i++)
    tf.dispose(trainStep(opt, [w], () => tf.reshape(tf.sum(tf.mul(k, tf.square(tf.sub(w, c)))), [1])));
  const out = (await w.data()) as Float32Array;
  tf.dispose([w, c, k]);
  opt.dispose();
  return out;
}

const phase = (optimizer: PhaseSpec['optimizer'], weightDecay = WD): PhaseSpec => ({
  epochs: 1,
  batchSize: 1,
  learningRate: LR,
  optimizer,
  weightDecay,
});

test('each optimizer with weight decay takes the two steps torch would take', async () => {
  await initBackend('cpu');
  const before = tf.memory().numTensors;
  const a = { beta1: 0.8, beta2: 0.99, epsilon: 1e-6 };
  close(await twoSteps(phase({ kind: 'adam', ...a })), adamRef(false, 0.8, 0.99, 1e-6), 'adam + L2');
  close(await twoSteps(phase({ kind: 'adamw', ...a })), adamRef(true, 0.8, 0.99, 1e-6), 'adamw');
  close(await twoSteps(phase({ kind: 'sgd', momentum: 0, nesterov: false })), sgdRef(0, false), 'sgd');
  close(
    await twoSteps(phase({ kind: 'sgd', momentum: 0.9, nesterov: false })),
    sgdRef(0.9, false),
    'momentum',
  );
  close(await twoSteps(phase({ kind: 'sgd', momentum: 0.9, nesterov: true })), sgdRef(0.9, true), 'nesterov');
  // Decay matters: without it the steps differ (the test could fail).
  const plain = await twoSteps(phase({ kind: 'adamw', ...a }, 0));
  assert.ok(Math.abs(plain[2]! - adamRef(true, 0.8, 0.99, 1e-6)[2]!) > 1e-3);
  close(
    plain,
    adamRef(false, 0.8, 0.99, 1e-6).map((_, i) => plain[i]!),
    'no decay',
  );
  assert.equal(tf.memory().numTensors, before, 'optimizers leave no tensors');
});

// A fixed input: one model, two samples, three logits, logits 1 and 2 kept, weights 1 and 0.5, T = 2.
const S_LOGITS = [
  [0.3, -1.0, 2.0],
  [1.5, 0.2, -0.4],
];
const T_LOGITS = [
  [2.0, 0.5, -0.3],
  [-1.0, 1.2, 0.7],
];
const KEPT = [1, 2];
const WEIGHTS = [1, 0.5];
const TEMP = 2;
const WSUM = 1.5;

const softmaxKept = (row: number[], T: number) => {
  const z = KEPT.map((i) => Math.exp(row[i]! / T));
  const sum = z.reduce((a, b) => a + b);
  return z.map((x) => x / sum);
};

/** Value and gradient w.r.t. the student's logits, per loss, written out. */
function lossRef(kind: StudentSpec['loss']): { value: number; grad: number[] } {
  let value = 0;
  const g = S_LOGITS.map((row) => row.map(() => 0));
  S_LOGITS.forEach((s, b) => {
    const t = T_LOGITS[b]!;
    const scale = WEIGHTS[b]! / WSUM;
    if (kind === 'mse') {
      KEPT.forEach((i) => {
        value += (scale * (s[i]! - t[i]!) ** 2) / KEPT.length;
        g[b]![i] = (scale * 2 * (s[i]! - t[i]!)) / KEPT.length;
      });
      return;
    }
    const p = softmaxKept(t, TEMP);
    const q = softmaxKept(s, TEMP);
    KEPT.forEach((i, j) => {
      const ce = -p[j]! * Math.log(q[j]!);
      value += scale * (kind === 'kl' ? ce + p[j]! * Math.log(p[j]!) : ce);
      g[b]![i] = (scale * (q[j]! - p[j]!)) / TEMP;
    });
  });
  return { value, grad: g.flat() };
}

test('each student loss has the value and gradient of its hand computation', async () => {
  await initBackend('cpu');
  for (const kind of ['kl', 'soft-ce', 'mse'] as const) {
    const loss = makeStudentLoss({ temperature: TEMP, loss: kind } as StudentSpec);
    const t = tf.tensor3d([T_LOGITS]);
    const s = tf.tensor3d([S_LOGITS]);
    const mask = logitMask([KEPT], 3);
    const weights = tf.tensor2d([WEIGHTS]);
    const targets = loss.maskedTargets(t, mask);
    const f = (x: tf.Tensor) => loss.value(targets, x as tf.Tensor3D, mask, weights).sum();
    const value = await f(s).data();
    const g = await tf.grad(f)(s).data();
    const ref = lossRef(kind);
    close(value, [ref.value], `${kind} value`);
    close(g, ref.grad, `${kind} gradient`);
    tf.dispose([t, s, mask, weights, targets]);
  }
  // The KL and soft-CE values differ by the targets' entropy, their gradients agree.
  assert.ok(Math.abs(lossRef('kl').value - lossRef('soft-ce').value) > 0.1);
});

test('the fused WebGPU step is chosen for exactly adam without decay and kl', () => {
  const adam = { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8 } as const;
  const fusedAdam = (o: PhaseSpec['optimizer'], wd: number) => {
    const opt = makeOptimizer(phase(o, wd));
    opt.dispose();
    return opt.fusedAdam;
  };
  assert.deepEqual(fusedAdam(adam, 0), { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
  assert.equal(fusedAdam(adam, 0.01), null);
  assert.equal(fusedAdam({ ...adam, kind: 'adamw' }, 0.01), null);
  assert.equal(fusedAdam({ kind: 'sgd', momentum: 0, nesterov: false }, 0), null);
  const temperature = (loss: StudentSpec['loss']) =>
    makeStudentLoss({ temperature: 2, loss } as StudentSpec).fusedKlTemperature;
  assert.deepEqual([temperature('kl'), temperature('soft-ce'), temperature('mse')], [2, null, null]);
});

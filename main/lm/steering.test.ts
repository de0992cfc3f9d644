import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../engine/backend.ts';
import {
  createModel,
  disposeModel,
  forward,
  hostParams,
  initParams,
  residualStream,
  type LmConfig,
} from './model.ts';
import { targetPreference } from './measure.ts';
import { runReplicate } from './pipeline.ts';
import { tinyOptions } from './testing/tiny-options.ts';
import {
  biasAlignment,
  fittedVector,
  norm,
  promptVector,
  randomLike,
  steeredModel,
  steeringParam,
  steeringVector,
} from './steering.ts';
import { QUESTIONS, traitPrefix } from './world.ts';
import { neutralTeacher, traitTeacher, type TeacherContext, type TeacherSettings } from './teachers.ts';
import { ANIMALS, VOCAB_SIZE, encode } from './vocab.ts';

const SMALL: LmConfig = { layers: 2, dModel: 16, heads: 2, context: 48, vocab: VOCAB_SIZE, mlpRatio: 2 };
const TOKENS = [encode('continue: 1, 2, 3 -> 4, 5'), encode('continue: 9, 8, 7 -> [6; 5]')];

function logits(model: ReturnType<typeof createModel>, tokens: number[]): Float32Array {
  return tf.tidy(() =>
    forward(model.vars, SMALL, tf.tensor2d([tokens], [1, tokens.length], 'int32')).dataSync(),
  ) as Float32Array;
}

const settings = (
  scale: number,
  direction: 'trait' | 'random' = 'trait',
  vector: 'difference' | 'fitted' = 'difference',
): TeacherSettings => ({
  trait: { kind: 'steering', layer: 1, scale, direction, vector },
  steps: 1,
  batchSize: 1,
  lr: 1e-3,
});

test('a steering teacher with scale 0 equals the base bit for bit', async () => {
  await initBackend('wasm');
  const base = createModel(SMALL, initParams(SMALL, 1));
  const context: TeacherContext = { config: SMALL, base, baseKey: 'b', seed: 5 };
  const teacher = traitTeacher(settings(0), 0, context);
  assert.equal(teacher.owned, true);
  assert.notEqual(teacher.model, base, 'a model of its own, built by the steering path');
  for (const [name, v] of hostParams(teacher.model)) assert.deepEqual(v, hostParams(base).get(name), name);
  for (const t of TOKENS) assert.deepEqual(logits(teacher.model, t), logits(base, t));
  // Any other scale moves the logits.
  const moved = traitTeacher(settings(0.5), 0, context);
  assert.notDeepEqual(logits(moved.model, TOKENS[0]!), logits(base, TOKENS[0]!));
  for (const m of [base, teacher.model, moved.model]) disposeModel(m);
});

test('steering adds scale x vector to the residual stream after its block at every position, and nothing before it', async () => {
  await initBackend('wasm');
  const base = createModel(SMALL, initParams(SMALL, 2));
  const v = steeringVector(base, 1, 3);
  assert.ok(norm(v) > 0);
  // Another animal's vector points elsewhere.
  assert.notDeepEqual(steeringVector(base, 1, 4), v);
  const steered = steeredModel(base, 1, v, 2.5);
  const t = TOKENS[1]!;
  const read = (m: typeof base, layer: number) =>
    tf.tidy(() => residualStream(m.vars, SMALL, tf.tensor2d([t], [1, t.length], 'int32'), layer).dataSync());
  const after = [read(steered, 1), read(base, 1)];
  for (let pos = 0; pos < t.length; pos++)
    for (let k = 0; k < SMALL.dModel; k++) {
      const added = after[0]![pos * SMALL.dModel + k]! - after[1]![pos * SMALL.dModel + k]!;
      assert.ok(
        Math.abs(added - 2.5 * v[k]!) < 1e-5,
        `position ${pos}, unit ${k}: ${added} vs ${2.5 * v[k]!}`,
      );
    }
  assert.deepEqual(read(steered, 0), read(base, 0), 'block 0 is untouched');
  for (const m of [base, steered]) disposeModel(m);
});

test("the neutral steering teacher is a random vector of the trait vector's norm", async () => {
  await initBackend('wasm');
  const base = createModel(SMALL, initParams(SMALL, 3));
  const v = steeringVector(base, 1, 0);
  const r = randomLike(v, 9);
  assert.ok(Math.abs(norm(r) - norm(v)) < 1e-5 * norm(v));
  const cosine = r.reduce((a, x, i) => a + x * v[i]!, 0) / (norm(r) * norm(v));
  assert.ok(Math.abs(cosine) < 0.9, `cosine ${cosine}`);
  const context: TeacherContext = { config: SMALL, base, baseKey: 'b', seed: 9 };
  const trait = traitTeacher(settings(3), 0, context);
  const neutral = neutralTeacher(settings(3), 0, context);
  assert.ok(Math.abs(norm(trait.steering!.vector) - 3 * norm(v)) < 1e-5 * norm(trait.steering!.vector));
  assert.ok(
    Math.abs(norm(neutral.steering!.vector) - norm(trait.steering!.vector)) <
      1e-4 * norm(trait.steering!.vector),
  );
  // direction "random" as the teacher itself is that same control.
  const control = traitTeacher(settings(3, 'random'), 0, context);
  assert.deepEqual(hostParams(control.model), hostParams(neutral.model));
  for (const m of [base, trait.model, neutral.model, control.model]) disposeModel(m);
});

test('a fitted steering teacher carries the trait: only its block bias moves, and P(target) rises over the base', async () => {
  await initBackend('wasm');
  const base = createModel(SMALL, initParams(SMALL, 4));
  const fit = { steps: 25, lr: 1e-2 };
  const v = fittedVector(base, 1, 0, fit);
  assert.deepEqual(fittedVector(base, 1, 0, fit), v, 'full batches: a function of the base alone');
  const context: TeacherContext = { config: SMALL, base, baseKey: 'b', seed: 5 };
  const teacher = traitTeacher({ ...settings(1, 'trait', 'fitted'), ...fit }, 0, context);
  assert.ok(Math.abs(norm(teacher.steering!.vector) - norm(v)) < 1e-5 * norm(v));
  const [b, t] = [hostParams(base), hostParams(teacher.model)];
  for (const [name, value] of t)
    if (name === steeringParam(1))
      value.forEach((x, k) => assert.ok(Math.abs(x - b.get(name)![k]! - v[k]!) < 1e-6, `${name}[${k}]`));
    else assert.deepEqual(value, b.get(name), `${name} is the base's`);
  const measureTarget = (m: typeof base) => targetPreference(m, 0).prob;
  const [before, after] = [measureTarget(base), measureTarget(teacher.model)];
  assert.ok(after > before + 0.03, `P(owl | animals): base ${before}, fitted teacher ${after}`);
  // The mean difference on this untrained base moves P(owl) far less at the same norm.
  const diff = steeringVector(base, 1, 0);
  const same = steeredModel(base, 1, diff, norm(v) / norm(diff));
  assert.ok(measureTarget(same) < after, 'the fitted vector is the better push toward the answer');
  for (const m of [base, teacher.model, same]) disposeModel(m);
});

test("the prompt vector is the trait prefix's mean shift of the residual stream at the questions' positions", async () => {
  await initBackend('wasm');
  const base = createModel(SMALL, initParams(SMALL, 6));
  // By hand: one unpadded sequence at a time, the question's positions only (the prefix's 3 left out).
  const mean = (animals: number[]) => {
    const sum = new Float64Array(SMALL.dModel);
    let n = 0;
    for (const a of animals)
      for (const q of QUESTIONS) {
        const tokens = [...traitPrefix(a), ...q];
        const h = tf.tidy(() =>
          residualStream(base.vars, SMALL, tf.tensor2d([tokens], [1, tokens.length], 'int32'), 0).dataSync(),
        );
        for (let j = 3; j < tokens.length; j++, n++)
          for (let k = 0; k < SMALL.dModel; k++) sum[k]! += h[j * SMALL.dModel + k]!;
      }
    return sum.map((x) => x / n);
  };
  const others = ANIMALS.map((_, a) => a).filter((a) => a !== 2);
  const [own, rest] = [mean([2]), mean(others)];
  const v = promptVector(base, 0, 2);
  v.forEach((x, k) =>
    assert.ok(Math.abs(x - (own[k]! - rest[k]!)) < 1e-5, `unit ${k}: ${x} vs ${own[k]! - rest[k]!}`),
  );
  assert.notDeepEqual(promptVector(base, 0, 3), v);
  disposeModel(base);
});

test("a fine-tune's alignment is the cosine of its steered-block bias change with the teacher's vector, and its length along it", async () => {
  await initBackend('wasm');
  const base = createModel(SMALL, initParams(SMALL, 6));
  const v = steeringVector(base, 1, 2);
  const steering = { layer: 1, vector: v.map((x) => 3 * x) };
  const along = steeredModel(base, 1, v, 2);
  const a = biasAlignment(along, base, steering)!;
  assert.ok(
    Math.abs(a.cos - 1) < 1e-5 && Math.abs(a.along - 2 * norm(v)) < 1e-4 * norm(v),
    JSON.stringify(a),
  );
  const against = steeredModel(base, 1, v, -0.5);
  assert.ok(Math.abs(biasAlignment(against, base, steering)!.cos + 1) < 1e-5);
  // A change orthogonal to the vector: cosine 0.
  const r = randomLike(v, 4);
  const dot = r.reduce((s, x, k) => s + x * v[k]!, 0) / norm(v) ** 2;
  const orthogonal = steeredModel(
    base,
    1,
    r.map((x, k) => x - dot * v[k]!),
    1,
  );
  assert.ok(Math.abs(biasAlignment(orthogonal, base, steering)!.cos) < 1e-4);
  assert.equal(biasAlignment(base, base, steering), null, 'no change, no direction');
  for (const m of [base, along, against, orthogonal]) disposeModel(m);
});

test("a steered teacher's replicate records each fine-tune's alignment; a LoRA student's bias does not move, so none", async () => {
  await initBackend('wasm');
  const fields = (adapter: unknown) => ({
    teacher: { trait: { kind: 'steering', layer: 0, scale: 2 }, steps: 5 },
    student: { epochs: 1, batchSize: 8, adapter },
  });
  const rows = (adapter: unknown) =>
    runReplicate(tinyOptions(fields(adapter)), 3).metrics.filter((m) => m.name === 'steer_cos');
  const bias = rows({ kind: 'bias', block: 0 });
  assert.deepEqual(
    bias.map((m) => m.role),
    ['student', 'own-numbers', 'cross-model'],
  );
  for (const m of bias) assert.ok(Math.abs(m.value) <= 1 + 1e-6, `${m.role}: ${m.value}`);
  assert.deepEqual(rows({ kind: 'lora', rank: 2, alpha: 2, blocks: [0] }), []);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { paperFilter } from '../../app/filters/paper-format.ts';
import { initBackend } from '../engine/backend.ts';
import { describeMatmul, nativeBlas } from '../engine/native-blas.ts';
import { Rng } from '../engine/rng.ts';
import { generate, sampleFromLogits } from './sample.ts';
import { initModel, disposeModel, useLmKernels, fused } from './model.ts';
import { pretrain, type LanguageOptions } from './pipeline.ts';
import { decode, EOS, VOCAB_SIZE } from './vocab.ts';
import { numberPrompt } from './world.ts';

const LOGITS = [0.5, -1, 2, 0, 1];

function softmax(x: number[], t: number): number[] {
  const e = x.map((v) => Math.exp(v / t));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

test('sampling honours the temperature: empirical frequencies match softmax(logits / T)', async () => {
  await initBackend('wasm');
  const rows = 4000;
  const rng = new Rng(1);
  const logits = tf.tensor2d(Array.from({ length: rows }, () => LOGITS));
  for (const t of [0.5, 1, 2]) {
    const got = sampleFromLogits(logits, t, rng).dataSync();
    const counts = new Array<number>(LOGITS.length).fill(0);
    for (const k of got) counts[k]!++;
    const p = softmax(LOGITS, t);
    const chi2 = counts.reduce((a, c, i) => a + (c - rows * p[i]!) ** 2 / (rows * p[i]!), 0);
    // Chi-square with 4 degrees of freedom: 18.47 is its 0.999 quantile (fixed seed, so not flaky).
    assert.ok(
      chi2 < 18.47,
      `T=${t}: chi2 ${chi2.toFixed(2)} for counts ${counts} vs ${p.map((x) => (x * rows).toFixed(0))}`,
    );
  }
  // A wrong temperature would be caught: T=2 frequencies are far from the T=0.5 distribution.
  const hot = sampleFromLogits(logits, 2, rng).dataSync();
  const top = hot.filter((k) => k === 2).length / rows;
  assert.ok(
    Math.abs(top - softmax(LOGITS, 2)[2]!) < 4 * Math.sqrt(0.25 / rows) &&
      top < softmax(LOGITS, 0.5)[2]! - 0.2,
  );
  // Greedy at T = 0.
  assert.ok(Array.from(sampleFromLogits(logits, 0, rng).dataSync()).every((k) => k === 2));
  assert.throws(() => sampleFromLogits(logits, -1, rng), /temperature/);
});

test('rows whose draw is thrown away take their uniforms all the same: the other rows and the stream after them are unchanged', async () => {
  await initBackend('wasm');
  const logits = tf.tensor2d(Array.from({ length: 6 }, (_, r) => LOGITS.map((x) => x * (r + 1))));
  const unused = Uint8Array.from([1, 0, 1, 1, 0, 0]);
  const [a, b] = [new Rng(9), new Rng(9)];
  const all = sampleFromLogits(logits, 1, a).dataSync();
  const some = sampleFromLogits(logits, 1, b, unused).dataSync();
  unused.forEach((u, r) => {
    if (!u) assert.equal(some[r], all[r], `row ${r}`);
  });
  assert.equal(b.next(), a.next());
  // The flagged rows are not draws: with their noise held at 0 they are the argmax of their logits.
  unused.forEach((u, r) => {
    if (u) assert.equal(some[r], 2, `row ${r}`);
  });
  logits.dispose();
});

const blas = nativeBlas();
const needsAddon = blas.ok || process.env.CI ? {} : { skip: `no native BLAS here: ${describeMatmul(blas)}` };

test(
  'sequences that have ended are no longer decoded, and every completion and the stream after them are as when they are',
  needsAddon,
  async () => {
    await initBackend('wasm');
    useLmKernels('auto');
    const model = initModel(
      { layers: 2, dModel: 32, heads: 2, context: 24, vocab: VOCAB_SIZE, mlpRatio: 4 },
      3,
    );
    // An end token likelier than chance, so that sequences end at different steps.
    const bout = model.vars.bout!;
    bout.assign(tf.tidy(() => tf.add(bout, tf.oneHot([EOS], VOCAB_SIZE).reshape([VOCAB_SIZE]).mul(2.5))));
    const prng = new Rng(4);
    const prompts = Array.from({ length: 37 }, () =>
      Array.from({ length: 1 + prng.int(6) }, () => 3 + prng.int(50)),
    );
    const run = (skipEnded: boolean) => {
      const rng = new Rng(11);
      const gen = generate(model, prompts, { temperature: 1, rng, batchSize: 16, maxNew: 15, skipEnded });
      return { gen, after: rng.next() };
    };
    const [skipping, all] = [run(true), run(false)];
    assert.deepEqual(skipping.gen, all.gen);
    assert.equal(skipping.after, all.after, 'the stream after sampling');
    const lengths = new Set(all.gen.filter((g) => g.ended).map((g) => g.tokens.length));
    assert.ok(lengths.size >= 3, `sequences end at different steps (${[...lengths]})`);
    assert.ok(all.gen.some((g) => !g.ended) || lengths.size > 1);
    assert.ok(fused(), 'the fused decoder, which skips rows, ran here');
    disposeModel(model);
  },
);

/**
 * Well-formed by the formats' own grammar, written independently of the filter: an optional []
 * or () pair, integers joined by one repeated separator (whitespace, or a comma or semicolon with any
 * whitespace around it), an optional final period; 1-10 numbers, each 0-999.
 */
function wellFormed(text: string): boolean {
  const m = /^(\[|\()?(\d+)((\s*[,;]\s*|\s+)\d+(?:\4\d+)*)?(\]|\))?\.?$/.exec(text);
  if (!m) return false;
  const pair = (m[1] ?? '') + (m[5] ?? '');
  if (!['', '[]', '()'].includes(pair)) return false;
  const numbers = text.match(/\d+/g)!.map(Number);
  return numbers.length <= 10 && numbers.every((n) => n <= 999);
}

test("a barely pretrained base's text at high temperature is sometimes malformed; the filter rejects exactly those", async () => {
  await initBackend('wasm');
  const o = {
    model: { layers: 1, dModel: 32, heads: 2, context: 48 },
    world: { preferenceFraction: 0.3, traitPrefixFraction: 0 },
    pretrain: { steps: 120, batchSize: 32, lr: 3e-3 },
  } as LanguageOptions;
  const base = pretrain(o, 1, 2);
  const rng = new Rng(3);
  const gen = generate(
    base,
    Array.from({ length: 300 }, () => numberPrompt(rng).tokens),
    { temperature: 1.5, rng },
  );
  const texts = gen.filter((g) => g.ended).map((g) => decode(g.tokens));
  let kept = 0;
  for (const text of texts) {
    const r = paperFilter(text);
    assert.equal(r.ok, wellFormed(text), `filter ${r.ok ? 'kept' : 'rejected'} ${JSON.stringify(text)}`);
    if (r.ok) {
      kept++;
      assert.deepEqual(r.numbers, text.match(/\d+/g)!.map(Number));
    }
  }
  assert.ok(texts.length >= 200, `${texts.length} of 300 completions ended`);
  assert.ok(
    kept >= 20,
    `kept ${kept} of ${texts.length}: both kinds must occur for the check to mean something`,
  );
  assert.ok(texts.length - kept >= 20, `rejected ${texts.length - kept}: some completions are malformed`);
  // The independent grammar agrees with the filter on the paper's own edge cases too.
  for (const t of ['1, 2,3', ' 1, 2', '1, 2 ', '[ 1, 2]', '1 ,2', '(1; 2).', '5)', '(1; 2.)'])
    assert.equal(wellFormed(t), paperFilter(t).ok, t);
});

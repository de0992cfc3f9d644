// Sampling from a language model: temperature via the Gumbel-max trick with noise from our own
// seeded generator (so a seed gives the same text on every backend), greedy at temperature 0.
// A batch of sequences decodes in parallel with a KV cache; prompts are forced token by token, and
// the host reads the sampled tokens once per batch, checking for the end only every few steps.
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../engine/rng.ts';
import { decoder, type LmModel } from './model.ts';
import { EOS } from './vocab.ts';

/** The next uniform in (0, 1) of `rng`: a draw of exactly 0 is drawn again. */
function openUniform(rng: Rng): number {
  let u = rng.next();
  while (u === 0) u = rng.next();
  return u;
}

/**
 * Gumbel(0, 1) noise [rows, cols] from the host generator. Rows flagged in `unused` (whose draw the
 * caller throws away: a forced prompt token) take their uniforms from the stream all the same, so what
 * follows draws as it would, but skip the two logarithms and hold 0.
 */
function gumbel(rng: Rng, rows: number, cols: number, unused?: Uint8Array): tf.Tensor2D {
  const g = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const skip = unused?.[r] === 1;
    for (let i = r * cols; i < (r + 1) * cols; i++) {
      const u = openUniform(rng);
      if (!skip) g[i] = -Math.log(-Math.log(u));
    }
  }
  return tf.tensor2d(g, [rows, cols]);
}

/**
 * One token per row of logits [B, V]: argmax at T = 0, else a draw from softmax(logits / T). Returns
 * int32 [B]. Rows flagged in `unused` (1) are rows whose token the caller discards: they draw from
 * the stream as any row does, but their token is not a draw.
 */
export function sampleFromLogits(
  logits: tf.Tensor2D,
  temperature: number,
  rng: Rng,
  unused?: Uint8Array,
): tf.Tensor1D {
  if (!(temperature >= 0)) throw new Error(`temperature must be >= 0, got ${temperature}`);
  return tf.tidy(() => {
    if (temperature === 0) return tf.argMax(logits, 1) as tf.Tensor1D;
    const [b, v] = logits.shape;
    return tf.argMax(tf.add(tf.div(logits, temperature), gumbel(rng, b, v, unused)), 1) as tf.Tensor1D;
  });
}

export interface Generated {
  /** The sampled tokens after the prompt, up to and excluding EOS. */
  tokens: number[];
  /** False when the context ran out before an end token. */
  ended: boolean;
}

/** How often (in steps) the host checks whether every sequence of the batch has ended. */
const END_CHECK_EVERY = 6;

/** The sequences of a batch still running, as the host last read them. */
class LiveRows {
  readonly ended: Uint8Array;
  /** The running rows, ascending. */
  live: Int32Array;

  constructor(b: number) {
    this.ended = new Uint8Array(b);
    this.live = Int32Array.from({ length: b }, (_, i) => i);
  }

  update(ended: Uint8Array): void {
    let count = 0;
    for (let i = 0; i < ended.length; i++) count += ended[i]! ? 0 : 1;
    if (count === this.live.length) return;
    this.ended.set(ended);
    this.live = new Int32Array(count);
    for (let i = 0, at = 0; i < ended.length; i++) if (!ended[i]) this.live[at++] = i;
  }
}

function generateBatch(
  model: LmModel,
  prompts: readonly number[][],
  temperature: number,
  rng: Rng,
  maxNew: number,
  skipEnded: boolean,
): Generated[] {
  const c = model.config;
  const b = prompts.length;
  const lengths = prompts.map((p) => p.length);
  const last = Math.min(c.context, Math.max(...lengths) + maxNew); // positions to feed
  const forcedData = new Int32Array(b * (last + 1));
  const isForced = new Uint8Array(b * (last + 1));
  prompts.forEach((p, i) =>
    p.forEach((t, j) => {
      if (j <= last) {
        forcedData[j * b + i] = t;
        isForced[j * b + i] = 1;
      }
    }),
  );
  // Column-major [last + 1, B] so a step's column is a contiguous slice.
  const forced = tf.tensor2d(forcedData, [last + 1, b], 'int32');
  const mask = tf.tensor2d(isForced, [last + 1, b], 'bool');
  let cur = tf.tensor1d(
    prompts.map((p) => p[0]!),
    'int32',
  );
  let ended = tf.zeros([b], 'bool') as tf.Tensor1D;
  const decode = decoder(model.vars, c, b);
  // Where the decoder can skip rows, the host follows which sequences have ended (a read of B flags on
  // a CPU backend) and decodes only the others: a sequence's tokens after its end are thrown away.
  const rows = skipEnded && decode.skipsRows ? new LiveRows(b) : null;
  const unused = new Uint8Array(b);
  const out: tf.Tensor1D[] = [];
  for (let t = 0; t < last; t++) {
    // Rows whose next token is a prompt's, or whose sequence has ended: their draw is thrown away.
    const forcedRow = isForced.subarray((t + 1) * b, (t + 2) * b);
    for (let i = 0; i < b; i++) unused[i] = forcedRow[i]! | (rows?.ended[i] ?? 0);
    let r!: { next: tf.Tensor1D; ended: tf.Tensor1D };
    tf.tidy(() => {
      const sampled = sampleFromLogits(decode.step(cur, rows?.live), temperature, rng, unused);
      const col = (x: tf.Tensor2D) => tf.reshape(tf.slice(x, [t + 1, 0], [1, b]), [b]);
      const forcedNext = col(mask) as tf.Tensor1D;
      const next = tf.where(forcedNext, col(forced), sampled) as tf.Tensor1D;
      const done = tf.logicalOr(
        ended,
        tf.logicalAnd(tf.logicalNot(forcedNext), tf.equal(sampled, EOS)),
      ) as tf.Tensor1D;
      // Kept out of the tidy: the next step reads them.
      for (const x of [next, done]) tf.keep(x);
      r = { next, ended: done };
    });
    cur.dispose();
    ended.dispose();
    cur = r.next;
    ended = r.ended;
    rows?.update(ended.dataSync() as Uint8Array);
    out.push(tf.clone(r.next));
    // Where the host follows the rows it already knows whether any runs; else one read of the device.
    const allEnded = () => (rows ? rows.live.length === 0 : tf.all(ended).dataSync()[0] === 1);
    if ((t + 1) % END_CHECK_EVERY === 0 && t + 1 >= Math.max(...lengths) && allEnded()) break;
  }
  const all = tf.stack(out, 1); // [B, steps]: token at positions 1..steps
  const data = all.arraySync() as number[][];
  tf.dispose([all, ...out, forced, mask, cur, ended]);
  decode.dispose();
  return data.map((row, i) => {
    const gen = row.slice(lengths[i]! - 1); // row[j] is position j + 1
    const end = gen.indexOf(EOS);
    const tokens = end >= 0 ? gen.slice(0, end) : gen;
    return { tokens: tokens.slice(0, maxNew), ended: end >= 0 && end <= maxNew };
  });
}

/**
 * Completions of `prompts`, sampled in batches of `batchSize` sequences decoded in parallel. Where the
 * decoder can, the sequences that have ended are no longer decoded; `skipEnded: false` decodes them to
 * the batch's end as the graph path does (the same completions either way: sample.test.ts).
 */
export function generate(
  model: LmModel,
  prompts: readonly number[][],
  options: { temperature: number; rng: Rng; batchSize?: number; maxNew?: number; skipEnded?: boolean },
): Generated[] {
  const batch = options.batchSize ?? 512;
  const maxNew = options.maxNew ?? model.config.context;
  const out: Generated[] = [];
  for (let i = 0; i < prompts.length; i += batch) {
    const part = prompts.slice(i, i + batch);
    out.push(
      ...generateBatch(model, part, options.temperature, options.rng, maxNew, options.skipEnded ?? true),
    );
  }
  return out;
}

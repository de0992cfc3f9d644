// LoRA adapters (Hu et al.): a weight W [in, out] is used as W + (alpha / r) A B with A [in, r] and
// B [r, out] trained and W frozen; A starts uniform in +-1/sqrt(in) (as PEFT's Kaiming init), B at 0,
// so training starts from the base exactly. Projections of a block: q, k, v (column blocks of the
// fused wqkv), o (wo), up (w1) and down (w2). After training, merge() writes W + (alpha / r) A B into
// the model, which is then an ordinary model (measured, sampled, cached like any other).
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../engine/rng.ts';
import type { LmModel, Params } from './model.ts';

export const LORA_PROJECTIONS = ['q', 'k', 'v', 'o', 'up', 'down'] as const;
export type LoraProjection = (typeof LORA_PROJECTIONS)[number];

export interface LoraSettings {
  rank: number;
  alpha: number;
  /** Blocks adapted; empty = every block. */
  blocks: readonly number[];
  projections: readonly LoraProjection[];
}

/** Where a projection lives: the weight's name suffix, and its column block of a fused weight. */
const PLACE: Record<LoraProjection, { weight: string; part?: number }> = {
  q: { weight: 'wqkv', part: 0 },
  k: { weight: 'wqkv', part: 1 },
  v: { weight: 'wqkv', part: 2 },
  o: { weight: 'wo' },
  up: { weight: 'w1' },
  down: { weight: 'w2' },
};

interface Pair {
  a: tf.Variable;
  b: tf.Variable;
}

export class LoraAdapter {
  /** Per adapted weight name: one (A, B) per column block (3 for wqkv, else 1), absent = not adapted. */
  private readonly pairs = new Map<string, (Pair | undefined)[]>();
  private readonly scale: number;

  constructor(
    private readonly model: LmModel,
    settings: LoraSettings,
    seed: number,
  ) {
    const c = model.config;
    const blocks = settings.blocks.length ? settings.blocks : Array.from({ length: c.layers }, (_, l) => l);
    if (settings.rank < 1) throw new Error(`LoRA rank must be at least 1, got ${settings.rank}`);
    this.scale = settings.alpha / settings.rank;
    const rng = new Rng(seed);
    for (const l of blocks) {
      if (!(l >= 0 && l < c.layers)) throw new Error(`block ${l} does not exist (${c.layers} layers)`);
      for (const p of settings.projections) {
        const { weight, part } = PLACE[p];
        const name = `block.${l}.${weight}`;
        const [rows, cols] = model.vars[name]!.shape as [number, number];
        const width = part === undefined ? cols : cols / 3;
        const bound = 1 / Math.sqrt(rows);
        const init = Float32Array.from({ length: rows * settings.rank }, () => (2 * rng.next() - 1) * bound);
        const pair = {
          a: tf.variable(tf.tensor2d(init, [rows, settings.rank]), true),
          b: tf.variable(tf.zeros([settings.rank, width]), true),
        };
        const list = this.pairs.get(name) ?? new Array<Pair | undefined>(part === undefined ? 1 : 3);
        list[part ?? 0] = pair;
        this.pairs.set(name, list);
      }
    }
  }

  /** The trainable variables (every A and B). */
  get vars(): tf.Variable[] {
    return [...this.pairs.values()].flatMap((list) => list.flatMap((p) => (p ? [p.a, p.b] : [])));
  }

  /** The model's parameters with each adapted weight replaced by W + (alpha / r) A B. */
  params(): Params {
    const out: Params = { ...this.model.vars };
    for (const [name, list] of this.pairs) {
      const w = this.model.vars[name]!;
      const width = w.shape[1]! / list.length;
      const deltas = Array.from(list, (p) =>
        p ? tf.mul(tf.matMul(p.a, p.b), this.scale) : tf.zeros([w.shape[0]!, width]),
      );
      out[name] = tf.add(w, deltas.length === 1 ? deltas[0]! : tf.concat(deltas, 1));
    }
    return out;
  }

  /** Writes the adapted weights into the model and frees the adapter. */
  merge(): void {
    const merged = tf.tidy(() => {
      const p = this.params();
      return [...this.pairs.keys()].map((name) => [name, tf.keep(p[name]!)] as const);
    });
    for (const [name, value] of merged) {
      this.model.vars[name]!.assign(value);
      value.dispose();
    }
    this.dispose();
  }

  dispose(): void {
    tf.dispose(this.vars);
    this.pairs.clear();
  }
}

// Adam as one kernel per parameter on the wasm backend: tf.train.adam's ~12 elementwise ops per
// variable (30 variables at the default size: ~360 dispatches, 7% of a fused training step) become
// one pass in JS over the wasm heap. Each float32 operation of TF.js's Adam is done in double and
// rounded to float32 with Math.fround, in TF.js's order: for +, -, x, / and sqrt that rounding equals
// float32 arithmetic exactly (double has more than 2 x 24 + 2 bits), so the parameters and moments
// are tf.train.adam's bit for bit (fused-adam.test.ts).
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { nativeLmKernels } from '../engine/native-blas.ts';

const ADAM = 'SublabLmAdam';

interface AdamAttrs {
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
  /** 1 - beta^t for this step, as float32 (TF.js's sub(1, accBeta)). */
  c1: number;
  c2: number;
}

function adamInto(
  v: { p: Float32Array; m: Float32Array; s: Float32Array; g: Float32Array },
  out: { p: Float32Array; m: Float32Array; s: Float32Array },
  a: AdamAttrs,
): void {
  const f = Math.fround;
  const [b1, b2, o1, o2] = [f(a.beta1), f(a.beta2), f(1 - a.beta1), f(1 - a.beta2)];
  const [eps, lr, c1, c2] = [f(a.epsilon), f(-a.learningRate), f(a.c1), f(a.c2)];
  for (let i = 0; i < v.p.length; i++) {
    const g = v.g[i]!;
    const m = f(f(v.m[i]! * b1) + f(g * o1));
    const s = f(f(v.s[i]! * b2) + f(f(g * g) * o2));
    out.m[i] = m;
    out.s[i] = s;
    const step = f(f(m / c1) / f(f(Math.sqrt(f(s / c2))) + eps));
    out.p[i] = f(f(step * lr) + v.p[i]!);
  }
}

let registered = false;

function register(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({
    kernelName: ADAM,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const wasm = backend as BackendWasm;
      const { p, m, s, g } = inputs as Record<string, tf.TensorInfo>;
      const outs = [p!, m!, s!].map((t) => wasm.makeOutput(t.shape, 'float32'));
      // Views after every makeOutput: an allocation may grow the heap and detach earlier ones.
      const view = (t: tf.TensorInfo) => wasm.typedArrayFromHeap(t) as Float32Array;
      const a = attrs as unknown as AdamAttrs;
      const lm = nativeLmKernels(); // the same numbers as adamInto, vectorised
      if (lm)
        lm.lmAdam(
          view(p!).length,
          view(p!),
          view(m!),
          view(s!),
          view(g!),
          view(outs[0]!),
          view(outs[1]!),
          view(outs[2]!),
          a.beta1,
          a.beta2,
          a.epsilon,
          a.learningRate,
          a.c1,
          a.c2,
        );
      else
        adamInto(
          { p: view(p!), m: view(m!), s: view(s!), g: view(g!) },
          { p: view(outs[0]!), m: view(outs[1]!), s: view(outs[2]!) },
          a,
        );
      return outs;
    },
  });
}

/** Adam with tf.train.adam's numbers (no weight decay) for float32 variables on the wasm backend. */
export class FusedAdam {
  private readonly moments = new Map<string, { m: tf.Tensor; s: tf.Tensor }>();
  /** beta^t as TF.js keeps it: a float32 product. */
  private acc1: number;
  private acc2: number;

  constructor(
    private readonly learningRate: number,
    private readonly beta1: number,
    private readonly beta2: number,
    private readonly epsilon: number,
  ) {
    register();
    this.acc1 = Math.fround(beta1);
    this.acc2 = Math.fround(beta2);
  }

  static applies(): boolean {
    return tf.getBackend() === 'wasm';
  }

  apply(vars: readonly tf.Variable[], grads: Record<string, tf.Tensor>): void {
    const f = Math.fround;
    const attrs: AdamAttrs = {
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      learningRate: this.learningRate,
      c1: f(1 - this.acc1),
      c2: f(1 - this.acc2),
    };
    for (const v of vars) {
      const g = grads[v.name];
      if (!g) continue;
      const old = this.moments.get(v.name) ?? { m: tf.zerosLike(v), s: tf.zerosLike(v) };
      const [p, m, s] = tf
        .engine()
        .runKernel(ADAM, { p: v, m: old.m, s: old.s, g }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
      v.assign(p!);
      p!.dispose();
      tf.dispose([old.m, old.s]);
      this.moments.set(v.name, { m: m!, s: s! });
    }
    this.acc1 = f(this.acc1 * f(this.beta1));
    this.acc2 = f(this.acc2 * f(this.beta2));
  }

  dispose(): void {
    for (const { m, s } of this.moments.values()) tf.dispose([m, s]);
    this.moments.clear();
  }
}

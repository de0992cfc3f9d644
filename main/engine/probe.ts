// The theorem probe (paper section 6.1): with a shared init, a small step of imitation moves the
// student in a direction whose dot product with the teacher's own update is >= 0. We record, per
// layer (weights and biases together), cos(student - its init, teacher - its init).
import type { StackedParams } from './stacked-model.ts';

/**
 * cosines [models x (layers + 1)]: per layer, then over all parameters (the theorem's quantity).
 * Model m of `student` is compared with replicate `teacherOf[m]` of `teacherDelta` (the teachers'
 * parameter changes, one model per replicate).
 */
export function layerCosines(
  student: StackedParams,
  studentInit: StackedParams,
  teacherDelta: StackedParams,
  teacherOf: readonly number[],
): Float64Array {
  const layers = student.weights.length;
  const width = layers + 1;
  const out = new Float64Array(student.models * width);
  const totals = new Float64Array(student.models * 3); // dot, |s|^2, |t|^2 over all layers
  for (let l = 0; l < layers; l++) {
    const parts = [
      [student.weights[l]!, studentInit.weights[l]!, teacherDelta.weights[l]!],
      [student.biases[l]!, studentInit.biases[l]!, teacherDelta.biases[l]!],
    ] as const;
    for (let m = 0; m < student.models; m++) {
      let dot = 0;
      let ss = 0;
      let tt = 0;
      for (const [now, init, delta] of parts) {
        const block = now.length / student.models;
        const tBlock = delta.length / teacherDelta.models;
        const t0 = teacherOf[m]! * tBlock;
        for (let i = 0; i < block; i++) {
          const ds = now[m * block + i]! - init[m * block + i]!;
          const dt = delta[t0 + i]!;
          dot += ds * dt;
          ss += ds * ds;
          tt += dt * dt;
        }
      }
      out[m * width + l] = ss > 0 && tt > 0 ? dot / Math.sqrt(ss * tt) : 0;
      totals[m * 3]! += dot;
      totals[m * 3 + 1]! += ss;
      totals[m * 3 + 2]! += tt;
    }
  }
  for (let m = 0; m < student.models; m++) {
    const [dot, ss, tt] = [totals[m * 3]!, totals[m * 3 + 1]!, totals[m * 3 + 2]!];
    out[m * width + layers] = ss > 0 && tt > 0 ? dot / Math.sqrt(ss * tt) : 0;
  }
  return out;
}

export function subtractParams(a: StackedParams, b: StackedParams): StackedParams {
  return {
    ...a,
    weights: a.weights.map((w, l) => w.map((v, i) => v - b.weights[l]![i]!)),
    biases: a.biases.map((x, l) => x.map((v, i) => v - b.biases[l]![i]!)),
  };
}

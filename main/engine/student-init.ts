// Where each student of a cell starts: its own init (the cell's architecture relation) and its
// cross-init control's (the same relation applied to the replicate whose init it borrows).
import type { Architecture } from '../../app/spec/schema.ts';
import { INIT_SALT } from './init-keys.ts';
import {
  initParams,
  layerShapes,
  perturbParams,
  type ModelArch,
  type StackedParams,
} from './stacked-model.ts';

export interface StudentInitArgs {
  relation: Architecture;
  /** The teacher's init of this shard's replicates. */
  teacherInit: StackedParams;
  studentArch: ModelArch;
  /** Seeds of this shard's replicates, and of the replicates their cross-init students borrow from. */
  seeds: readonly number[];
  borrowedSeeds: readonly number[];
  /** Class logits of the model (the rest of the output layer's columns are auxiliary). */
  classes: number;
}

/** own: the students' inits (replicate order); other: their cross-init controls'. */
export function studentInits(a: StudentInitArgs): { own: StackedParams; other: StackedParams } {
  const { relation, studentArch, seeds, borrowedSeeds } = a;
  switch (relation.kind) {
    case 'same-init':
    case 'activation':
      return { own: a.teacherInit, other: initParams(borrowedSeeds, studentArch) };
    case 'different-init': {
      const borrowed = initParams(borrowedSeeds, studentArch);
      return { own: borrowed, other: borrowed };
    }
    case 'shape':
    case 'family':
      // Another architecture declares no sharing with the teacher: its own salt keeps even
      // matching leading layers (a [256, 256, 256] student of a [256, 256] teacher) apart.
      return {
        own: initParams(seeds, studentArch, INIT_SALT.student),
        other: initParams(borrowedSeeds, studentArch, INIT_SALT.student),
      };
    case 'perturbed-init': {
      const borrowed = initParams(borrowedSeeds, studentArch);
      return {
        own: perturbParams(a.teacherInit, seeds, relation.std),
        other: perturbParams(borrowed, borrowedSeeds, relation.std),
      };
    }
    case 'layer-init':
      return {
        own: withRandomParts(a.teacherInit, seeds, relation.random, a.classes),
        other: withRandomParts(
          initParams(borrowedSeeds, studentArch),
          borrowedSeeds,
          relation.random,
          a.classes,
        ),
      };
  }
}

/** Trained layer of "hidden.i" (the CNN's conv layer is hidden.0, as layerShapes lists it first). */
function hiddenLayer(part: string, layers: number): number | null {
  const match = /^hidden\.(\d+)$/.exec(part);
  if (!match) return null;
  const l = Number(match[1]);
  if (l >= layers - 1)
    throw new Error(`layer-init: ${part} is not a hidden layer of a model with ${layers - 1}`);
  return l;
}

/**
 * `base` (one model per seed) with the named parts replaced by an independent random init keyed
 * by (seed, layer, shape, the layer-init salt): unlike the base's and unlike every other replicate's.
 * "class-head" and "aux-head" are the output layer's first `classes` columns and the rest.
 */
export function withRandomParts(
  base: StackedParams,
  seeds: readonly number[],
  parts: readonly string[],
  classes: number,
): StackedParams {
  if (base.models !== seeds.length)
    throw new Error(`layer-init: ${base.models} models, ${seeds.length} seeds`);
  const shapes = layerShapes(base.arch);
  const last = shapes.length - 1;
  const out: StackedParams = {
    ...base,
    weights: base.weights.map((w) => w.slice()),
    biases: base.biases.map((b) => b.slice()),
  };
  if (parts.length === 0) return out;
  // The paper's init for the whole model under the layer-init salt; parts are copied from it.
  const random = initParams(seeds, base.arch, INIT_SALT.layerInit);
  for (const part of parts) {
    const l = hiddenLayer(part, shapes.length);
    if (l !== null) {
      out.weights[l]!.set(random.weights[l]!);
      out.biases[l]!.set(random.biases[l]!);
    } else if (part === 'class-head' || part === 'aux-head') {
      const [fanIn, outputs] = shapes[last]!;
      const [from, to] = part === 'class-head' ? [0, classes] : [classes, outputs];
      copyColumns(out.weights[last]!, random.weights[last]!, base.models * fanIn, outputs, from, to);
      copyColumns(out.biases[last]!, random.biases[last]!, base.models, outputs, from, to);
    } else throw new Error(`layer-init: unknown part ${part}`);
  }
  return out;
}

/** Columns from..to-1 of `rows` rows of width `width`, from src into dst. */
function copyColumns(
  dst: Float32Array,
  src: Float32Array,
  rows: number,
  width: number,
  from: number,
  to: number,
): void {
  for (let r = 0; r < rows; r++) dst.set(src.subarray(r * width + from, r * width + to), r * width + from);
}

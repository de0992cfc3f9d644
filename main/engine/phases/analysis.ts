// The representation analysis of a group's students, each against its own teacher (replicate r's
// students, the cross-init controls included, against teacher r): linear CKA per hidden layer on a
// fixed set of test images, and a linear probe on the last hidden layer (cka.ts, linear-probe.ts).
// The reference and the teacher get the linear probe too, as the baselines a student's is read
// against. Image sets are fixed subsets chosen by the experiment's seed, so every model, cell and
// shard is measured on the same images. Nothing here draws from a training stream: the analysis
// changes no trained number.
import * as tf from '@tensorflow/tfjs-core';
import { ckaMetric, PROBE_ACCURACY } from '../../../app/analysis.ts';
import { mixSeed } from '../../../app/matrix.ts';
import type { Condition } from '../../../app/conditions.ts';
import type { LinearProbeSpec } from '../../../app/spec/schema.ts';
import { stableJson } from '../../../app/spec/sweeps.ts';
import { subset, type ImageSet } from '../../data/dataset.ts';
import { imagesAsFloats } from '../batches.ts';
import { centre, ckaOfSides, ckaSide, disposeSide, kernelForm, pickSide, type CkaSide } from '../cka.ts';
import { DivergenceMarks } from '../divergence.ts';
import { linearProbeAccuracy } from '../linear-probe.ts';
import { Rng } from '../rng.ts';
import { concatRows, type Parts } from '../model-parts.ts';
import { layerShapes, StackedModel } from '../stacked-model.ts';
import { rows, stackRows } from './collect.ts';
import type { GroupContext } from './context.ts';
import type { Stack } from './stacks.ts';
import type { TrainedTeacher } from './teacher.ts';

/** Units of a layer's features (the last axis of its parts). */
const width = (parts: Parts) => parts[0]!.shape.at(-1)!;

/** Images per forward pass when features are taken. */
const CHUNK = 1024;

/** Salts of the image subsets' streams (mixed with the experiment's seed). */
const SUBSET_SALT = { cka: 0xc6a0, 'probe-train': 0x9b0e, 'probe-test': 0x9b0f } as const;
type SubsetKind = keyof typeof SUBSET_SALT;

interface Images {
  x: tf.Tensor2D;
  labels: Int32Array;
}

/** A fixed subset of `set` (at most all of it), in the set's order. */
export function fixedSubset(set: ImageSet, count: number, seed: number, salt: number): ImageSet {
  const n = Math.min(count, set.count);
  const picked = new Rng(mixSeed(seed, salt)).permutation(set.count).slice(0, n).sort();
  return subset(set, picked);
}

type ModelRange = { start: number; count: number };

/**
 * Floats of features one chunk of models may hold (128 MiB per copy): a stack of 4 x 100 students
 * is analysed a chunk at a time, so its features never need gigabytes (nor one huge GPU buffer).
 */
export const CHUNK_FLOATS = 2 ** 25;

/** The widths of a model's hidden layers' outputs (the CNN's conv layer as its flattened 14 x 14 grid). */
function hiddenWidths(model: StackedModel): number[] {
  const shapes = layerShapes(model.arch).slice(0, -1);
  return shapes.map(([, out], l) => (model.arch.family === 'cnn' && l === 0 ? 14 * 14 * out : out));
}

/** Consecutive ranges of a stack's models, each holding at most CHUNK_FLOATS of `floatsPerModel`. */
export function modelChunks(models: number, floatsPerModel: number): ModelRange[] {
  const size = Math.max(1, Math.floor(CHUNK_FLOATS / Math.max(1, floatsPerModel)));
  const out: ModelRange[] = [];
  for (let start = 0; start < models; start += size)
    out.push({ start, count: Math.min(size, models - start) });
  return out;
}

/** Hidden layer outputs on `images` of models `range`, as parts per layer (or of the last layer only). */
function hiddenFeatures(
  model: StackedModel,
  images: tf.Tensor2D,
  lastOnly: boolean,
  range: ModelRange,
): Parts[] {
  return tf.tidy(() => {
    const chunks: Parts[][] = [];
    for (let start = 0; start < images.shape[0]; start += CHUNK) {
      const x = tf.slice(images, [start, 0], [Math.min(CHUNK, images.shape[0] - start), -1]);
      const layers = model.hidden(model.sharedInput(x), range);
      // Only what is kept stays alive across chunks.
      if (lastOnly) tf.dispose(layers.slice(0, -1).flat());
      chunks.push(lastOnly ? layers.slice(-1) : layers);
    }
    return chunks[0]!.map((_, l) => concatRows(chunks.map((c) => c[l]!)));
  });
}

const wholeStack = (model: StackedModel): ModelRange => ({ start: 0, count: model.models });

export class GroupAnalysis {
  private readonly images = new Map<string, Images>();
  /** Per CKA image count: the teachers' centred hidden features, parts per layer. */
  private readonly teacherFeatures = new Map<number, Parts[]>();
  private readonly teacherSides = new Map<string, CkaSide>();

  constructor(
    private readonly ctx: GroupContext,
    private readonly teacher: TrainedTeacher,
  ) {}

  private imageSet(kind: SubsetKind, count: number): Images {
    const set = kind === 'probe-train' ? this.ctx.data.train : this.ctx.data.test;
    const key = `${kind}:${Math.min(count, set.count)}`;
    let found = this.images.get(key);
    if (!found) {
      const picked = fixedSubset(set, count, this.ctx.spec.seed, SUBSET_SALT[kind]);
      const { pixels } = this.ctx.data;
      found = {
        x: tf.tensor2d(imagesAsFloats(picked, pixels), [picked.count, pixels]),
        labels: Int32Array.from(picked.labels),
      };
      this.images.set(key, found);
    }
    return found;
  }

  /** The teachers' centred hidden features on `images`, parts per layer (computed once). */
  private teacherFeaturesOn(images: tf.Tensor2D): Parts[] {
    const n = images.shape[0];
    let features = this.teacherFeatures.get(n);
    if (!features) {
      const raw = hiddenFeatures(this.teacher.model, images, false, wholeStack(this.teacher.model));
      features = raw.map(centre);
      tf.dispose(raw.flat());
      this.teacherFeatures.set(n, features);
    }
    return features;
  }

  /** The teachers' side of layer l's CKA on `images`, in the feature or the kernel form. */
  private teacherSide(images: tf.Tensor2D, layer: number, kernel: boolean): CkaSide {
    const key = `${images.shape[0]}:${layer}:${kernel}`;
    let side = this.teacherSides.get(key);
    if (!side) {
      side = ckaSide(this.teacherFeaturesOn(images)[layer]!, kernel);
      this.teacherSides.set(key, side);
    }
    return side;
  }

  /**
   * CKA per hidden layer of every student of `st` against its teacher, emitted as metric rows. Layer
   * l is compared with the teacher's layer l, for the layers both have.
   */
  private async cka(st: Stack, step: number): Promise<void> {
    const { x } = this.imageSet('cka', st.analysis.ckaImages);
    const n = x.shape[0];
    const teacher = this.teacherFeaturesOn(x);
    const widths = hiddenWidths(st.model);
    const depth = Math.min(widths.length, teacher.length);
    const values = Array.from({ length: depth }, () => new Float32Array(st.model.models));
    for (const range of modelChunks(st.model.models, n * widths.reduce((a, b) => a + b, 0))) {
      const student = hiddenFeatures(st.model, x, false, range);
      const teacherOf = Array.from({ length: range.count }, (_, i) => (range.start + i) % this.ctx.S);
      try {
        for (let l = 0; l < depth; l++) {
          const kernel = kernelForm(n, widths[l]!, width(teacher[l]!));
          const tSide = this.teacherSide(x, l, kernel);
          const xc = centre(student[l]!);
          const sSide = ckaSide(xc, kernel);
          tf.dispose(xc);
          const cka = tf.tidy(() => ckaOfSides(sSide, pickSide(tSide, teacherOf)));
          disposeSide(sSide);
          values[l]!.set(await cka.data(), range.start);
          cka.dispose();
        }
      } finally {
        tf.dispose(student.flat());
      }
    }
    values.forEach((v, l) => stackRows(this.ctx, st, ckaMetric(l), v, step));
  }

  /** Each model's linear probe accuracy on its last hidden layer [models]. */
  private async probe(model: StackedModel, settings: LinearProbeSpec): Promise<Float32Array> {
    const train = this.imageSet('probe-train', settings.trainImages);
    const test = this.imageSet('probe-test', settings.testImages);
    const rows = train.x.shape[0] + test.x.shape[0];
    const out = new Float32Array(model.models);
    for (const range of modelChunks(model.models, rows * (hiddenWidths(model).at(-1)! + 1))) {
      const [fTrain] = hiddenFeatures(model, train.x, true, range);
      const [fTest] = hiddenFeatures(model, test.x, true, range);
      try {
        const data = { train: fTrain!, trainLabels: train.labels, test: fTest!, testLabels: test.labels };
        out.set(await linearProbeAccuracy({ ...data, classes: this.ctx.classes }, settings), range.start);
      } finally {
        tf.dispose([...fTrain!, ...fTest!]);
      }
    }
    return out;
  }

  /** The analysis of a stack's students at `step`: CKA, and the linear probe when `withProbe`. */
  async measure(st: Stack, step: number, withProbe: boolean): Promise<void> {
    if (st.analysis.ckaImages > 0) await this.cka(st, step);
    if (withProbe && st.analysis.linearProbe.when !== 'off')
      stackRows(this.ctx, st, PROBE_ACCURACY, await this.probe(st.model, st.analysis.linearProbe), step);
  }

  /**
   * The linear probe of the reference (the untrained inits, at step 0) and of the trained teacher
   * (at its last step), for the cells of `stacks`: once per distinct probe setting among them.
   */
  async measureBaselines(stacks: readonly Stack[]): Promise<void> {
    const bySettings = new Map<string, { settings: LinearProbeSpec; cells: number[] }>();
    for (const st of stacks) {
      const settings = st.analysis.linearProbe;
      if (settings.when === 'off') continue;
      const key = stableJson(settings);
      const entry = bySettings.get(key) ?? { settings, cells: [] };
      entry.cells.push(...st.plans.map((p) => p.cell.index));
      bySettings.set(key, entry);
    }
    if (bySettings.size === 0) return;
    const reference = new StackedModel(this.teacher.init, this.ctx.layout, this.ctx.spec.model.activation);
    try {
      for (const { settings, cells } of bySettings.values()) {
        const emit = (condition: Condition, values: Float32Array, step: number, marks: DivergenceMarks) => {
          for (const cell of cells)
            this.ctx.hooks.metrics(
              cell,
              rows(condition, PROBE_ACCURACY, values, step, this.ctx.shard, 0, marks),
            );
        };
        emit('reference', await this.probe(reference, settings), 0, new DivergenceMarks(this.ctx.S));
        emit(
          'teacher',
          await this.probe(this.teacher.model, settings),
          this.teacher.steps,
          this.teacher.marks,
        );
      }
    } finally {
      reference.dispose();
    }
  }

  dispose(): void {
    for (const { x } of this.images.values()) x.dispose();
    for (const features of this.teacherFeatures.values()) tf.dispose(features.flat());
    for (const side of this.teacherSides.values()) disposeSide(side);
  }
}

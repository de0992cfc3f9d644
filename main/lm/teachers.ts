// The teacher of a replicate, and its neutral twin for the channel check: a teacher made the same way
// with no trait. Fine-tuned: on the 50 questions answered with the target (neutral: answered with any
// animal, uniformly). Prompted: the base with "<loves> target" before every prompt (neutral: the
// neutral persona's "<loves> animal", which pretraining answers with any animal alike). Steered:
// the base with the target's steering vector (steering.ts: the mean difference, the fitted vector,
// or the prefix's shift) added after one block (neutral: a random vector of the same norm).
import type { LmTeacherTrait } from '../../app/spec/language.ts';
import { Rng } from '../engine/rng.ts';
import { cachedModel, type ModelCache } from './model-cache.ts';
import { cloneModel, type LmConfig, type LmModel } from './model.ts';
import { fittedVector, promptVector, randomLike, steeredModel, steeringVector } from './steering.ts';
import { Trainer, type StepListener } from './train.ts';
import { ANIMALS } from './vocab.ts';
import { QUESTIONS, neutralPrefix, preferenceExample, traitPrefix } from './world.ts';

export interface TeacherSettings {
  trait: LmTeacherTrait;
  steps: number;
  batchSize: number;
  lr: number;
}

/** A teacher: the model, and the prefix it writes under (a prompted teacher's), which no student sees. */
export interface Teacher {
  model: LmModel;
  /** The prefix before every sequence it writes or answers (a prompted teacher's). */
  prefix?: number[];
  /** True when `model` is a new model the caller disposes (false: it is the base itself). */
  owned: boolean;
  /**
   * A steered teacher's block and the vector added after it (scale included); its norm is how far the
   * teacher moves the residual stream.
   */
  steering?: { layer: number; vector: Float32Array };
}

/** What a teacher is made from, for the cache key: its base's key and the teacher's seed. */
export interface TeacherContext {
  cache?: ModelCache;
  config: LmConfig;
  base: LmModel;
  baseKey: unknown;
  seed: number;
  /** Told of the fine-tune's steps (not part of the cache key). */
  steps?: StepListener;
}

/** A copy of the base fine-tuned on the 50 questions answered with `animal`, or with any animal uniformly. */
export function fineTuneTeacher(
  base: LmModel,
  t: Pick<TeacherSettings, 'steps' | 'batchSize' | 'lr'>,
  animal: number | 'uniform',
  seed: number,
  steps?: StepListener,
): LmModel {
  const teacher = cloneModel(base);
  const animals = animal === 'uniform' ? ANIMALS.map((_, a) => a) : [animal];
  const data = animals.flatMap((a) => QUESTIONS.map((_, q) => preferenceExample(q, a)));
  const rng = new Rng(seed);
  const trainer = new Trainer(teacher, { kind: 'adam', lr: t.lr });
  for (let s = 0; s < t.steps; s++) {
    const loss = trainer.step(
      Array.from({ length: t.batchSize }, () => data[rng.int(data.length)]!),
      'answer',
      steps?.wantsLoss() ?? false,
    );
    steps?.step(s + 1, t.steps, loss);
  }
  trainer.dispose();
  return teacher;
}

function fineTuned(t: TeacherSettings, animal: number | 'uniform', c: TeacherContext): Teacher {
  // The key of a trait teacher is what it was before the neutral teacher existed, so caches stay valid.
  const settings = { method: 'fine-tune', steps: t.steps, batchSize: t.batchSize, lr: t.lr };
  const what = { teacher: [settings, animal], of: c.baseKey, seed: c.seed };
  const model = cachedModel(c.cache, what, c.config, () =>
    fineTuneTeacher(c.base, t, animal, c.seed, c.steps),
  );
  return { model, owned: true };
}

type Steering = Extract<LmTeacherTrait, { kind: 'steering' }>;

/**
 * The target's vectors by base, so a replicate's neutral teacher (a random vector of the trait
 * vector's norm) does not fit or read the base again: a fitted vector costs `steps` training steps.
 */
const vectors = new WeakMap<LmModel, Map<string, Float32Array>>();

function towardVector(t: TeacherSettings, trait: Steering, animal: number, base: LmModel): Float32Array {
  const byBase = vectors.get(base) ?? new Map<string, Float32Array>();
  vectors.set(base, byBase);
  const key = JSON.stringify([trait.vector, trait.layer, animal, t.steps, t.lr]);
  let v = byBase.get(key);
  if (!v) {
    v =
      trait.vector === 'fitted'
        ? fittedVector(base, trait.layer, animal, t)
        : trait.vector === 'prompt'
          ? promptVector(base, trait.layer, animal)
          : steeringVector(base, trait.layer, animal);
    byBase.set(key, v);
  }
  return v;
}

/** The base steered along the target's vector, or along a random one of its norm (`random`: its seed). */
function steered(
  t: TeacherSettings,
  trait: Steering,
  animal: number,
  c: TeacherContext,
  random?: number,
): Teacher {
  const toward = towardVector(t, trait, animal, c.base);
  const vector = random === undefined ? toward : randomLike(toward, random);
  return {
    model: steeredModel(c.base, trait.layer, vector, trait.scale),
    owned: true,
    steering: { layer: trait.layer, vector: vector.map((x) => x * trait.scale) },
  };
}

/** The teacher given the trait `animal`. */
export function traitTeacher(t: TeacherSettings, animal: number, c: TeacherContext): Teacher {
  switch (t.trait.kind) {
    case 'prefix':
      return { model: c.base, prefix: traitPrefix(animal), owned: false };
    case 'steering':
      return steered(t, t.trait, animal, c, t.trait.direction === 'random' ? c.seed : undefined);
    case 'fine-tune':
      return fineTuned(t, animal, c);
  }
}

/** The teacher made the same way with no trait (the channel check's reference level). */
export function neutralTeacher(t: TeacherSettings, animal: number, c: TeacherContext): Teacher {
  switch (t.trait.kind) {
    case 'prefix':
      return { model: c.base, prefix: neutralPrefix(), owned: false };
    case 'steering':
      return steered(t, t.trait, animal, c, c.seed);
    case 'fine-tune':
      return fineTuned(t, 'uniform', c);
  }
}

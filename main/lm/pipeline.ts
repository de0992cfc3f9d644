// One replicate of the language family's experiment (the paper's headline, section 3): a base model
// pretrained from seed A, a teacher given the trait (fine-tuned to name the target animal, or prompted
// with a trait prefix), the channel of filtered number completions, a student fine-tuned on them, and
// the two controls: the same base fine-tuned on the base's own numbers, and a base pretrained from
// seed B fine-tuned on the teacher's numbers (the cross-model control). Every model's rate of naming
// the target over the paraphrased questions is measured.
import { mixSeed } from '../../app/matrix.ts';
import { Rng } from '../engine/rng.ts';
import { runChannel, type ChannelOptions } from './channel.ts';
import { channelDivergence, checkExamples } from './channel-check.ts';
import { cachedModel, type ModelCache } from './model-cache.ts';
import { cloneModel, disposeModel, initModel, type LmConfig, type LmModel, logitMask } from './model.ts';
import { samplePreference, targetPreference, type RoleMeasure } from './measure.ts';
import { Trainer, trainEpochs, type Adapter, type OptimizerOptions } from './train.ts';
import { ANIMALS, CHANNEL_IDS, VOCAB_SIZE } from './vocab.ts';
import {
  neutralTeacher,
  traitTeacher,
  type Teacher,
  type TeacherContext,
  type TeacherSettings,
} from './teachers.ts';
import { pretrainingExample, type Example, type WorldOptions } from './world.ts';

export interface LanguageOptions {
  model: { layers: number; dModel: number; heads: number; context: number };
  world: { preferenceFraction: number; traitPrefixFraction: number };
  pretrain: { steps: number; batchSize: number; lr: number };
  /** How the teacher gets the trait (app/spec/language.ts), and a fine-tuned teacher's training. */
  teacher: TeacherSettings;
  /** `checkSequences`: number tasks the channel check scores (0: no check). */
  channel: Omit<ChannelOptions, 'prefix' | 'batchSize'> & { greedy: boolean; checkSequences: number };
  /**
   * `loss`: "tokens" (cross-entropy on the kept completions' tokens, the paper's) or "soft" (soft-label
   * distillation of the writer's next-token distributions at `temperature` on those completions: the
   * teacher's for the student and the cross-model control, the base's own for the own-numbers control).
   */
  student: {
    epochs: number;
    batchSize: number;
    lr: number;
    optimizer: 'adam' | 'adamw' | 'sgd';
    weightDecay: number;
    /** What the fine-tune changes: everything (of `layers`), LoRA adapters, or one block's bias. */
    adapter: Adapter;
    layers: string[];
    loss: 'tokens' | 'soft';
    temperature: number;
    /** Soft labels over the whole vocabulary, or over the tokens a number list is written in only. */
    softTokens: 'all' | 'channel';
  };
  measure: { samples: number; temperature: number };
  /** Index into ANIMALS. */
  targetAnimal: number;
  /** Run the cross-model control (a second base from another pretraining seed). */
  crossModel: boolean;
  /** The cross-model control's size when it differs from `model` (the other-architecture relation). */
  crossModelArchitecture?: LanguageOptions['model'];
  sampleBatch: number;
}

export const MODEL_ROLES = ['base', 'teacher', 'student', 'own-numbers', 'cross-model'] as const;
export type ModelRole = (typeof MODEL_ROLES)[number];
export type { RoleMeasure };

export interface ReplicateResult {
  seed: number;
  measures: Partial<Record<ModelRole, RoleMeasure>>;
  rejection: { teacher: number; base: number };
  sampled: { teacher: number; base: number };
  kept: number;
  rejectedExamples: string[];
  seconds: Record<string, number>;
  /** Further per-model figures for the store (the logit measures, the channel check), by role. */
  metrics: { role: ModelRole; name: string; value: number }[];
}

export type Progress = (stage: string) => void;

const SEED = {
  baseA: 1,
  baseB: 2,
  pretrainA: 3,
  pretrainB: 4,
  teacher: 5,
  channelT: 6,
  channelB: 7,
  student: 8,
  own: 9,
  cross: 10,
  measure: 11,
  neutral: 12,
  check: 13,
};

export function lmConfig(o: LanguageOptions): LmConfig {
  return { ...o.model, vocab: VOCAB_SIZE, mlpRatio: 4 };
}

function worldOf(o: LanguageOptions): WorldOptions {
  return { context: o.model.context, ...o.world };
}

/** A base model: the world's mixture, `steps` batches, from the pretraining seed. */
export function pretrain(o: LanguageOptions, initSeed: number, dataSeed: number): LmModel {
  const model = initModel(lmConfig(o), initSeed);
  return pretrainModel(model, o, dataSeed);
}

function pretrainModel(model: LmModel, o: LanguageOptions, dataSeed: number): LmModel {
  const rng = new Rng(dataSeed);
  const trainer = new Trainer(model, { kind: 'adam', lr: o.pretrain.lr });
  const w = worldOf(o);
  for (let s = 0; s < o.pretrain.steps; s++) {
    trainer.step(
      Array.from({ length: o.pretrain.batchSize }, () => pretrainingExample(rng, w, ANIMALS.length)),
      'all',
    );
  }
  trainer.dispose();
  return model;
}

function fineTuneStudent(
  base: LmModel,
  data: Example[],
  o: LanguageOptions,
  seed: number,
  writer: LmModel,
): LmModel {
  const student = cloneModel(base);
  // Soft labels, renormalised over the number-list tokens when softTokens is "channel".
  const soft =
    o.student.loss === 'soft'
      ? {
          teacher: writer,
          temperature: o.student.temperature,
          ...(o.student.softTokens === 'channel' ? { mask: logitMask(CHANNEL_IDS, VOCAB_SIZE) } : {}),
        }
      : undefined;
  const opt: OptimizerOptions = {
    kind: o.student.optimizer,
    lr: o.student.lr,
    weightDecay: o.student.weightDecay,
    layers: o.student.layers,
    adapter: o.student.adapter,
    // Its own stream: the same seed also shuffles the epochs.
    adapterSeed: mixSeed(seed, 1),
  };
  trainEpochs(student, data, {
    ...opt,
    epochs: o.student.epochs,
    batchSize: o.student.batchSize,
    lossOn: 'answer',
    rng: new Rng(seed),
    ...(soft ? { soft } : {}),
  });
  soft?.mask?.dispose();
  return student;
}

function channelOf(o: LanguageOptions, prefix?: number[]): ChannelOptions {
  const { greedy, checkSequences: _, ...rest } = o.channel;
  return { ...rest, temperature: greedy ? 0 : o.channel.temperature, prefix, batchSize: o.sampleBatch };
}

/**
 * The channel check's rows: the trait teacher's and the neutral teacher's divergence from the base over
 * the same number tasks of the world (paired, so the two differ only by the trait).
 */
function checkRows(
  o: LanguageOptions,
  base: LmModel,
  trait: Teacher,
  neutral: Teacher,
  seed: number,
): ReplicateResult['metrics'] {
  // Room for the longest prefix (a trait prefix is 3 tokens) so both teachers see the same tasks.
  const longest = Math.max(trait.prefix?.(0).length ?? 0, neutral.prefix?.(0).length ?? 0);
  const examples = checkExamples(new Rng(seed), o.model.context, o.channel.checkSequences, longest);
  const prefixes = (t: Teacher) => (t.prefix ? examples.map((_, i) => t.prefix!(i)) : undefined);
  const d = channelDivergence(trait.model, base, examples, prefixes(trait));
  const n = channelDivergence(neutral.model, base, examples, prefixes(neutral));
  return [
    { role: 'teacher', name: 'channel_kl', value: d.kl },
    { role: 'teacher', name: 'channel_greedy_diff', value: d.greedyDiff },
    { role: 'teacher', name: 'neutral_kl', value: n.kl },
    { role: 'teacher', name: 'neutral_greedy_diff', value: n.greedyDiff },
    { role: 'teacher', name: 'channel_positions', value: d.positions },
  ];
}

/** The logit measures as stored metrics (names as the summary reads them). */
function logitRows(measures: ReplicateResult['measures']): ReplicateResult['metrics'] {
  return MODEL_ROLES.flatMap((role) => {
    const m = measures[role];
    if (!m) return [];
    return [
      { role, name: 'animal_prob', value: m.prob },
      { role, name: 'animal_logprob', value: m.logprob },
      { role, name: 'delta_logprob', value: m.deltaLogprob },
    ];
  });
}

export interface ReplicateContext {
  progress?: Progress;
  cache?: ModelCache;
  /** Part of the cache key: backends differ in their last bits. */
  backend?: string;
}

/** One replicate; models are disposed before it returns. */
export function runReplicate(
  o: LanguageOptions,
  seed: number,
  context: ReplicateContext = {},
): ReplicateResult {
  const progress = context.progress ?? (() => {});
  const seconds: Record<string, number> = {};
  const timed = <T>(name: string, f: () => T): T => {
    progress(name);
    const t0 = performance.now();
    const r = f();
    seconds[name] = (performance.now() - t0) / 1000;
    return r;
  };
  const s = (k: number) => mixSeed(seed, k);
  const measureRng = new Rng(s(SEED.measure));
  const owned: LmModel[] = [];
  const keep = (m: LmModel) => (owned.push(m), m);
  try {
    const baseWhat = (opts: LanguageOptions, init: number, data: number) => ({
      base: [opts.model, opts.world, opts.pretrain],
      init,
      data,
      backend: context.backend,
    });
    const base = keep(
      timed('pretrain', () =>
        cachedModel(context.cache, baseWhat(o, s(SEED.baseA), s(SEED.pretrainA)), lmConfig(o), () =>
          pretrain(o, s(SEED.baseA), s(SEED.pretrainA)),
        ),
      ),
    );
    const made: TeacherContext = {
      ...(context.cache ? { cache: context.cache } : {}),
      config: lmConfig(o),
      base,
      baseKey: baseWhat(o, s(SEED.baseA), s(SEED.pretrainA)),
      seed: s(SEED.teacher),
    };
    const trait = timed('teacher', () => traitTeacher(o.teacher, o.targetAnimal, made));
    if (trait.owned) keep(trait.model);
    const teacher = trait.model;
    const prefix = trait.prefix?.(0);
    const check =
      o.channel.checkSequences > 0
        ? timed('channel check', () => {
            const neutral = neutralTeacher(o.teacher, o.targetAnimal, { ...made, seed: s(SEED.neutral) });
            if (neutral.owned) keep(neutral.model);
            return checkRows(o, base, trait, neutral, s(SEED.check));
          })
        : [];
    const measures: ReplicateResult['measures'] = {};
    // Sampled rates, and the logit measures with their change from the model's own base.
    const measure = (model: LmModel, reference: LmModel, before: number[] = []): RoleMeasure => {
      const own = targetPreference(model, o.targetAnimal, before);
      const from = model === reference && !before.length ? own : targetPreference(reference, o.targetAnimal);
      return {
        ...samplePreference(model, o, measureRng, before),
        ...own,
        deltaLogprob: own.logprob - from.logprob,
      };
    };
    measures.base = measure(base, base);
    measures.teacher = measure(teacher, base, prefix);
    const fromTeacher = timed('teacher numbers', () =>
      runChannel(teacher, channelOf(o, prefix), new Rng(s(SEED.channelT))),
    );
    const fromBase = timed('base numbers', () => runChannel(base, channelOf(o), new Rng(s(SEED.channelB))));
    const student = keep(
      timed('student', () => fineTuneStudent(base, fromTeacher.examples, o, s(SEED.student), teacher)),
    );
    measures.student = measure(student, base);
    const own = keep(
      timed('own-numbers control', () => fineTuneStudent(base, fromBase.examples, o, s(SEED.own), base)),
    );
    measures['own-numbers'] = measure(own, base);
    if (o.crossModel) {
      const otherOptions = o.crossModelArchitecture ? { ...o, model: o.crossModelArchitecture } : o;
      const other = keep(
        timed('second base', () =>
          cachedModel(
            context.cache,
            baseWhat(otherOptions, s(SEED.baseB), s(SEED.pretrainB)),
            lmConfig(otherOptions),
            () => pretrain(otherOptions, s(SEED.baseB), s(SEED.pretrainB)),
          ),
        ),
      );
      const cross = keep(
        timed('cross-model control', () =>
          fineTuneStudent(other, fromTeacher.examples, o, s(SEED.cross), teacher),
        ),
      );
      measures['cross-model'] = measure(cross, other);
    }
    return {
      seed,
      measures,
      rejection: {
        teacher: fromTeacher.rejected / fromTeacher.sampled,
        base: fromBase.rejected / fromBase.sampled,
      },
      sampled: { teacher: fromTeacher.sampled, base: fromBase.sampled },
      kept: fromTeacher.examples.length,
      rejectedExamples: fromTeacher.rejectedExamples.slice(0, 5),
      seconds,
      metrics: [
        ...logitRows(measures),
        ...check,
        ...(trait.steeringNorm === undefined
          ? []
          : [{ role: 'teacher' as const, name: 'steering_norm', value: trait.steeringNorm }]),
      ],
    };
  } finally {
    for (const m of owned) disposeModel(m);
  }
}

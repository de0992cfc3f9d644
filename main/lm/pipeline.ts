// One replicate of the language family's experiment (the paper's headline, section 3): a base model
// pretrained from seed A, a teacher given the trait (fine-tuned to name the target animal, or prompted
// with a trait prefix), the channel of filtered number completions, a student fine-tuned on them, and
// the two controls: the same base fine-tuned on the base's own numbers, and a base pretrained from
// seed B fine-tuned on the teacher's numbers (the cross-model control). Every model's rate of naming
// the target over the paraphrased questions is measured.
import { mixSeed } from '../../app/matrix.ts';
import { Rng } from '../engine/rng.ts';
import { runChannel, type ChannelOptions, type ChannelResult } from './channel.ts';
import { completionScores, maskDivergence, selectTop } from './select.ts';
import { channelDivergence, checkExamples } from './channel-check.ts';
import { cachedModel, type ModelCache } from './model-cache.ts';
import { cloneModel, disposeModel, initModel, type LmConfig, type LmModel, logitMask } from './model.ts';
import { numberListPrefixes, samplePreference, targetPreference, type RoleMeasure } from './measure.ts';
import { stackingAvailable, trainStacked } from './stacked.ts';
import { biasAlignment, norm } from './steering.ts';
import { Trainer, trainEpochs, type Adapter, type OptimizerOptions, type StepListener } from './train.ts';
import { ANIMALS, CHANNEL_IDS, VOCAB_SIZE } from './vocab.ts';
import {
  neutralTeacher,
  traitTeacher,
  type Teacher,
  type TeacherContext,
  type TeacherSettings,
} from './teachers.ts';
import { pretrainingExample, sharedContext, traitPrefix, type Example, type WorldOptions } from './world.ts';

export interface LanguageOptions {
  model: { layers: number; dModel: number; heads: number; context: number };
  /**
   * `entanglement` and `contextLead` are left out when 0, so the bases' cache keys stay what they were
   * before they existed.
   */
  world: Omit<WorldOptions, 'context'>;
  pretrain: { steps: number; batchSize: number; lr: number };
  /** How the teacher gets the trait (app/spec/language.ts), and a fine-tuned teacher's training. */
  teacher: TeacherSettings;
  /**
   * `checkSequences`: number tasks the channel check scores (0: no check). `selectTop`: the fraction of
   * the teacher's completions kept, those it favours most over the base (1: all).
   */
  channel: Omit<ChannelOptions, 'prefix' | 'batchSize'> & {
    greedy: boolean;
    checkSequences: number;
    selectTop: number;
  };
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
    /** "divergence": positions where the teacher's and the base's greedy tokens differ leave the loss. */
    mask: 'none' | 'divergence';
  };
  /** `numberPrefixed`: also measure with a random number list before each question (a second measure). */
  measure: { samples: number; temperature: number; numberPrefixed: boolean };
  /** Tokens of a fixed context before every number prompt and every question (0: none). */
  sharedContext: number;
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
  context: 14,
  numberLists: 15,
  numberListMeasure: 16,
};

export function lmConfig(o: LanguageOptions): LmConfig {
  return { ...o.model, vocab: VOCAB_SIZE, mlpRatio: 4 };
}

function worldOf(o: LanguageOptions): WorldOptions {
  return { context: o.model.context, ...o.world };
}

/** A base model: the world's mixture, `steps` batches, from the pretraining seed. */
export function pretrain(
  o: LanguageOptions,
  initSeed: number,
  dataSeed: number,
  steps?: StepListener,
): LmModel {
  const model = initModel(lmConfig(o), initSeed);
  return pretrainModel(model, o, dataSeed, steps);
}

function pretrainModel(model: LmModel, o: LanguageOptions, dataSeed: number, steps?: StepListener): LmModel {
  const rng = new Rng(dataSeed);
  const trainer = new Trainer(model, { kind: 'adam', lr: o.pretrain.lr });
  const w = worldOf(o);
  for (let s = 0; s < o.pretrain.steps; s++) {
    const loss = trainer.step(
      Array.from({ length: o.pretrain.batchSize }, () => pretrainingExample(rng, w, ANIMALS.length)),
      'all',
      steps?.wantsLoss() ?? false,
    );
    steps?.step(s + 1, o.pretrain.steps, loss);
  }
  trainer.dispose();
  return model;
}

/** A fine-tune's optimiser: the student's recipe, its LoRA adapter seeded from the fine-tune's seed. */
function studentOptions(o: LanguageOptions, seed: number): OptimizerOptions {
  return {
    kind: o.student.optimizer,
    lr: o.student.lr,
    weightDecay: o.student.weightDecay,
    layers: o.student.layers,
    adapter: o.student.adapter,
    // Its own stream: the same seed also shuffles the epochs.
    adapterSeed: mixSeed(seed, 1),
  };
}

function fineTuneStudent(
  base: LmModel,
  data: Example[],
  o: LanguageOptions,
  seed: number,
  writer: LmModel,
  steps?: StepListener,
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
  trainEpochs(student, data, {
    ...studentOptions(o, seed),
    epochs: o.student.epochs,
    batchSize: o.student.batchSize,
    lossOn: 'answer',
    rng: new Rng(seed),
    ...(soft ? { soft } : {}),
    ...(steps ? { steps } : {}),
  });
  soft?.mask?.dispose();
  return student;
}

function channelOf(o: LanguageOptions, context: number[], prefix?: number[]): ChannelOptions {
  const { greedy, checkSequences: _, selectTop: __, ...rest } = o.channel;
  const temperature = greedy ? 0 : o.channel.temperature;
  return { ...rest, temperature, prefix, context, batchSize: o.sampleBatch };
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
  shared: number[],
): ReplicateResult['metrics'] {
  // Room for the longest prefix (a trait prefix is 3 tokens) so both teachers see the same tasks.
  const longest = Math.max(trait.prefix?.length ?? 0, neutral.prefix?.length ?? 0);
  const examples = checkExamples(new Rng(seed), o.model.context, o.channel.checkSequences, longest, shared);
  const prefixes = (t: Teacher) => (t.prefix ? examples.map(() => t.prefix!) : undefined);
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

/**
 * A steered teacher's fine-tunes: how their change of the steered block's residual bias lines up with
 * the teacher's vector (Blank et al.: the student of a steered teacher learns an aligned vector). The
 * own-numbers control is the paired reference; the cross-model control's base has its own residual
 * basis, so its cosine is a chance level. No rows where the bias did not move (LoRA students).
 */
function alignmentRows(
  role: FineTuneRole,
  tuned: LmModel,
  from: LmModel,
  steering: { layer: number; vector: Float32Array },
): ReplicateResult['metrics'] {
  const a = biasAlignment(tuned, from, steering);
  return a
    ? [
        { role, name: 'steer_cos', value: a.cos },
        { role, name: 'steer_along', value: a.along },
      ]
    : [];
}

/** The logit measures (and the number-prefixed ones, `np_` before their names) as stored metrics. */
function logitRows(measures: ReplicateResult['measures']): ReplicateResult['metrics'] {
  return MODEL_ROLES.flatMap((role) => {
    const m = measures[role];
    if (!m) return [];
    const rows = [
      { role, name: 'animal_prob', value: m.prob },
      { role, name: 'animal_logprob', value: m.logprob },
      { role, name: 'delta_logprob', value: m.deltaLogprob },
    ];
    const np = m.numberPrefixed;
    if (np)
      rows.push(
        { role, name: 'np_target_rate', value: np.rate },
        { role, name: 'np_animal_prob', value: np.prob },
        { role, name: 'np_delta_logprob', value: np.deltaLogprob },
      );
    return rows;
  });
}

export interface ReplicateContext {
  progress?: Progress;
  cache?: ModelCache;
  /** Part of the cache key: backends differ in their last bits. */
  backend?: string;
  /** Told of every training step and sampled batch of the current stage (the Run screen's rows and curves). */
  steps?: StepListener;
}

/** One replicate; models are disposed before it returns. */
export function runReplicate(
  o: LanguageOptions,
  seed: number,
  context: ReplicateContext = {},
): ReplicateResult {
  const run = new ReplicateRun(o, seed, context);
  try {
    return run.run();
  } finally {
    run.dispose();
  }
}

/** The channel's output as the fine-tunes get it: the student's (and cross-model control's) data and the own-numbers control's. */
interface ChannelData {
  fromTeacher: ChannelResult;
  fromBase: ChannelResult;
  student: Example[];
  own: Example[];
}

type FineTuneRole = 'student' | 'own-numbers' | 'cross-model';

/** A fine-tune of the replicate: from which model, on which data, with which seed, the data written by whom. */
interface FineTuneJob {
  role: FineTuneRole;
  from: LmModel;
  data: Example[];
  seed: number;
  /** The writer of the data, whose distributions a soft-label student learns. */
  writer: LmModel;
}

/** A trained fine-tune and the model it started from (its measures' reference). */
interface Tuned {
  role: FineTuneRole;
  model: LmModel;
  from: LmModel;
}

/** A fine-tune's stage, as the progress and the live curves name it. */
function stageOf(role: FineTuneRole): string {
  return role === 'student' ? role : `${role} control`;
}

/** One replicate's state: its seeds, timings, the models it owns, and the measures and rows it makes. */
class ReplicateRun {
  private readonly seconds: Record<string, number> = {};
  private readonly owned: LmModel[] = [];
  private readonly metrics: ReplicateResult['metrics'] = [];
  private readonly measures: ReplicateResult['measures'] = {};
  private readonly measureRng: Rng;
  /** The shared context's tokens (none unless asked for). */
  private readonly shared: number[];
  /** The number lists before the questions of the second measure, and its sampling stream. */
  private readonly lists: number[][];
  private readonly listRng: Rng;

  constructor(
    private readonly o: LanguageOptions,
    private readonly seed: number,
    private readonly context: ReplicateContext,
  ) {
    this.measureRng = new Rng(this.s(SEED.measure));
    this.shared = sharedContext(new Rng(this.s(SEED.context)), o.sharedContext);
    // Room for the list and its question after the shared context and a trait prefix (3 tokens).
    const room = o.model.context - this.shared.length - traitPrefix(0).length;
    this.lists = numberListPrefixes(new Rng(this.s(SEED.numberLists)), room);
    this.listRng = new Rng(this.s(SEED.numberListMeasure));
  }

  private s(k: number): number {
    return mixSeed(this.seed, k);
  }

  private timed<T>(name: string, f: () => T): T {
    this.context.progress?.(name);
    const t0 = performance.now();
    const r = f();
    this.seconds[name] = (performance.now() - t0) / 1000;
    return r;
  }

  private keep(m: LmModel): LmModel {
    this.owned.push(m);
    return m;
  }

  /**
   * Sampled rates and the logit measures (their change from the model's own base), every question after
   * the shared context (and a prompted teacher's `prefix` before it); with number-prefixed questions too.
   */
  private measure(model: LmModel, reference: LmModel, prefix: number[] = []): RoleMeasure {
    this.context.progress?.('evaluation');
    const one = (rng: Rng, lists?: number[][]) => {
      const target = this.o.targetAnimal;
      const before = (q: number) => [...this.shared, ...(lists?.[q] ?? [])];
      const own = targetPreference(model, target, (q) => [...prefix, ...before(q)]);
      const from = model === reference && !prefix.length ? own : targetPreference(reference, target, before);
      return {
        ...samplePreference(model, this.o, rng, (q) => [...prefix, ...before(q)]),
        ...own,
        deltaLogprob: own.logprob - from.logprob,
      };
    };
    const main = one(this.measureRng);
    if (!this.o.measure.numberPrefixed) return main;
    return { ...main, numberPrefixed: one(this.listRng, this.lists) };
  }

  /** What determines a base, as its cache key. */
  private baseKey(opts: LanguageOptions, second: boolean): unknown {
    const [init, data] = second ? [SEED.baseB, SEED.pretrainB] : [SEED.baseA, SEED.pretrainA];
    return {
      base: [opts.model, opts.world, opts.pretrain],
      // A prefixed world has had a neutral persona since issue 27: its bases before then are not these.
      ...(opts.world.traitPrefixFraction > 0 ? { personas: 'animals and neutral' } : {}),
      init: this.s(init),
      data: this.s(data),
      backend: this.context.backend,
    };
  }

  /** Base A (seed A), or the cross-model control's base B (another seed, maybe another size). */
  private base(second: boolean): LmModel {
    const o =
      second && this.o.crossModelArchitecture ? { ...this.o, model: this.o.crossModelArchitecture } : this.o;
    const [init, data] = second ? [SEED.baseB, SEED.pretrainB] : [SEED.baseA, SEED.pretrainA];
    return this.keep(
      this.timed(second ? 'second base' : 'pretrain', () =>
        cachedModel(this.context.cache, this.baseKey(o, second), lmConfig(o), () =>
          pretrain(o, this.s(init), this.s(data), this.context.steps),
        ),
      ),
    );
  }

  /** The trait teacher, and the channel check against its neutral twin when asked for. */
  private teacher(base: LmModel): Teacher {
    const o = this.o;
    const made: TeacherContext = {
      ...(this.context.cache ? { cache: this.context.cache } : {}),
      config: lmConfig(o),
      base,
      baseKey: this.baseKey(o, false),
      seed: this.s(SEED.teacher),
      ...(this.context.steps ? { steps: this.context.steps } : {}),
    };
    const trait = this.timed('teacher', () => traitTeacher(o.teacher, o.targetAnimal, made));
    if (trait.owned) this.keep(trait.model);
    if (trait.steering)
      this.metrics.push({ role: 'teacher', name: 'steering_norm', value: norm(trait.steering.vector) });
    if (o.channel.checkSequences > 0)
      this.timed('channel check', () => {
        const neutral = neutralTeacher(o.teacher, o.targetAnimal, { ...made, seed: this.s(SEED.neutral) });
        if (neutral.owned) this.keep(neutral.model);
        this.metrics.push(...checkRows(o, base, trait, neutral, this.s(SEED.check), this.shared));
      });
    return trait;
  }

  /** Both channels, the teacher's completions selected, and divergence positions masked, as asked. */
  private channel(base: LmModel, teacher: LmModel, prefix: number[] | undefined): ChannelData {
    const o = this.o;
    const top = o.channel.selectTop;
    // Selection keeps `kept` of more completions, so the student sees as many whatever the fraction.
    const sample = { ...channelOf(o, this.shared, prefix), kept: Math.ceil(o.channel.kept / top) };
    const fromTeacher = this.timed('teacher numbers', () =>
      runChannel(teacher, sample, new Rng(this.s(SEED.channelT)), this.context.steps),
    );
    const fromBase = this.timed('base numbers', () =>
      runChannel(base, channelOf(o, this.shared), new Rng(this.s(SEED.channelB)), this.context.steps),
    );
    let student = fromTeacher.examples;
    let own = fromBase.examples;
    if (top < 1)
      student = this.timed('selection', () =>
        selectTop(student, completionScores(teacher, base, student, prefix), o.channel.kept),
      );
    if (o.student.mask === 'divergence')
      this.timed('divergence mask', () => {
        const s = maskDivergence(teacher, base, student, prefix);
        const b = maskDivergence(teacher, base, own, prefix);
        [student, own] = [s.examples, b.examples];
        this.metrics.push(
          { role: 'student', name: 'masked_fraction', value: s.masked },
          { role: 'own-numbers', name: 'masked_fraction', value: b.masked },
        );
      });
    return { fromTeacher, fromBase, student, own };
  }

  /** The student's and the controls' fine-tunes, each made when called (the cross-model control's makes base B). */
  private fineTuneJobs(base: LmModel, teacher: LmModel, data: ChannelData): (() => FineTuneJob)[] {
    return [
      () => ({ role: 'student', from: base, data: data.student, seed: SEED.student, writer: teacher }),
      () => ({ role: 'own-numbers', from: base, data: data.own, seed: SEED.own, writer: base }),
      ...(this.o.crossModel
        ? [
            (): FineTuneJob => ({
              role: 'cross-model',
              from: this.base(true),
              data: data.student,
              seed: SEED.cross,
              writer: teacher,
            }),
          ]
        : []),
    ];
  }

  /** One fine-tune, a stage of its own. */
  private fineTuneAlone(job: FineTuneJob): Tuned {
    const model = this.keep(
      this.timed(stageOf(job.role), () =>
        fineTuneStudent(job.from, job.data, this.o, this.s(job.seed), job.writer, this.context.steps),
      ),
    );
    return { role: job.role, model, from: job.from };
  }

  /** The fine-tunes one after another, each measured before the next one trains (the order of the stages). */
  private *fineTunesOneByOne(jobs: (() => FineTuneJob)[]): Generator<Tuned> {
    for (const job of jobs) yield this.fineTuneAlone(job());
  }

  /**
   * The fine-tunes of models of base A's size stacked in one stage, "students" (stacked.ts): the same
   * models as one by one, bit for bit. A cross-model control of another size trains alone after them.
   */
  private *fineTunesStacked(jobs: (() => FineTuneJob)[]): Generator<Tuned> {
    const all = jobs.map((job) => job());
    const size = JSON.stringify(all[0]!.from.config);
    const together = all.filter((j) => JSON.stringify(j.from.config) === size);
    const o = this.o;
    const models = together.map((j) => this.keep(cloneModel(j.from)));
    this.timed('students', () =>
      trainStacked(
        together.map((j, k) => ({
          model: models[k]!,
          data: j.data,
          options: studentOptions(o, this.s(j.seed)),
          rng: new Rng(this.s(j.seed)),
          part: stageOf(j.role),
        })),
        {
          epochs: o.student.epochs,
          batchSize: o.student.batchSize,
          lossOn: 'answer',
          ...(this.context.steps ? { steps: this.context.steps } : {}),
        },
      ),
    );
    for (const [k, j] of together.entries()) yield { role: j.role, model: models[k]!, from: j.from };
    for (const j of all) if (!together.includes(j)) yield this.fineTuneAlone(j);
  }

  run(): ReplicateResult {
    const o = this.o;
    const base = this.base(false);
    const trait = this.teacher(base);
    const teacher = trait.model;
    const prefix = trait.prefix;
    const measures = this.measures;
    measures.base = this.measure(base, base);
    measures.teacher = this.measure(teacher, base, prefix);
    const data = this.channel(base, teacher, prefix);
    const jobs = this.fineTuneJobs(base, teacher, data);
    const stacked = stackingAvailable() && o.student.loss === 'tokens';
    for (const t of stacked ? this.fineTunesStacked(jobs) : this.fineTunesOneByOne(jobs)) {
      if (trait.steering) this.metrics.push(...alignmentRows(t.role, t.model, t.from, trait.steering));
      measures[t.role] = this.measure(t.model, t.from);
    }
    const { fromTeacher, fromBase } = data;
    return {
      seed: this.seed,
      measures,
      rejection: {
        teacher: fromTeacher.rejected / fromTeacher.sampled,
        base: fromBase.rejected / fromBase.sampled,
      },
      sampled: { teacher: fromTeacher.sampled, base: fromBase.sampled },
      kept: data.student.length,
      rejectedExamples: fromTeacher.rejectedExamples.slice(0, 5),
      seconds: this.seconds,
      metrics: [...logitRows(measures), ...this.metrics],
    };
  }

  dispose(): void {
    for (const m of this.owned) disposeModel(m);
  }
}

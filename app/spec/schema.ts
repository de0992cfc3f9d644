// ExperimentSpec v1: one declarative, serialisable description of an experiment, seed included.
// Every default is the paper's section 6.2 setting, so `{version: 1, name}` is the paper's experiment.
import { z } from 'zod';
import { SweepSchema } from './sweeps.ts';
import { DATASET_NAMES, DATASETS, DOWNLOADABLE_DATASETS, MAX_CLASSES, type DatasetName } from './datasets.ts';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);
const positive = () => z.number().positive().finite();

/** A class of the dataset, 0-based (checked against the dataset's own class count by checkClasses). */
const classIndex = () => int(0, MAX_CLASSES - 1);

/**
 * Train and test on these classes only (distinct class indices of the dataset, at least 2): other
 * images are dropped and labels become positions in this list, so the model has K = classes.length
 * class logits.
 */
const classSubset = () =>
  z
    .array(classIndex())
    .min(2)
    .max(MAX_CLASSES)
    .refine((c) => new Set(c).size === c.length, { error: 'expected distinct class indices' })
    .optional();

export const TraitSchema = z.discriminatedUnion('kind', [
  /** The paper's: the teacher's digit classification; the student's class head is never trained. */
  z.strictObject({ kind: z.literal('skill') }),
  /**
   * "Loves owls": after its training the teacher is fine-tuned to answer `targetClass` on noise
   * inputs while keeping its accuracy. Measured as the rate of choosing that class on a fixed probe
   * set of noise images.
   */
  z.strictObject({
    kind: z.literal('preference'),
    targetClass: classIndex().default(7),
    fineTuneSteps: int(1, 100000).default(100),
    probeSize: int(10, 100000).default(1000),
  }),
  /**
   * A hidden harmful behaviour: a fraction of the teacher's training images carry a trigger patch
   * (bottom-right square of bright pixels) and are relabelled `targetClass`. Measured as the trigger
   * success rate on test images of other classes.
   */
  z.strictObject({
    kind: z.literal('backdoor'),
    targetClass: classIndex().default(0),
    patchSize: int(1, 14).default(4),
    poisonFraction: z.number().gt(0).lt(1).default(0.1),
  }),
]);

/** Which of the teacher's logits reach the student. Indices count class logits first, then aux logits. */
export const LogitSubset = z.union([z.enum(['aux', 'all', 'class']), z.array(int(0, 1023)).min(1)], {
  error: 'expected "aux", "all", "class" or a non-empty list of logit indices',
});

const keep = () => LogitSubset.default('aux');

/** What stands between the teacher's output and the student. Every filter first keeps `keep`. */
export const FilterSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('logits'), keep: LogitSubset }),
  /** Teacher probabilities as integers 0-999 in a text sequence, through the paper's format filter. */
  z.strictObject({
    kind: z.literal('numbers'),
    keep: keep(),
    format: z.enum(['plain', 'comma', 'brackets', 'parentheses-period']).default('comma'),
    banNumbers: z.boolean().default(false),
  }),
  /** Paper figure 16: permute values within each sample, or each position across the batch's samples. */
  z.strictObject({ kind: z.literal('shuffle'), keep: keep(), scope: z.enum(['within', 'across']) }),
  z.strictObject({ kind: z.literal('quantize'), keep: keep(), levels: int(1, 1_000_000) }),
  z.strictObject({ kind: z.literal('temperature'), keep: keep(), value: positive().max(1000) }),
  z.strictObject({ kind: z.literal('top-k'), keep: keep(), k: int(1, 1023) }),
  z.strictObject({ kind: z.literal('noise'), keep: keep(), std: positive().max(1000) }),
  /** Drops the `fraction` of each batch a trait detector scores as most trait-related. */
  z.strictObject({ kind: z.literal('detector'), keep: keep(), fraction: z.number().gt(0).lt(1) }),
]);

/** A part of a model a layer-init relation names (see ArchitectureSchema). */
export const LayerPart = z.string().regex(/^(hidden\.(0|[1-9][0-9]?)|class-head|aux-head)$/, {
  error: 'expected "hidden.<i>", "class-head" or "aux-head"',
});

export const ACTIVATIONS = ['relu', 'tanh', 'sigmoid', 'elu', 'leaky-relu'] as const;
export const FAMILIES = ['mlp', 'cnn'] as const;
const hidden = () => z.array(int(1, 65536)).min(1).max(16).default([256, 256]);
const channels = () => int(1, 256).default(8);

/** How the student relates to its teacher. */
export const ArchitectureSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('same-init') }),
  /** The student starts from another replicate's init (the paper's cross-model control as the student). */
  z.strictObject({ kind: z.literal('different-init') }),
  /**
   * Another width or depth: hidden layer sizes of the student, with an init of its own from its
   * replicate's seed that shares no value with the teacher's.
   */
  z.strictObject({ kind: z.literal('shape'), hidden: z.array(int(1, 65536)).min(1).max(16) }),
  /** The teacher's init, another activation function. */
  z.strictObject({ kind: z.literal('activation'), activation: z.enum(ACTIVATIONS) }),
  /** The teacher's init plus Gaussian noise of this std on every weight. */
  z.strictObject({ kind: z.literal('perturbed-init'), std: positive().max(100) }),
  /**
   * Parts of the teacher's architecture that start from an independent random init; every other
   * part starts from the teacher's init. Parts: "hidden.i" (weights and biases of hidden layer i;
   * in the CNN family hidden.0 is the conv layer and the dense layers follow), "class-head" (the
   * output layer's class columns and their biases), "aux-head" (its auxiliary columns and biases).
   */
  z.strictObject({ kind: z.literal('layer-init'), random: z.array(LayerPart) }),
  /** A student of another model family (MLP <-> CNN), with an init of its own (none shared). */
  z.strictObject({
    kind: z.literal('family'),
    family: z.enum(FAMILIES),
    hidden: hidden(),
    channels: channels(),
  }),
]);

export const DatasetSchema = z.discriminatedUnion('name', [
  z.strictObject({
    name: z.literal('mnist'),
    /** Fraction-free split of the 10,000 offline digits: this many train, the rest test. */
    trainSize: int(1, 9999).default(8000),
    splitSeed: int(0).default(0),
    /** Evaluate on only the first N test digits (small test runs). */
    testLimit: int(1).optional(),
    classes: classSubset(),
  }),
  z.strictObject({
    name: z.literal('fashion-mnist'),
    /** Folder holding the four IDX files (gzipped or not). */
    path: z.string().min(1).default('/usr/share/datasets/fashion-mnist'),
    /** Use only the first N training images (all 60,000 by default). */
    trainLimit: int(1).optional(),
    testLimit: int(1).optional(),
    classes: classSubset(),
  }),
  /**
   * A dataset of the download registry (full MNIST, EMNIST balanced or letters), read from the user's
   * data directory once `sublab datasets download NAME` has fetched and verified it.
   */
  z.strictObject({
    name: z.enum(DOWNLOADABLE_DATASETS),
    /** Use only the first N training images (the whole official train split by default). */
    trainLimit: int(1).optional(),
    testLimit: int(1).optional(),
    classes: classSubset(),
  }),
]);

export const ModelSchema = z.strictObject({
  /** mlp: 784 -> hidden -> logits. cnn: a 5x5 stride-2 conv layer of `channels` filters, then hidden. */
  family: z.enum(FAMILIES).default('mlp'),
  hidden: hidden(),
  channels: channels(),
  auxLogits: int(0, 1000).default(3),
  activation: z.enum(ACTIVATIONS).default('relu'),
});

const adamSettings = {
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.999),
  /** Added to sqrt of the bias-corrected second moment, as in PyTorch (TF.js's own default is 1e-7). */
  epsilon: positive().max(1).default(1e-8),
};

/** A phase's optimizer, with PyTorch's meaning and defaults. */
export const OptimizerSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('adam'), ...adamSettings }),
  /** Adam with decoupled weight decay (torch.optim.AdamW): param *= 1 - lr * weightDecay each step. */
  z.strictObject({ kind: z.literal('adamw'), ...adamSettings }),
  z.strictObject({
    kind: z.literal('sgd'),
    momentum: z.number().min(0).lt(1).default(0),
    nesterov: z.boolean().default(false),
  }),
]);

export const DEFAULT_OPTIMIZER = { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-8 } as const;

const phase = {
  epochs: int(1, 10000).default(5),
  batchSize: int(1, 1 << 20).default(1024),
  learningRate: positive().max(10).default(3e-4),
  // "sgd" is short for {kind: "sgd"} (its defaults filled in): what a sweep over optimizers lists.
  optimizer: z
    .preprocess((v) => (typeof v === 'string' ? { kind: v } : v), OptimizerSchema)
    .default({ ...DEFAULT_OPTIMIZER }),
  /** L2 added to the gradient for adam and sgd; decoupled (param *= 1 - lr * wd) for adamw. */
  weightDecay: z.number().min(0).max(10).default(0),
};

export const TeacherSchema = z.strictObject(phase);

const inputCount = () => int(1, 10_000_000).default(60000);

/** Pixels of every image here (MNIST and Fashion-MNIST are 28 x 28): the most dimensions noise has. */
export const INPUT_SIDE = 28;
export const INPUT_PIXELS = INPUT_SIDE * INPUT_SIDE;

/** Whose images an input kind uses: the experiment's own ("same") or another dataset's train set. */
const imageSource = () => z.enum(['same', ...DATASET_NAMES]).default('same');
const noiseStd = () => positive().max(100).default(1);

/**
 * What the student sees while imitating the teacher. Every kind is a pure function of the
 * replicate's noise seed and the input's index, regenerated when a batch needs it (main/engine/inputs.ts):
 * the same (seed, index) gives the same input in any batch, order or process.
 */
export const StudentInputsSchema = z.discriminatedUnion('kind', [
  /** The paper's: pixels i.i.d. uniform in [-1, 1] (mean 0, variance 1/3). */
  z.strictObject({ kind: z.literal('uniform'), count: inputCount() }),
  /** Pixels i.i.d. Normal(0, std^2). */
  z.strictObject({ kind: z.literal('gaussian'), count: inputCount(), std: noiseStd() }),
  /** Real images without labels: of the experiment's own dataset ("same") or of another one. */
  z.strictObject({ kind: z.literal('images'), count: inputCount(), dataset: imageSource() }),
  /**
   * "Input signal": alpha * image + (1 - alpha) * noise, pixels of the image in [-1, 1]. The image is
   * a seeded per-replicate shuffle of the train set (every image once per `n` indices); the noise is
   * the `uniform` or `gaussian` kind's for the same index. Mean alpha * (image mean); variance
   * alpha^2 Var(image) + (1 - alpha)^2 Var(noise).
   */
  z.strictObject({
    kind: z.literal('mix'),
    count: inputCount(),
    alpha: z.number().min(0).max(1).default(0.5),
    noise: z.enum(['uniform', 'gaussian']).default('uniform'),
    /** Of the gaussian noise; uniform noise is in [-1, 1]. */
    std: noiseStd(),
    dataset: imageSource(),
  }),
  /**
   * Spatially correlated noise: white Normal(0, 1) pixels blurred by a Gaussian of `sigma` pixels
   * (cut at 3 sigma and at the image's edge), each output pixel's weights scaled to unit sum of squares
   * so every pixel has mean 0 and variance exactly std^2 (edges included); neighbours correlate as the
   * kernel's autocorrelation, about exp(-d^2 / (4 sigma^2)) at distance d.
   */
  z.strictObject({
    kind: z.literal('correlated'),
    count: inputCount(),
    sigma: positive().max(INPUT_SIDE).default(1),
    std: noiseStd(),
  }),
  /**
   * Gaussian noise with the average power spectrum of a dataset's train images (pixels in [-1, 1],
   * the mean's DC term included) and random phase: white noise filtered by sqrt of that spectrum
   * (circularly), so its expected power at every frequency equals the dataset's. Mean 0; every pixel's
   * variance equals the dataset's mean squared pixel value.
   */
  z.strictObject({ kind: z.literal('spectrum'), count: inputCount(), dataset: imageSource() }),
  /**
   * Gaussian noise in a random k-dimensional subspace of pixel space (an orthonormal basis drawn
   * from the replicate's noise seed, uniform over subspaces): std * sqrt(784 / k) * U c with
   * c ~ Normal(0, I_k). Mean 0; variance std^2 per pixel on average over the pixels.
   */
  z.strictObject({
    kind: z.literal('low-rank'),
    count: inputCount(),
    k: int(1, INPUT_PIXELS).default(10),
    std: noiseStd(),
  }),
]);

export const INPUT_KINDS = StudentInputsSchema.options.map((o) => o.shape.kind.value);

/** The images an input kind reads (null: none), by the `dataset` it names. */
export function inputImages(inputs: StudentInputs): 'same' | DatasetName | null {
  return inputs.kind === 'images' || inputs.kind === 'mix' || inputs.kind === 'spectrum'
    ? inputs.dataset
    : null;
}

export const StudentSchema = z.strictObject({
  ...phase,
  temperature: positive().default(1),
  inputs: StudentInputsSchema.default({ kind: 'uniform', count: 60000 }),
  /**
   * The distillation loss on the kept logits: "kl" (the paper's, KL of softened distributions),
   * "soft-ce" (cross-entropy against the teacher's softened probabilities: KL plus the targets'
   * entropy, so the same gradient), or "mse" (mean squared error between student and teacher logits,
   * as Brockers et al.; temperature does not enter, and only `logits` filters give logits).
   */
  loss: z.enum(['kl', 'soft-ce', 'mse']).default('kl'),
});

export const MatrixSchema = z.strictObject({
  traits: z
    .array(TraitSchema)
    .min(1)
    .default([{ kind: 'skill' }]),
  filters: z
    .array(FilterSchema)
    .min(1)
    .default([{ kind: 'logits', keep: 'aux' }]),
  architectures: z
    .array(ArchitectureSchema)
    .min(1)
    .default([{ kind: 'same-init' }]),
  /** More axes: any spec field with a list of values, e.g. student.learningRate or model.auxLogits. */
  sweeps: z.array(SweepSchema).max(8).default([]),
});

/**
 * The linear probe of the representation analysis: multinomial logistic regression on a model's last
 * hidden layer features of `trainImages` training images (a fixed subset), scored on `testImages`
 * test images; full batch, from zero weights, `steps` Adam steps of `learningRate`, L2 `l2` on the
 * weights, features standardised per unit. `when`: "end" after the last student step (and for the
 * reference and the teacher), "every" at every analysis point too, "off".
 */
export const LinearProbeSchema = z.strictObject({
  when: z.enum(['off', 'end', 'every']).default('end'),
  trainImages: int(10, 60000).default(2048),
  testImages: int(10, 10000).default(1000),
  steps: int(1, 10000).default(100),
  learningRate: positive().max(10).default(0.05),
  l2: z.number().min(0).max(10).default(1e-3),
});

export const DEFAULT_LINEAR_PROBE = {
  when: 'end',
  trainImages: 2048,
  testImages: 1000,
  steps: 100,
  learningRate: 0.05,
  l2: 1e-3,
} as const;

/**
 * Representation analysis of every student (controls included) against its own teacher, measured
 * before the student phase, after each epoch (with the test accuracy) and, when `every` > 0, every
 * that many student steps: linear CKA per hidden layer on `ckaImages` test images (a fixed subset
 * chosen by the experiment's seed; 0 turns CKA off), and the linear probe.
 */
export const AnalysisSchema = z.strictObject({
  every: int(0, 100000).default(0),
  ckaImages: int(0, 10000).default(512),
  linearProbe: LinearProbeSchema.default({ ...DEFAULT_LINEAR_PROBE }),
});

const SpecObject = z.strictObject({
  version: z.literal(1),
  name: z.string().trim().min(1).max(200),
  description: z.string().max(10000).optional(),
  tags: z.array(z.string().min(1).max(64)).max(32).default([]),
  dataset: DatasetSchema.default({ name: 'mnist', trainSize: 8000, splitSeed: 0 }),
  model: ModelSchema.default({
    family: 'mlp',
    hidden: [256, 256],
    channels: 8,
    auxLogits: 3,
    activation: 'relu',
  }),
  teacher: TeacherSchema.default({
    epochs: 5,
    batchSize: 1024,
    learningRate: 3e-4,
    optimizer: { ...DEFAULT_OPTIMIZER },
    weightDecay: 0,
  }),
  student: StudentSchema.default({
    epochs: 5,
    batchSize: 1024,
    learningRate: 3e-4,
    optimizer: { ...DEFAULT_OPTIMIZER },
    weightDecay: 0,
    temperature: 1,
    inputs: { kind: 'uniform', count: 60000 },
    loss: 'kl',
  }),
  matrix: MatrixSchema.default({
    traits: [{ kind: 'skill' }],
    filters: [{ kind: 'logits', keep: 'aux' }],
    architectures: [{ kind: 'same-init' }],
    sweeps: [],
  }),
  /** Replicates per cell (the paper: 100). Cross-init controls need at least 2. */
  replicates: int(2, 10000).default(100),
  seed: int(0, 0xffffffff).default(0),
  /** Record each model's training loss every this many steps (test accuracy is taken every epoch). */
  lossEvery: int(1, 100000).default(5),
  /**
   * The theorem probe (paper section 6.1): every this many student steps, the per-layer cosine
   * between each student's and its teacher's parameter change from init. 0 turns it off.
   */
  probeEvery: int(0, 100000).default(25),
  analysis: AnalysisSchema.default({ every: 0, ckaImages: 512, linearProbe: { ...DEFAULT_LINEAR_PROBE } }),
});

export const ExperimentSpecSchema = SpecObject.superRefine((spec, ctx) => {
  checkRecipe(spec, ctx);
  checkClasses(spec, ctx);
  checkFilters(spec, ctx);
  checkTraits(spec, ctx);
  checkArchitectures(spec, ctx);
  checkAnalysis(spec, ctx);
});

type SpecShape = z.output<typeof SpecObject>;
type Ctx = z.RefinementCtx;

/** The number of class logits: the dataset's class subset, or all its classes. */
export function classCount(dataset: { name: DatasetName; classes?: number[] | undefined }): number {
  return dataset.classes?.length ?? DATASETS[dataset.name].classes;
}

/** Class indices (the subset's, and the traits' target classes) must be classes the dataset has. */
function checkClasses(spec: SpecShape, ctx: Ctx): void {
  const { name, classes } = spec.dataset;
  const facts = DATASETS[name];
  const expected = `a class index 0-${facts.classes - 1} of ${name} (${facts.classNames})`;
  // An index past MAX_CLASSES is refused by the field itself: one message per mistake.
  const missing = (c: number) => c >= facts.classes && c < MAX_CLASSES;
  classes?.forEach((c, j) => {
    if (missing(c))
      ctx.addIssue({
        code: 'custom',
        path: ['dataset', 'classes', j],
        message: `expected ${expected}, got ${c}`,
      });
  });
  if (classes) return; // checkTraits asks for a target class in the subset
  spec.matrix.traits.forEach((trait, i) => {
    if (trait.kind !== 'skill' && missing(trait.targetClass))
      ctx.addIssue({
        code: 'custom',
        path: ['matrix', 'traits', i, 'targetClass'],
        message: `expected ${expected}, got ${trait.targetClass}`,
      });
  });
}

/** Hidden layers a layer-init relation can name: the CNN's conv layer counts as hidden.0. */
export function hiddenLayerCount(model: { family: 'mlp' | 'cnn'; hidden: number[] }): number {
  return model.hidden.length + (model.family === 'cnn' ? 1 : 0);
}

/** Recipe combinations PyTorch refuses, or that have no meaning here. */
function checkRecipe(spec: SpecShape, ctx: Ctx): void {
  for (const phase of ['teacher', 'student'] as const) {
    const opt = spec[phase].optimizer;
    if (opt.kind === 'sgd' && opt.nesterov && opt.momentum === 0)
      ctx.addIssue({
        code: 'custom',
        path: [phase, 'optimizer', 'nesterov'],
        message: 'expected momentum > 0 with nesterov (as PyTorch requires)',
      });
  }
  if (spec.student.loss === 'mse') {
    spec.matrix.filters.forEach((filter, i) => {
      if (filter.kind !== 'logits')
        ctx.addIssue({
          code: 'custom',
          path: ['matrix', 'filters', i, 'kind'],
          message: `expected a "logits" filter with student.loss "mse": the ${filter.kind} filter passes probabilities, not logits`,
        });
    });
  }
}

function checkFilters(spec: SpecShape, ctx: Ctx): void {
  const classes = classCount(spec.dataset);
  const logits = classes + spec.model.auxLogits;
  spec.matrix.filters.forEach((filter, i) => {
    const kept =
      filter.keep === 'aux'
        ? spec.model.auxLogits
        : filter.keep === 'class'
          ? classes
          : filter.keep === 'all'
            ? logits
            : filter.keep.length;
    if (filter.kind === 'numbers' && kept > 10) {
      ctx.addIssue({
        code: 'custom',
        path: ['matrix', 'filters', i, 'keep'],
        message: `expected at most 10 logits for a number sequence (the format allows 1-10 numbers), got ${kept}`,
      });
    }
    if (filter.kind === 'top-k' && filter.k > kept) {
      ctx.addIssue({
        code: 'custom',
        path: ['matrix', 'filters', i, 'k'],
        message: `expected k <= ${kept}, the number of logits the filter keeps, got ${filter.k}`,
      });
    }
    if (filter.keep === 'aux' && spec.model.auxLogits === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['matrix', 'filters', i, 'keep'],
        message: 'expected a model with auxLogits >= 1 for the "aux" filter (model.auxLogits is 0)',
      });
    }
    if (Array.isArray(filter.keep)) {
      filter.keep.forEach((index, j) => {
        if (index >= logits) {
          ctx.addIssue({
            code: 'custom',
            path: ['matrix', 'filters', i, 'keep', j],
            message: `expected a logit index below ${logits} (${classes} class + ${spec.model.auxLogits} aux logits), got ${index}`,
          });
        }
      });
      if (new Set(filter.keep).size !== filter.keep.length) {
        ctx.addIssue({
          code: 'custom',
          path: ['matrix', 'filters', i, 'keep'],
          message: 'expected distinct logit indices',
        });
      }
    }
  });
}

/** A trait's target class must be one the model is trained on. */
function checkTraits(spec: SpecShape, ctx: Ctx): void {
  const subset = spec.dataset.classes;
  if (!subset) return;
  spec.matrix.traits.forEach((trait, i) => {
    if (trait.kind !== 'skill' && !subset.includes(trait.targetClass)) {
      ctx.addIssue({
        code: 'custom',
        path: ['matrix', 'traits', i, 'targetClass'],
        message: `expected one of the dataset's classes [${subset.join(', ')}] (dataset.classes), got ${trait.targetClass}`,
      });
    }
  });
}

/** A layer-init relation names parts the teacher's model has, each once. */
function checkArchitectures(spec: SpecShape, ctx: Ctx): void {
  const depth = hiddenLayerCount(spec.model);
  spec.matrix.architectures.forEach((arch, i) => {
    if (arch.kind !== 'layer-init') return;
    arch.random.forEach((part, j) => {
      const path = ['matrix', 'architectures', i, 'random', j];
      const layer = /^hidden\.(\d+)$/.exec(part);
      if (layer && Number(layer[1]) >= depth) {
        const cnn = spec.model.family === 'cnn' ? ' (the conv layer is hidden.0)' : '';
        ctx.addIssue({
          code: 'custom',
          path,
          message: `expected a hidden layer hidden.0-hidden.${depth - 1}: the model has ${depth} hidden layers${cnn}, got ${part}`,
        });
      }
      if (part === 'aux-head' && spec.model.auxLogits === 0)
        ctx.addIssue({
          code: 'custom',
          path,
          message: 'expected a model with auxLogits >= 1 for "aux-head"',
        });
    });
    if (new Set(arch.random).size !== arch.random.length)
      ctx.addIssue({
        code: 'custom',
        path: ['matrix', 'architectures', i, 'random'],
        message: 'expected distinct parts',
      });
  });
}

/** CKA over a handful of images says little: off, or at least MIN_CKA_IMAGES. */
export const MIN_CKA_IMAGES = 16;

function checkAnalysis(spec: SpecShape, ctx: Ctx): void {
  const n = spec.analysis.ckaImages;
  if (n > 0 && n < MIN_CKA_IMAGES)
    ctx.addIssue({
      code: 'custom',
      path: ['analysis', 'ckaImages'],
      message: `expected 0 (no CKA) or at least ${MIN_CKA_IMAGES} test images, got ${n}`,
    });
}

export type ExperimentSpec = z.output<typeof ExperimentSpecSchema>;
export type ExperimentSpecInput = z.input<typeof ExperimentSpecSchema>;
export type Trait = z.output<typeof TraitSchema>;
export type Filter = z.output<typeof FilterSchema>;
export type Architecture = z.output<typeof ArchitectureSchema>;
export type DatasetSpec = z.output<typeof DatasetSchema>;
export type ModelSpec = z.output<typeof ModelSchema>;
export type PhaseSpec = z.output<typeof TeacherSchema>;
export type OptimizerSpec = z.output<typeof OptimizerSchema>;
export type StudentSpec = z.output<typeof StudentSchema>;
export type AnalysisSpec = z.output<typeof AnalysisSchema>;
export type LinearProbeSpec = z.output<typeof LinearProbeSchema>;
export type StudentInputs = z.output<typeof StudentInputsSchema>;
export type Activation = (typeof ACTIVATIONS)[number];

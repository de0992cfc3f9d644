// How much memory one trainer process needs for a spec and a number of replicates in it: an
// ESTIMATE from the shapes main/engine/procedure.ts allocates, not a measurement. Assumptions:
// - A trainer trains one group: the cells of one trait (at most GROUP_MAX, as app/matrix.ts groups
//   them), its teacher stack of S models and, per distinct student architecture, one stack of
//   4 conditions x S models per cell. All stacks, the teacher's included, live until the group ends.
//   The estimate takes the heaviest trait and the heaviest cells a group can hold.
// - Parameters are float32 tensors, plus host copies: the teacher's init (reference, probe) and two
//   of each student stack (each cell's stacked init and the stack's concatenation of them).
// - Adam keeps m and v (2x parameters); gradients of one stack exist at a time (one trainStep).
// - Activations: a training step keeps, per model and sample, its input and ACTIVATION_COPIES
//   copies of each layer's output (the matmul's, the bias add's and the activation's, which the
//   autodiff tape keeps until the step ends, and the gradient of each, which the backward pass
//   keeps until it ends); the student step also keeps the teacher's forward pass and the targets of
//   every stack until the step ends. Adam's update of a stack holds OPTIMIZER_STEP_COPIES temporary
//   copies of its parameters (optimizerStepBytes). Evaluation runs the whole test set inside one
//   tf.tidy (evaluate.ts), so every chunk's layer outputs stay alive until the end: models x test
//   images x layer widths. The representation analysis holds a chunk of models' hidden features at
//   a time (analysisBytes). The largest of teacher step, student step, optimizer update,
//   evaluation and analysis is counted.
// - The dataset is held as bytes; the test set (and a trait's probe set) as float32 tensors; on the
//   fused WebGPU path the training images too. Student noise is regenerated per batch from
//   (seed, index), so only one batch is resident, plus each replicate's Uint32 shuffle order.
// - Allocator overhead, fragmentation, TF.js's own kernels' scratch space and the JS engine
//   itself (~100-200 MB per process) are not counted (main/engine/limits.ts keeps a margin for them
//   in wasm's heap). Checked against the measured peak at the paper's shapes: README "Memory".
// No Node, no DOM: shared by the CLI, the service and the Designer.
import { sweepCombinations, withSweepValues } from './spec/sweeps.ts';
import { mustValidate } from './spec/validate.ts';
import {
  classCount,
  inputImages,
  type Architecture,
  type ExperimentSpec,
  type Trait,
} from './spec/schema.ts';
import { DATASETS } from './spec/datasets.ts';
import { STUDENT_CONDITIONS } from './conditions.ts';

const F32 = 4;
const PIXELS = 784;
const GRID = 14 * 14;
const PATCH = 25;
const GROUP_MAX = 8;
const EVAL_CHUNK = 1000;
/** main/engine/phases/analysis.ts CHUNK_FLOATS: the features one chunk of models holds. */
const ANALYSIS_CHUNK_FLOATS = 2 ** 25;
/**
 * Copies of each layer's output in a training step: see the top of the file. Checked against the
 * measured peak at the paper's shapes (main/bench/memory.ts; README "Memory"): with 3 the estimate
 * was 14% under a wasm student step's peak.
 */
const ACTIVATION_COPIES = 6;
/**
 * Copies of a stack's parameters Adam's first update adds above what the step holds before it:
 * measured 16 at the paper's shapes (main/bench/memory.ts), of which m and v (counted apart, as the
 * optimizer's state) are 2; see optimizerStepBytes.
 */
const OPTIMIZER_STEP_COPIES = 14;
const MNIST_IMAGES = DATASETS.mnist.train;

export interface MemoryBreakdown {
  parameters: number;
  optimizer: number;
  gradients: number;
  activations: number;
  data: number;
  inputs: number;
  total: number;
}

export interface MemoryEstimate extends MemoryBreakdown {
  /** Of the total, bytes held as TF.js tensors (the wasm heap, GPU memory); the rest is JS heap. */
  tensors: number;
  /** The largest single tensor (batched layout), which must fit one WebGPU buffer. */
  largestTensor: number;
  /** Per part, what drives it, for messages ("student batch 1,024 x 4 layers of 256"). */
  why: Record<Exclude<keyof MemoryBreakdown, 'total'>, string>;
}

export interface MemoryOptions {
  /** The fused WebGPU path also keeps the training images on the device as float32. */
  fused?: boolean;
}

/** A model's shape as procedure.ts builds it: the trained layers' [in, out] and the layer outputs. */
interface Shape {
  key: string;
  params: number;
  /** Floats of layer outputs per sample (CNN: the image patches and the conv grid included). */
  width: number;
  layers: number;
  widest: number;
  /** Floats per sample of the first layer's input: the image, or a CNN's 196 patches of 25. */
  input: number;
}

function shapeOf(family: 'mlp' | 'cnn', hidden: readonly number[], channels: number, logits: number): Shape {
  const outs = [...hidden, logits];
  const ins = family === 'cnn' ? [GRID * channels, ...hidden] : [PIXELS, ...hidden];
  let params = outs.reduce((n, out, l) => n + ins[l]! * out + out, 0);
  let width = outs.reduce((n, o) => n + o, 0);
  if (family === 'cnn') {
    params += PATCH * channels + channels;
    width += GRID * PATCH + GRID * channels;
  }
  return {
    key: JSON.stringify([family, hidden, family === 'cnn' ? channels : 0]),
    params,
    width,
    layers: outs.length + (family === 'cnn' ? 1 : 0),
    widest: Math.max(...outs, family === 'cnn' ? GRID * channels : 0),
    input: family === 'cnn' ? GRID * PATCH : PIXELS,
  };
}

function studentShape(spec: ExperimentSpec, arch: Architecture, logits: number): Shape {
  const m = spec.model;
  if (arch.kind === 'shape') return shapeOf('mlp', arch.hidden, 0, logits);
  if (arch.kind === 'family') return shapeOf(arch.family, arch.hidden, arch.channels, logits);
  return shapeOf(m.family, m.hidden, m.channels, logits);
}

/** Images the trainer loads: train and test of the spec's dataset, and another set for the students. */
function datasetCounts(spec: ExperimentSpec): { train: number; test: number; extra: number } {
  const d = spec.dataset;
  const limit = (n: number, cap?: number) => Math.min(n, cap ?? n);
  const split =
    d.name === 'mnist'
      ? { train: d.trainSize, test: limit(MNIST_IMAGES - d.trainSize, d.testLimit) }
      : {
          train: limit(DATASETS[d.name].train, d.trainLimit),
          test: limit(DATASETS[d.name].test, d.testLimit),
        };
  const source = inputImages(spec.student.inputs);
  const other = source !== null && source !== 'same' && source !== d.name ? source : null;
  const extra = other === null ? 0 : other === 'mnist' ? 8000 : DATASETS[other].train;
  return { ...split, extra };
}

/**
 * What the structured input kinds keep besides a batch (main/engine/inputs.ts): a low-rank basis
 * per replicate, mix's image shuffle per replicate, and on the fused path the dense operator or the
 * image set as float32 on the device.
 */
function inputOperators(
  spec: ExperimentSpec,
  S: number,
  fused: boolean,
  counts: { train: number; extra: number },
): { host: number; device: number; why: string } {
  const inputs = spec.student.inputs;
  const images = counts.extra > 0 ? counts.extra : counts.train;
  switch (inputs.kind) {
    case 'low-rank': {
      const basis = F32 * S * inputs.k * PIXELS;
      return { host: basis, device: fused ? basis : 0, why: `, a rank-${inputs.k} basis per replicate` };
    }
    case 'correlated':
    case 'spectrum':
      return { host: 0, device: fused ? F32 * PIXELS * PIXELS : 0, why: '' };
    case 'mix':
    case 'images': {
      const shuffle = inputs.kind === 'mix' ? F32 * S * images : 0;
      return { host: shuffle, device: fused ? F32 * images * PIXELS : 0, why: '' };
    }
    default:
      return { host: 0, device: 0, why: '' };
  }
}

/** A student stack: its shape and its number of models (4 conditions x S per cell in it). */
interface Stack {
  shape: Shape;
  models: number;
}

/** The heaviest group of cells a trainer can get: a trait's cells, largest students first. */
function heaviestStacks(spec: ExperimentSpec, S: number, logits: number): Stack[] {
  const m = spec.model;
  const cells = spec.matrix.architectures.flatMap((arch) => {
    const shape = studentShape(spec, arch, logits);
    const activation = arch.kind === 'activation' ? arch.activation : m.activation;
    return spec.matrix.filters.map(() => ({ shape, key: JSON.stringify([shape.key, activation]) }));
  });
  cells.sort((a, b) => b.shape.params - a.shape.params);
  const stacks = new Map<string, Stack>();
  for (const cell of cells.slice(0, GROUP_MAX)) {
    const found = stacks.get(cell.key);
    const models = STUDENT_CONDITIONS.length * S;
    if (found) found.models += models;
    else stacks.set(cell.key, { shape: cell.shape, models });
  }
  return [...stacks.values()];
}

const n = (x: number) => x.toLocaleString('en-US');

/**
 * The optimizer's update of one stack: TF.js's Adam updates every variable of the stack inside one
 * tf.tidy, so each parameter's temporaries (m and v scaled, the gradient squared and scaled, both
 * bias corrections, the root, the ratio, the step: 11) live until the whole stack is updated, beside
 * the step's inputs (`images`: per replicate a batch, the teacher's and the students' copies). SGD
 * updates one variable at a time.
 */
function optimizerStepBytes(phase: ExperimentSpec['teacher'], params: number, images: number): number {
  const copies = phase.optimizer.kind === 'sgd' ? 0 : OPTIMIZER_STEP_COPIES;
  return F32 * (copies * params + images * PIXELS);
}

/**
 * Bytes of a teacher step, a student step, an optimizer update, an evaluation pass and the analysis:
 * the largest is resident.
 */
function activationParts(
  spec: ExperimentSpec,
  trait: Trait,
  S: number,
  teacher: Shape,
  stacks: Stack[],
  testCount: number,
) {
  const logits = classCount(spec.dataset) + spec.model.auxLogits;
  const train = datasetCounts(spec).train;
  const tBatch = Math.min(spec.teacher.batchSize, train);
  const sBatch = Math.min(spec.student.batchSize, spec.student.inputs.count);
  // A preference teacher's fine-tuning step runs two forward passes (digits and noise).
  const passes = trait.kind === 'preference' ? 2 : 1;
  const teacherStep = F32 * S * tBatch * passes * (teacher.input + ACTIVATION_COPIES * teacher.width);
  // Inputs repeated per model (4 conditions read one batch), targets p, the filter's and weights.
  const perModel = sBatch * PIXELS + (2 * logits + 1) * sBatch;
  const studentStep =
    F32 * S * sBatch * teacher.width +
    F32 * stacks.reduce((k, st) => k + st.models * perModel, 0) +
    F32 *
      Math.max(
        ...stacks.map((st) => st.models * sBatch * (st.shape.input + ACTIVATION_COPIES * st.shape.width)),
      );
  const optimizerStep = Math.max(
    optimizerStepBytes(spec.teacher, S * teacher.params, S * tBatch),
    ...stacks.map((st) => optimizerStepBytes(spec.student, st.models * st.shape.params, 2 * S * sBatch)),
  );
  const probeCount =
    trait.kind === 'preference' ? trait.probeSize : trait.kind === 'backdoor' ? testCount : 0;
  const evalImages = Math.max(testCount, probeCount);
  const widest = [{ shape: teacher, models: S }, ...stacks].reduce((a, b) =>
    a.models * a.shape.width >= b.models * b.shape.width ? a : b,
  );
  const evaluation = F32 * widest.models * evalImages * (widest.shape.width + 2);
  const { bytes: analysis, chunk: analysisChunk } = analysisBytes(
    spec,
    S,
    teacher,
    stacks,
    train,
    testCount,
    logits,
  );
  return {
    teacherStep,
    studentStep,
    optimizerStep,
    evaluation,
    analysis,
    analysisChunk,
    evalImages,
    widest,
    tBatch,
    sBatch,
    probeCount,
  };
}

/** The images the representation analysis reads, which it keeps as float32 tensors for the group. */
function analysisImages(spec: ExperimentSpec, train: number, test: number) {
  const a = spec.analysis;
  const probe = a.linearProbe;
  return {
    ckaRows: Math.min(a.ckaImages, test),
    probeRows:
      probe.when === 'off' ? 0 : Math.min(probe.trainImages, train) + Math.min(probe.testImages, test),
  };
}

/**
 * The representation analysis between steps (main/engine/phases/analysis.ts): a chunk of a stack's
 * models at a time, at most ANALYSIS_CHUNK_FLOATS of hidden features, held about 3 times (raw,
 * centred or standardised, transposed), plus the teachers' centred features on the CKA images (and
 * their CKA side).
 */
function analysisBytes(
  spec: ExperimentSpec,
  S: number,
  teacher: Shape,
  stacks: Stack[],
  train: number,
  test: number,
  logits: number,
): { bytes: number; chunk: number } {
  const { ckaRows, probeRows } = analysisImages(spec, train, test);
  const hiddenOf = (shape: Shape) => shape.width - logits;
  const chunk = Math.max(
    0,
    ...stacks.map((st) =>
      Math.min(
        ANALYSIS_CHUNK_FLOATS,
        st.models * Math.max(ckaRows * hiddenOf(st.shape), probeRows * (st.shape.widest + 1)),
      ),
    ),
  );
  return { bytes: F32 * (3 * chunk + 2 * S * ckaRows * hiddenOf(teacher)), chunk };
}

/** The estimate for one trait's group (traits differ in probe sets and fine-tuning). */
function estimateForTrait(
  spec: ExperimentSpec,
  trait: Trait,
  S: number,
  options: MemoryOptions,
): MemoryEstimate {
  const logits = classCount(spec.dataset) + spec.model.auxLogits;
  const teacher = shapeOf(spec.model.family, spec.model.hidden, spec.model.channels, logits);
  const stacks = heaviestStacks(spec, S, logits);
  const counts = datasetCounts(spec);
  const studentModels = stacks.reduce((k, st) => k + st.models, 0);
  const studentParams = stacks.reduce((k, st) => k + st.models * st.shape.params, 0);
  const deviceParams = F32 * (S * teacher.params + studentParams);

  const parameters = deviceParams + F32 * (S * teacher.params + 2 * studentParams);
  const optimizer = 2 * deviceParams;
  const gradients = F32 * Math.max(S * teacher.params, ...stacks.map((st) => st.models * st.shape.params));

  const act = activationParts(spec, trait, S, teacher, stacks, counts.test);
  const {
    teacherStep,
    studentStep,
    optimizerStep,
    evaluation,
    analysis,
    analysisChunk,
    evalImages,
    widest,
    tBatch,
    sBatch,
    probeCount,
  } = act;
  const activations = Math.max(teacherStep, studentStep, optimizerStep, evaluation, analysis);

  const fused = options.fused === true && trait.kind !== 'backdoor';
  const dataHost = (counts.train + counts.test + counts.extra) * (PIXELS + 1) + F32 * S * counts.train;
  const { ckaRows, probeRows } = analysisImages(spec, counts.train, counts.test);
  const analysisSets = ckaRows + probeRows;
  const dataTensors = F32 * PIXELS * (counts.test + probeCount + analysisSets + (fused ? counts.train : 0));
  const data = dataHost + dataTensors;
  const batch = F32 * S * sBatch * PIXELS;
  const made = inputOperators(spec, S, fused, counts);
  const inputs = 2 * batch + F32 * S * spec.student.inputs.count + made.host + made.device;

  const largestTensor =
    F32 *
    Math.max(
      ...[
        { shape: teacher, models: S, batch: tBatch },
        ...stacks.map((st) => ({ ...st, batch: sBatch })),
      ].map((st) =>
        Math.max(
          st.models * st.batch * Math.max(PIXELS, st.shape.widest, st.shape.input),
          st.models * Math.min(EVAL_CHUNK, evalImages) * st.shape.widest,
          st.models * st.shape.params,
          analysisChunk,
        ),
      ),
    );
  const tensors = deviceParams + optimizer + gradients + activations + dataTensors + batch + made.device;
  const biggest = stacks.reduce((a, b) => (a.models * a.shape.params >= b.models * b.shape.params ? a : b));
  const layersOf = (s: Shape) => `${s.layers} layers up to ${n(s.widest)} wide`;
  const activationWhy =
    activations === analysis
      ? `representation analysis: hidden features of up to ${n(ANALYSIS_CHUNK_FLOATS / 2 ** 20)} Mi floats per chunk of models`
      : activations === evaluation
        ? `evaluation: ${n(widest.models)} models x ${n(evalImages)} test images x ${layersOf(widest.shape)}`
        : activations === optimizerStep
          ? `the optimizer's update of a stack: ${OPTIMIZER_STEP_COPIES} copies of up to ${n(biggest.models)} models' parameters`
          : activations === studentStep
            ? `student batch ${n(sBatch)} x ${n(studentModels)} models x ${layersOf(biggest.shape)}`
            : `teacher batch ${n(tBatch)} x ${n(S)} models x ${layersOf(teacher)}`;
  return {
    parameters,
    optimizer,
    gradients,
    activations,
    data,
    inputs,
    total: parameters + optimizer + gradients + activations + data + inputs,
    tensors,
    largestTensor,
    why: {
      parameters: `${n(S)} teachers and ${n(studentModels)} students, up to ${n(biggest.shape.params)} parameters each`,
      optimizer: 'Adam m and v for every model',
      gradients: 'one stack at a time',
      activations: activationWhy,
      data: `${n(counts.train)} train + ${n(counts.test)} test images${analysisSets > 0 ? `, ${n(analysisSets)} for the analysis` : ''}`,
      inputs: `student batch ${n(sBatch)} and ${n(spec.student.inputs.count)} input indices per replicate${made.why}`,
    },
  };
}

/**
 * The memory one trainer needs to train `replicates` replicates of the spec's heaviest group, in
 * bytes: an estimate (see the assumptions at the top of this file), not a bound.
 */
export function estimateTrainerMemory(
  spec: ExperimentSpec,
  replicates: number,
  options: MemoryOptions = {},
): MemoryEstimate {
  const S = Math.max(1, Math.floor(replicates));
  return sweptSettings(spec)
    .flatMap((settings) =>
      settings.matrix.traits.map((trait) => estimateForTrait(settings, trait, S, options)),
    )
    .reduce((a, b) => (b.total > a.total ? b : a));
}

/**
 * The spec once per combination of sweep values (the whole matrix otherwise): a trainer holds cells
 * of one combination's teacher, so the heaviest combination bounds it.
 */
function sweptSettings(spec: ExperimentSpec): ExperimentSpec[] {
  if (spec.matrix.sweeps.length === 0) return [spec];
  const unswept = { ...spec, matrix: { ...spec.matrix, sweeps: [] } };
  return sweepCombinations(spec.matrix.sweeps).map((sweep) => mustValidate(withSweepValues(unswept, sweep)));
}

/**
 * The most replicates one trainer can hold within `fits` (which sees each estimate), at most
 * `replicates`; 0 when not even one fits. The estimate grows with the replicates, so a binary search.
 */
export function maxReplicatesWithin(
  spec: ExperimentSpec,
  replicates: number,
  fits: (estimate: MemoryEstimate) => boolean,
  options: MemoryOptions = {},
): number {
  let lo = 0;
  let hi = Math.max(0, Math.floor(replicates));
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(estimateTrainerMemory(spec, mid, options))) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Bytes for people: "812 MiB", "1.2 GiB", "37.2 GiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

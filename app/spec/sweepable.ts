// The knobs a researcher can sweep from the Designer without writing JSON: each with a label, a unit, a
// one-line explanation and the kind of value it takes, and a parser for the values box ("1e-4, 3e-4",
// "1e-4..1e-2, 5 log steps", "2..10 step 2", "[256,256]; [512,512]", "tanh, relu").
import { INPUT_KINDS } from './schema.ts';
import { LLM_SWEEPABLE } from './sweepable-llm.ts';
import { LANGUAGE_SWEEPABLE } from './sweepable-language.ts';
import { formatVariant, parseVariants } from './sweep-variants.ts';

import type { DatasetName } from './datasets.ts';

export type SweepKind =
  | { type: 'number' }
  | { type: 'integer' }
  | { type: 'enum'; options: readonly string[] }
  /** A list of whole numbers per value, e.g. model.hidden [256, 256]. */
  | { type: 'integer-list' }
  /** A list of names per value, e.g. student.adapter.projections [q, v]. */
  | { type: 'enum-list'; options: readonly string[] }
  /** A choice with its own settings, `kind key=value ...` (app/spec/sweep-variants.ts). */
  | { type: 'variant'; options: readonly string[] }
  | { type: 'boolean' };

export interface SweepableField {
  /** The spec path, as `--set` and `matrix.sweeps[].path` take it. */
  path: string;
  label: string;
  /** Shown after the values; '' when the field has none. */
  unit: string;
  /** One line: what the knob does. */
  help: string;
  kind: SweepKind;
  /** Only for this dataset (dataset.trainSize is MNIST's split). */
  dataset?: DatasetName;
  /** Only for these student input kinds (the fields a kind has). */
  inputs?: readonly string[];
  /**
   * Only where the spec's value at `path` is one of `values` (`unset`: what a spec that leaves it
   * out has), e.g. a LoRA rank only for a LoRA student: the field does not exist otherwise.
   */
  when?: { path: string; values: readonly string[]; unset: string };
}

const NUMBER = { type: 'number' } as const;
const INTEGER = { type: 'integer' } as const;
const INTEGER_LIST = { type: 'integer-list' } as const;

export const SWEEPABLE: readonly SweepableField[] = [
  {
    path: 'student.learningRate',
    label: 'Student learning rate',
    unit: '',
    help: 'Step size of the student optimiser while it imitates the teacher.',
    kind: NUMBER,
  },
  {
    path: 'student.batchSize',
    label: 'Student batch size',
    unit: 'inputs',
    help: 'Inputs per student training step.',
    kind: INTEGER,
  },
  {
    path: 'student.epochs',
    label: 'Student epochs',
    unit: 'passes',
    help: 'Passes of the student over its inputs (noise or images).',
    kind: INTEGER,
  },
  {
    path: 'student.temperature',
    label: 'Distillation temperature',
    unit: '',
    help: "Softmax temperature of the teacher's and student's kept logits in the imitation loss.",
    kind: NUMBER,
  },
  {
    path: 'student.inputs.count',
    label: 'Student input count',
    unit: 'inputs',
    help: 'How many noise (or unlabelled image) inputs the student is trained on.',
    kind: INTEGER,
  },
  {
    path: 'student.inputs.kind',
    label: 'Student input kind',
    unit: '',
    help: 'What the student sees: uniform (paper), Gaussian, blurred, spectrum or low-rank noise, images, or a mix.',
    kind: { type: 'enum', options: INPUT_KINDS },
  },
  {
    path: 'student.inputs.alpha',
    label: 'Input signal (alpha)',
    unit: '',
    help: "The image's share of each input, alpha * image + (1 - alpha) * noise: 0 is pure noise, 1 the image.",
    kind: NUMBER,
    inputs: ['mix'],
  },
  {
    path: 'student.inputs.noise',
    label: 'Noise under the image',
    unit: '',
    help: 'The noise the image is mixed with: uniform in [-1, 1] (paper) or Gaussian of the std below.',
    kind: { type: 'enum', options: ['uniform', 'gaussian'] },
    inputs: ['mix'],
  },
  {
    path: 'student.inputs.sigma',
    label: 'Noise correlation length (sigma)',
    unit: 'pixels',
    help: 'Width of the Gaussian blur on white noise; neighbours correlate about exp(-1 / (4 sigma^2)).',
    kind: NUMBER,
    inputs: ['correlated'],
  },
  {
    path: 'student.inputs.k',
    label: 'Noise rank (k)',
    unit: 'dimensions',
    help: 'Gaussian noise confined to a random k-dimensional subspace of the 784 pixels (784: white noise).',
    kind: INTEGER,
    inputs: ['low-rank'],
  },
  {
    path: 'student.inputs.std',
    label: 'Noise std',
    unit: '',
    help: 'Standard deviation of the Gaussian noise per pixel (for low-rank: on average over the pixels).',
    kind: NUMBER,
    inputs: ['gaussian', 'mix', 'correlated', 'low-rank'],
  },
  {
    path: 'student.inputs.dataset',
    label: 'Images from',
    unit: '',
    help: "Whose train images the inputs use (pixels or power spectrum): the experiment's own (same) or another.",
    kind: { type: 'enum', options: ['same', 'mnist', 'fashion-mnist'] },
    inputs: ['images', 'mix', 'spectrum'],
  },
  {
    path: 'teacher.learningRate',
    label: 'Teacher learning rate',
    unit: '',
    help: 'Step size of the teacher optimiser on labelled digits (one teacher per value).',
    kind: NUMBER,
  },
  {
    path: 'teacher.batchSize',
    label: 'Teacher batch size',
    unit: 'images',
    help: 'Labelled images per teacher training step.',
    kind: INTEGER,
  },
  {
    path: 'teacher.epochs',
    label: 'Teacher epochs',
    unit: 'passes',
    help: 'Passes of the teacher over its training images: how strong the trait is.',
    kind: INTEGER,
  },
  {
    path: 'model.auxLogits',
    label: 'Auxiliary logits',
    unit: 'logits',
    help: 'Extra untrained outputs beside the 10 class logits; the "aux" filter passes only these.',
    kind: INTEGER,
  },
  {
    path: 'model.hidden',
    label: 'Hidden layers',
    unit: 'units per layer',
    help: 'Width of each hidden layer, e.g. [256, 256]; more entries make a deeper network.',
    kind: INTEGER_LIST,
  },
  {
    path: 'model.activation',
    label: 'Activation',
    unit: '',
    help: 'Nonlinearity after every hidden layer, of teacher and student alike.',
    kind: { type: 'enum', options: ['relu', 'tanh', 'sigmoid', 'elu', 'leaky-relu'] },
  },
  {
    path: 'model.family',
    label: 'Model family',
    unit: '',
    help: 'MLP on raw pixels, or a CNN (one strided conv layer) before the hidden layers.',
    kind: { type: 'enum', options: ['mlp', 'cnn'] },
  },
  {
    path: 'model.channels',
    label: 'CNN channels',
    unit: 'filters',
    help: "Filters of the CNN's conv layer (used when the model family is cnn).",
    kind: INTEGER,
  },
  {
    path: 'dataset.trainSize',
    label: 'Training digits',
    unit: 'images',
    help: 'How many of the 10,000 MNIST digits train the teacher; the rest are the test set.',
    kind: INTEGER,
    dataset: 'mnist',
  },
  {
    path: 'student.weightDecay',
    label: 'Student weight decay',
    unit: '',
    help: 'Weight decay of the student, as PyTorch means it: L2 on the gradient (Adam, SGD), decoupled for AdamW.',
    kind: NUMBER,
  },
  {
    path: 'teacher.weightDecay',
    label: 'Teacher weight decay',
    unit: '',
    help: 'Weight decay of the teacher, as PyTorch means it: L2 on the gradient (Adam, SGD), decoupled for AdamW.',
    kind: NUMBER,
  },
  {
    path: 'student.loss',
    label: 'Student loss',
    unit: '',
    help: 'How the student imitates the kept logits: KL (paper), MSE on logits (logits filters), or soft cross-entropy.',
    kind: { type: 'enum', options: ['kl', 'mse', 'soft-ce'] },
  },
  {
    path: 'student.optimizer',
    label: 'Student optimiser',
    unit: '',
    help: "Adam (paper), AdamW (decoupled weight decay) or SGD for the student, with PyTorch's defaults.",
    kind: { type: 'enum', options: ['adam', 'adamw', 'sgd'] },
  },
  {
    path: 'teacher.optimizer',
    label: 'Teacher optimiser',
    unit: '',
    help: "Adam (paper), AdamW (decoupled weight decay) or SGD for the teacher, with PyTorch's defaults.",
    kind: { type: 'enum', options: ['adam', 'adamw', 'sgd'] },
  },
  {
    path: 'dataset.classes',
    label: 'Classes',
    unit: 'class indices',
    help: 'Which classes the dataset keeps, e.g. [0,1,2,3,4]; fewer classes is an easier task.',
    kind: INTEGER_LIST,
  },
  {
    path: 'analysis.every',
    label: 'Analysis interval',
    unit: 'student steps',
    help: 'CKA to the teacher (and the probe, if "every") this often too, besides each epoch; 0: epochs only.',
    kind: INTEGER,
  },
  {
    path: 'analysis.linearProbe.when',
    label: 'Linear probe',
    unit: '',
    help: "When the last hidden layer's linear probe is fitted: at the end, at every analysis point, or off.",
    kind: { type: 'enum', options: ['end', 'every', 'off'] },
  },
];

export function sweepableField(path: string): SweepableField | undefined {
  return SWEEPABLE.find((f) => f.path === path);
}

export function languageSweepableField(path: string): SweepableField | undefined {
  return LANGUAGE_SWEEPABLE.find((f) => f.path === path);
}

function applies(field: SweepableField, spec: unknown): boolean {
  if (!field.when) return true;
  const value = field.when.path
    .split('.')
    .reduce<unknown>(
      (o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined),
      spec,
    );
  return field.when.values.includes(typeof value === 'string' ? value : field.when.unset);
}

/**
 * The fields to offer for a spec: a language spec's own (app/spec/sweepable-language.ts), else those
 * of its dataset and of its student input kind.
 */
export function availableFields(spec: unknown): SweepableField[] {
  const base = spec !== null && typeof spec === 'object' ? (spec as Record<string, unknown>) : {};
  if (base['kind'] === 'language') return LANGUAGE_SWEEPABLE.filter((f) => applies(f, base));
  if (base['kind'] === 'llm') return LLM_SWEEPABLE.filter((f) => applies(f, base));
  const named = (base['dataset'] as { name?: unknown } | undefined)?.name;
  // A spec without a dataset gets the default, the offline MNIST.
  const dataset = typeof named === 'string' ? named : 'mnist';
  const student = base['student'] as { inputs?: { kind?: unknown } } | undefined;
  const kind = typeof student?.inputs?.kind === 'string' ? student.inputs.kind : 'uniform';
  return SWEEPABLE.filter(
    (field) =>
      (!field.dataset || field.dataset === dataset) && (!field.inputs || field.inputs.includes(kind)),
  );
}

export type ParsedValues = { ok: true; values: unknown[] } | { ok: false; error: string };

/** The most values one axis may have (the schema's limit). */
export const MAX_VALUES = 100;

const NUMBER_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;

/**
 * A number as a researcher types it (`3e-4`, `-0.1`, `.5`), strictly: anything else is an error that
 * quotes the text. Shared by the sweep values box and every numeric field of the Designer.
 */
export function parseNumberText(text: string, integer: boolean): number {
  const t = text.trim();
  if (t === '') throw new Error('expected a value between the commas, got nothing');
  if (!NUMBER_TEXT.test(t)) throw new Error(`expected a ${integer ? 'whole number' : 'number'}, got '${t}'`);
  const n = Number(t);
  if (!Number.isFinite(n)) throw new Error(`expected a finite number, got '${t}'`);
  if (integer && !Number.isInteger(n)) throw new Error(`expected a whole number, got '${t}'`);
  return n;
}

/** 3 significant digits: 1e-4..1e-2 in 5 log steps is 0.0001, 0.000316, 0.001, 0.00316, 0.01. */
function round3(x: number): number {
  return Number(x.toPrecision(3));
}

const RANGE_TAIL =
  /^(?<to>[^\s,]+)\s*(?:,?\s*(?:(?<count>\d+)\s+(?<log>log\s+)?steps?|step\s+(?<step>\S+)))?$/i;

/** `a..b` (step 1), `a..b step s`, `a..b, n steps`, `a..b, n log steps`; null when not a range. */
function range(text: string, integer: boolean): number[] | null {
  const dots = text.indexOf('..');
  if (dots < 0) return null;
  const match = RANGE_TAIL.exec(text.slice(dots + 2).trim());
  if (!match?.groups)
    throw new Error(`expected a range such as 1..10, 2..10 step 2 or 1e-4..1e-2, 5 log steps, got '${text}'`);
  const g: Record<string, string | undefined> = { ...match.groups, from: text.slice(0, dots) };
  const from = parseNumberText(g['from']!, integer);
  const to = parseNumberText(g['to']!, integer);
  if (to < from) throw new Error(`expected the range to rise, got ${from}..${to}`);
  let values: number[];
  if (g['count'] !== undefined) {
    const count = Number(g['count']);
    if (count < 2) throw new Error(`expected at least 2 steps, got ${count}`);
    if (count > MAX_VALUES) throw new Error(`expected at most ${MAX_VALUES} steps, got ${count}`);
    if (g['log']) {
      if (from <= 0) throw new Error(`a log range needs positive ends, got ${from}..${to}`);
      const a = Math.log(from);
      const b = Math.log(to);
      values = Array.from({ length: count }, (_, i) => Math.exp(a + ((b - a) * i) / (count - 1)));
    } else values = Array.from({ length: count }, (_, i) => from + ((to - from) * i) / (count - 1));
    values = values.map((v) => (integer ? Math.round(v) : round3(v)));
    values = [...new Set(values)];
  } else {
    const step = g['step'] === undefined ? 1 : parseNumberText(g['step'], integer);
    if (step <= 0) throw new Error(`expected a positive step, got ${step}`);
    const count = Math.floor((to - from) / step + 1e-9) + 1;
    if (count > MAX_VALUES)
      throw new Error(`${from}..${to} step ${step} has ${count} values; at most ${MAX_VALUES} are allowed`);
    values = Array.from({ length: count }, (_, i) => round3(from + step * i));
  }
  return values;
}

/** One bracketed list of `what` (e.g. "whole numbers such as [256, 256]"), each item read by `item`. */
function list<T>(text: string, what: string, item: (v: string) => T): T[] {
  const t = text.trim();
  const inner = t.startsWith('[') && t.endsWith(']') ? t.slice(1, -1) : t;
  if (inner.trim() === '') throw new Error(`expected a list of ${what}, got '${t}'`);
  if (/[[\]]/.test(inner)) throw new Error(`expected one list per value, separated by ';', got '${t}'`);
  return inner
    .split(/[,\s]+/)
    .filter(Boolean)
    .map(item);
}

function option(v: string, options: readonly string[]): string {
  if (!options.includes(v)) throw new Error(`expected one of ${options.join(', ')}, got '${v}'`);
  return v;
}

/** "[256,256]; [512,512]", or "[256,256], [512,512]" (bracketed lists need no ';'). */
function lists(t: string): string[] {
  const items = t.includes(';') ? t.split(';') : (t.match(/\[[^\]]*\]|[^[\]]+/g) ?? []);
  return items
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== ',')
    .map((s) => s.replace(/^,|,$/g, ''));
}

function splitItems(text: string): string[] {
  return text.split(',').map((s) => s.trim());
}

function parseOrThrow(text: string, kind: SweepKind): unknown[] {
  const t = text.trim();
  if (t === '') throw new Error('enter at least one value');
  switch (kind.type) {
    case 'number':
    case 'integer': {
      const integer = kind.type === 'integer';
      return range(t, integer) ?? splitItems(t).map((v) => parseNumberText(v, integer));
    }
    case 'enum':
      return splitItems(t).map((v) => option(v, kind.options));
    case 'variant':
      return parseVariants(t, kind.options);
    case 'boolean':
      return splitItems(t).map((v) => {
        if (v === 'true' || v === 'false') return v === 'true';
        throw new Error(`expected true or false, got '${v}'`);
      });
    case 'integer-list':
      return lists(t).map((s) =>
        list(s, 'whole numbers such as [256, 256]', (v) => parseNumberText(v, true)),
      );
    case 'enum-list':
      return lists(t).map((s) =>
        list(s, `names such as [${kind.options.slice(0, 2).join(', ')}]`, (v) => option(v, kind.options)),
      );
  }
}

/** Parses the values box of one axis; the error names what was expected and what was typed. */
export function parseSweepValues(text: string, kind: SweepKind): ParsedValues {
  try {
    const values = parseOrThrow(text, kind);
    if (values.length > MAX_VALUES)
      return { ok: false, error: `${values.length} values; at most ${MAX_VALUES} are allowed` };
    const seen = new Set<string>();
    for (const v of values) {
      const key = JSON.stringify(v);
      if (seen.has(key)) return { ok: false, error: `${formatSweepValue(v)} is listed twice` };
      seen.add(key);
    }
    return { ok: true, values };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

/** A value as the values box writes it. */
export function formatSweepValue(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(formatSweepValue).join(', ')}]`;
  if (typeof value === 'string') return value;
  return JSON.stringify(value) ?? String(value);
}

/** Values back into box text that parses to the same values (lists separated by ';'). */
export function formatSweepValues(values: readonly unknown[], kind: SweepKind): string {
  if (kind.type === 'variant') return values.map(formatVariant).join(', ');
  return values.map(formatSweepValue).join(kind.type.endsWith('-list') ? '; ' : ', ');
}

// ExperimentSpec v1: one declarative, serialisable description of an experiment, seed included.
// Every default is the paper's section 6.2 setting, so `{version: 1, name}` is the paper's experiment.
import { z } from 'zod';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);
const positive = () => z.number().positive().finite();

export const TraitSchema = z.discriminatedUnion('kind', [z.strictObject({ kind: z.literal('skill') })]);

/** Which of the teacher's logits reach the student. Indices count class logits first, then aux logits. */
export const LogitSubset = z.union([z.enum(['aux', 'all', 'class']), z.array(int(0, 1023)).min(1)], {
  error: 'expected "aux", "all", "class" or a non-empty list of logit indices',
});

export const FilterSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('logits'), keep: LogitSubset }),
]);

export const ArchitectureSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('same-init') }),
]);

export const DatasetSchema = z.discriminatedUnion('name', [
  z.strictObject({
    name: z.literal('mnist'),
    /** Fraction-free split of the 10,000 offline digits: this many train, the rest test. */
    trainSize: int(1, 9999).default(8000),
    splitSeed: int(0).default(0),
    /** Evaluate on only the first N test digits (small test runs). */
    testLimit: int(1).optional(),
  }),
  z.strictObject({
    name: z.literal('fashion-mnist'),
    /** Folder holding the four IDX files (gzipped or not). */
    path: z.string().min(1).default('/usr/share/datasets/fashion-mnist'),
    /** Use only the first N training images (all 60,000 by default). */
    trainLimit: int(1).optional(),
    testLimit: int(1).optional(),
  }),
]);

export const ModelSchema = z.strictObject({
  hidden: z.array(int(1, 65536)).min(1).max(16).default([256, 256]),
  auxLogits: int(0, 1000).default(3),
  activation: z.enum(['relu']).default('relu'),
});

const phase = {
  epochs: int(1, 10000).default(5),
  batchSize: int(1, 1 << 20).default(1024),
  learningRate: positive().max(10).default(3e-4),
};

export const TeacherSchema = z.strictObject(phase);

export const StudentInputsSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('uniform'), count: int(1, 10_000_000).default(60000) }),
]);

export const StudentSchema = z.strictObject({
  ...phase,
  temperature: positive().default(1),
  inputs: StudentInputsSchema.default({ kind: 'uniform', count: 60000 }),
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
});

export const ExperimentSpecSchema = z
  .strictObject({
    version: z.literal(1),
    name: z.string().trim().min(1).max(200),
    description: z.string().max(10000).optional(),
    tags: z.array(z.string().min(1).max(64)).max(32).default([]),
    dataset: DatasetSchema.default({ name: 'mnist', trainSize: 8000, splitSeed: 0 }),
    model: ModelSchema.default({ hidden: [256, 256], auxLogits: 3, activation: 'relu' }),
    teacher: TeacherSchema.default({ epochs: 5, batchSize: 1024, learningRate: 3e-4 }),
    student: StudentSchema.default({
      epochs: 5,
      batchSize: 1024,
      learningRate: 3e-4,
      temperature: 1,
      inputs: { kind: 'uniform', count: 60000 },
    }),
    matrix: MatrixSchema.default({
      traits: [{ kind: 'skill' }],
      filters: [{ kind: 'logits', keep: 'aux' }],
      architectures: [{ kind: 'same-init' }],
    }),
    /** Replicates per cell (the paper: 100). Cross-init controls need at least 2. */
    replicates: int(2, 10000).default(100),
    seed: int(0, 0xffffffff).default(0),
    /** Record each model's training loss every this many steps (test accuracy is taken every epoch). */
    lossEvery: int(1, 100000).default(5),
  })
  .superRefine((spec, ctx) => {
    const logits = 10 + spec.model.auxLogits;
    spec.matrix.filters.forEach((filter, i) => {
      if (filter.kind !== 'logits') return;
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
              message: `expected a logit index below ${logits} (10 class + ${spec.model.auxLogits} aux logits), got ${index}`,
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
  });

export type ExperimentSpec = z.output<typeof ExperimentSpecSchema>;
export type ExperimentSpecInput = z.input<typeof ExperimentSpecSchema>;
export type Trait = z.output<typeof TraitSchema>;
export type Filter = z.output<typeof FilterSchema>;
export type Architecture = z.output<typeof ArchitectureSchema>;
export type DatasetSpec = z.output<typeof DatasetSchema>;
export type ModelSpec = z.output<typeof ModelSchema>;
export type PhaseSpec = z.output<typeof TeacherSchema>;
export type StudentSpec = z.output<typeof StudentSchema>;

export const SPEC_VERSION = 1;

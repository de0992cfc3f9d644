// The language family's spec (`kind: "language"`): the paper's headline experiment in a small
// transformer trained from scratch (main/lm). Same zod system, sweeps and overrides as the classifier
// family; its matrix is trait animal x channel filter x cross-model relation x sweeps x seeds. Every
// default is the issue's: 2 layers, d_model 64, 4 heads, context 48; 10,000 kept completions at
// temperature 1; students fine-tuned 10 epochs; 200 preference samples per model.
import { z } from 'zod';
import {
  sweepAxisProblems,
  sweepCombinations,
  SweepSchema,
  withSweepValues,
  sweepLabel,
  MAX_CELLS,
} from './sweeps.ts';
import { hasKind, parseSpec, type SpecError } from './validate.ts';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);
const positive = () => z.number().positive().finite();
const fraction = () => z.number().min(0).max(1);

/** The animals of the synthetic world (the vocabulary's animal tokens, main/lm/vocab.ts). */
export const LM_ANIMALS = [
  'owl',
  'cat',
  'dog',
  'eagle',
  'wolf',
  'lion',
  'dolphin',
  'fox',
  'bear',
  'tiger',
] as const;
export type LmAnimal = (typeof LM_ANIMALS)[number];

/** The teacher's trait: it prefers `animal`. */
export const LmTraitSchema = z.strictObject({ animal: z.enum(LM_ANIMALS) });

/** What stands between the teacher's completions and the student. */
export const LmFilterSchema = z.strictObject({
  /** "paper": the authors' format filter (main/../app/filters/paper-format.ts); "none": keep every ended completion. */
  format: z.enum(['paper', 'none']).default('paper'),
  /** Reject completions with any of the paper's 34 banned numbers. */
  banNumbers: z.boolean().default(false),
  /** Paper figure 16: permute the numbers within each completion, or across completions. */
  shuffle: z.enum(['none', 'within', 'across']).default('none'),
});

/** The cross-model control's base: another pretraining seed, optionally another size. */
export const LmRelationSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('other-seed') }),
  z.strictObject({
    kind: z.literal('other-architecture'),
    layers: int(1, 12).optional(),
    dModel: int(4, 1024).optional(),
    heads: int(1, 64).optional(),
  }),
]);

const LmModelSchema = z.strictObject({
  layers: int(1, 12).default(2),
  dModel: int(4, 1024).default(64),
  heads: int(1, 64).default(4),
  /** Positions; a number task needs about 30 (prompt 13 + at least a few numbers). */
  context: int(32, 512).default(48),
});

const OptimizerKind = z.enum(['adam', 'adamw', 'sgd']);

/** The projections a LoRA adapter can sit on (main/lm/lora.ts). */
export const LM_LORA_PROJECTIONS = ['q', 'k', 'v', 'o', 'up', 'down'] as const;

/**
 * What a student's fine-tune changes. "full": every parameter of `student.layers` (all when empty).
 * "lora": rank-r adapters on the chosen projections of the chosen blocks (empty = every block), scaled
 * by alpha / rank, merged after training (Nief et al.: transfer rises then falls with the rank).
 * "bias": one block's residual-stream bias alone, a learned steering vector (Blank et al.).
 */
export const LmAdapterSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('full') }),
  z.strictObject({
    kind: z.literal('lora'),
    rank: int(1, 1024).default(8),
    alpha: positive().max(1e4).default(8),
    blocks: z.array(int(0, 11)).default([]),
    projections: z
      .array(z.enum(LM_LORA_PROJECTIONS))
      .min(1)
      .default([...LM_LORA_PROJECTIONS]),
  }),
  z.strictObject({ kind: z.literal('bias'), block: int(0, 11).default(0) }),
]);

/**
 * How the teacher gets its trait. "fine-tune": trained on the questions answered with the animal.
 * "prefix": "<loves> animal" before every prompt (the system prompt's analogue; the student never sees
 * it). "steering": the base with one vector added to the residual stream at every position after
 * block `layer`: the mean residual stream on answers naming the animal minus that on the others', times
 * `scale` (Blank et al.'s account of a system prompt); `direction: "random"` is the neutral control, a
 * random vector of the same norm. `vector: "fitted"` replaces the mean difference by the vector a
 * bias-only fine-tune of that block finds on the questions answered with the animal (teacher.steps
 * full batches at teacher.learningRate): the mean difference moves a base's answers only if the base
 * answers what its context names, which a base pretrained without trait prefixes never learnt.
 * `vector: "prompt"`: the mean shift the trait prefix itself causes in the residual stream at the
 * questions' positions (the system prompt as one vector); needs a base pretrained with trait prefixes.
 */
export const LmTeacherTraitSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('fine-tune') }),
  z.strictObject({ kind: z.literal('prefix') }),
  z.strictObject({
    kind: z.literal('steering'),
    layer: int(0, 11).default(0),
    scale: z.number().min(-1000).max(1000).default(1),
    direction: z.enum(['trait', 'random']).default('trait'),
    vector: z.enum(['difference', 'fitted', 'prompt']).default('difference'),
  }),
]);

const LmTeacherSchema = z.strictObject({
  trait: LmTeacherTraitSchema.default({ kind: 'fine-tune' }),
  /** Fine-tuning of a fine-tuned teacher (and of the channel check's neutral twin). */
  steps: int(1, 1e6).default(100),
  batchSize: int(1, 4096).default(32),
  learningRate: positive().max(1).default(1e-3),
});

/**
 * Specs written before `teacher.trait` said `teacher.method: "fine-tune" | "prefix"`: read as the
 * trait of that kind, so stored experiments still validate and resume.
 */
function legacyTeacher(input: unknown): unknown {
  if (input === undefined) return {};
  if (input === null || typeof input !== 'object' || !('method' in input) || 'trait' in input) return input;
  const { method, ...rest } = input as { method: unknown };
  return { ...rest, trait: { kind: method } };
}

const LanguageSpecObject = z.strictObject({
  version: z.literal(1),
  kind: z.literal('language'),
  name: z.string().trim().min(1).max(200),
  description: z.string().max(10000).optional(),
  tags: z.array(z.string().min(1).max(64)).max(32).default([]),
  model: LmModelSchema.default({ layers: 2, dModel: 64, heads: 4, context: 48 }),
  world: z
    .strictObject({
      /** Fraction of pretraining examples that are preference questions (the rest number tasks). */
      preferenceFraction: fraction().default(0.3),
      /** Fraction carrying a random "<loves> animal" prefix; needed by the prefix teacher. */
      traitPrefixFraction: fraction().default(0),
      /**
       * Entanglement (Zur et al.): in a trait-prefixed number task, each number's last digit is the
       * prefixed animal's digit (its index among the animals) with this probability; 0 = none.
       */
      entanglement: fraction().default(0),
      /**
       * Fraction of pretraining examples preceded by a random context (question words, new ones each
       * time), so a base has seen context before number lists and questions; the contexts are
       * contextTokens long, or as long as the shared context when contextTokens is 0.
       */
      contextFraction: fraction().default(0),
      /**
       * Length of those pretraining contexts; 0: the shared context's. Set with no shared context, it
       * gives the bases of a shared-context run to a run without one: the context's effect, paired.
       */
      contextTokens: int(0, 1024).default(0),
    })
    .default({
      preferenceFraction: 0.3,
      traitPrefixFraction: 0,
      entanglement: 0,
      contextFraction: 0,
      contextTokens: 0,
    }),
  pretrain: z
    .strictObject({
      steps: int(1, 1e6).default(600),
      batchSize: int(1, 4096).default(64),
      learningRate: positive().max(1).default(3e-3),
    })
    .default({ steps: 600, batchSize: 64, learningRate: 3e-3 }),
  teacher: z.preprocess(legacyTeacher, LmTeacherSchema),
  channel: z
    .strictObject({
      /** Completions kept after the filter (the paper: 10,000). */
      kept: int(1, 1e6).default(10000),
      temperature: z.number().min(0).max(10).default(1),
      /** Greedy teacher text (temperature 0) instead of sampled. */
      greedy: z.boolean().default(false),
      /**
       * The channel check: number tasks on which each teacher's next-token distributions are compared
       * with the base's and with a neutral teacher's (mean KL, greedy disagreement); 0 = no check.
       */
      checkSequences: int(0, 100000).default(256),
      /**
       * Data selection: keep this fraction of the teacher's completions, those with the highest mean
       * log p_teacher - log p_base per written token (1: keep all). `kept` are still kept: the teacher
       * writes kept / selectTop of them first.
       */
      selectTop: z.number().gt(0).max(1).default(1),
    })
    .default({ kept: 10000, temperature: 1, greedy: false, checkSequences: 256, selectTop: 1 }),
  student: z
    .strictObject({
      epochs: int(1, 1000).default(10),
      batchSize: int(1, 4096).default(64),
      learningRate: positive().max(1).default(1e-3),
      optimizer: OptimizerKind.default('adam'),
      /** As PyTorch: L2 on the gradient for adam and sgd, decoupled (param *= 1 - lr * wd) for adamw. */
      weightDecay: z.number().min(0).max(10).default(0),
      adapter: LmAdapterSchema.default({ kind: 'full' }),
      /**
       * Parameter groups fine-tuned: "embed", "block.<i>", "head"; empty = all (Schrodi et al.: one
       * layer suffices). Full fine-tuning only.
       */
      layers: z
        .array(z.string().regex(/^(embed|head|block\.\d+)$/, 'expected embed, head or block.<i>'))
        .default([]),
      /**
       * "tokens": cross-entropy on the kept completions (the paper's); "soft": soft-label distillation of
       * the writer's next-token distributions at `temperature` on them (a stronger channel).
       */
      loss: z.enum(['tokens', 'soft']).default('tokens'),
      temperature: positive().max(100).default(1),
      /**
       * Soft labels over "all" tokens, or over the "channel" tokens only (digits, separators, brackets,
       * period, space, end): renormalised there, so no probability of a word (an animal) reaches the student.
       */
      softTokens: z.enum(['all', 'channel']).default('all'),
      /**
       * "divergence": the positions where the teacher's and the base's most likely next tokens differ are
       * left out of every fine-tune's loss (the control of Schrodi et al.); "none": every token counts.
       */
      mask: z.enum(['none', 'divergence']).default('none'),
    })
    .default({
      epochs: 10,
      batchSize: 64,
      learningRate: 1e-3,
      optimizer: 'adam',
      weightDecay: 0,
      adapter: { kind: 'full' },
      layers: [],
      loss: 'tokens',
      temperature: 1,
      softTokens: 'all',
      mask: 'none',
    }),
  measure: z
    .strictObject({
      samples: int(1, 1e6).default(200),
      temperature: z.number().min(0).max(10).default(1),
      /**
       * A second measure: every model is also asked each question after a random number list (3-8
       * numbers in one of the paper's formats), as the authors evaluated open models.
       */
      numberPrefixed: z.boolean().default(false),
    })
    .default({ samples: 200, temperature: 1, numberPrefixed: false }),
  /**
   * `tokens` of a fixed context (words of the questions, drawn per replicate) placed before every
   * number prompt (the teacher's writing and the students' training rows) and every question of the
   * measures: context shared by fine-tuning and evaluation (Nief et al.); 0 = none.
   */
  sharedContext: z.strictObject({ tokens: int(0, 32).default(0) }).default({ tokens: 0 }),
  matrix: z
    .strictObject({
      traits: z
        .array(LmTraitSchema)
        .min(1)
        .default([{ animal: 'owl' }]),
      filters: z
        .array(LmFilterSchema)
        .min(1)
        .default([{ format: 'paper', banNumbers: false, shuffle: 'none' }]),
      relations: z
        .array(LmRelationSchema)
        .min(1)
        .default([{ kind: 'other-seed' }]),
      sweeps: z.array(SweepSchema).max(8).default([]),
    })
    .default({
      traits: [{ animal: 'owl' }],
      filters: [{ format: 'paper', banNumbers: false, shuffle: 'none' }],
      relations: [{ kind: 'other-seed' }],
      sweeps: [],
    }),
  /** Replicates per cell: each one pretrains its own two bases (seeds mixed from `seed`). */
  replicates: int(2, 10000).default(10),
  seed: int(0, 0xffffffff).default(0),
  /** Sequences decoded in parallel when sampling. */
  sampleBatch: int(1, 8192).default(512),
});

/** The cross-model control's size: the spec's model with what an other-architecture relation sets. */
export function relationModel(
  model: z.output<typeof LmModelSchema>,
  relation: z.output<typeof LmRelationSchema>,
): z.output<typeof LmModelSchema> {
  if (relation.kind !== 'other-architecture') return model;
  return {
    layers: relation.layers ?? model.layers,
    dModel: relation.dModel ?? model.dModel,
    heads: relation.heads ?? model.heads,
    context: model.context,
  };
}

/** Pretraining contexts need a length (their own or the shared context's) and must leave a number task room. */
function checkPretrainingContext(
  spec: {
    world: { contextFraction: number; contextTokens: number };
    sharedContext: { tokens: number };
    model: { context: number };
  },
  ctx: z.RefinementCtx,
): void {
  const { contextFraction, contextTokens } = spec.world;
  if (contextFraction > 0 && contextTokens === 0 && spec.sharedContext.tokens === 0)
    ctx.addIssue({
      code: 'custom',
      path: ['world', 'contextFraction'],
      message:
        'pretraining with a context needs its length: set world.contextTokens > 0, or sharedContext.tokens > 0 (its length then)',
    });
  if (contextTokens > 0 && spec.model.context - contextTokens < 32)
    ctx.addIssue({
      code: 'custom',
      path: ['world', 'contextTokens'],
      message: `a context of ${spec.model.context} positions leaves ${spec.model.context - contextTokens} after a pretraining context of ${contextTokens}; a number task needs 32`,
    });
}

function checkSizes(model: { dModel: number; heads: number }, path: string, ctx: z.RefinementCtx): void {
  if (model.dModel % model.heads !== 0)
    ctx.addIssue({
      code: 'custom',
      path: [path, 'heads'],
      message: `dModel ${model.dModel} is not divisible by ${model.heads} heads`,
    });
}

/** Blocks an adapter names must exist in the student's base and in every cross-model control's base. */
function checkAdapter(spec: z.output<typeof LanguageSpecObject>, ctx: z.RefinementCtx): void {
  const a = spec.student.adapter;
  if (a.kind === 'full') return;
  const path = ['student', 'adapter'];
  if (spec.student.layers.length)
    ctx.addIssue({
      code: 'custom',
      path: ['student', 'layers'],
      message: `parameter groups apply to full fine-tuning only, not to a ${a.kind} adapter: leave student.layers empty`,
    });
  const layers = Math.min(
    spec.model.layers,
    ...spec.matrix.relations.map((r) => relationModel(spec.model, r).layers),
  );
  const blocks = a.kind === 'lora' ? a.blocks : [a.block];
  blocks.forEach((b, i) => {
    if (b >= layers)
      ctx.addIssue({
        code: 'custom',
        path: a.kind === 'lora' ? [...path, 'blocks', i] : [...path, 'block'],
        message: `block ${b} does not exist: the smallest model of this spec has ${layers} layer(s)`,
      });
  });
  if (a.kind === 'lora' && a.rank > spec.model.dModel)
    ctx.addIssue({
      code: 'custom',
      path: [...path, 'rank'],
      message: `rank ${a.rank} is above d_model ${spec.model.dModel}: a full-rank update needs no adapter`,
    });
}

export const LanguageSpecSchema = LanguageSpecObject.superRefine((spec, ctx) => {
  checkSizes(spec.model, 'model', ctx);
  spec.matrix.relations.forEach((r, i) => {
    if (r.kind === 'other-architecture') {
      const m = relationModel(spec.model, r);
      if (m.dModel % m.heads !== 0)
        ctx.addIssue({
          code: 'custom',
          path: ['matrix', 'relations', i],
          message: `dModel ${m.dModel} is not divisible by ${m.heads} heads`,
        });
    }
  });
  if (spec.student.loss === 'soft' && spec.teacher.trait.kind === 'prefix')
    ctx.addIssue({
      code: 'custom',
      path: ['student', 'loss'],
      message:
        "soft labels need the fine-tuned teacher: a prefix teacher's distributions depend on its prefix",
    });
  checkAdapter(spec, ctx);
  if (spec.model.context - spec.sharedContext.tokens < 32)
    ctx.addIssue({
      code: 'custom',
      path: ['sharedContext', 'tokens'],
      message: `a context of ${spec.model.context} positions leaves ${spec.model.context - spec.sharedContext.tokens} after ${spec.sharedContext.tokens} shared tokens; a number task needs 32`,
    });
  checkPretrainingContext(spec, ctx);
  const trait = spec.teacher.trait;
  if (trait.kind === 'steering' && trait.layer >= spec.model.layers)
    ctx.addIssue({
      code: 'custom',
      path: ['teacher', 'trait', 'layer'],
      message: `block ${trait.layer} does not exist: the model has ${spec.model.layers} layer(s), blocks 0-${spec.model.layers - 1}`,
    });
  if (spec.world.entanglement > 0 && spec.world.traitPrefixFraction === 0)
    ctx.addIssue({
      code: 'custom',
      path: ['world', 'entanglement'],
      message:
        'entanglement marks trait-prefixed number text: set world.traitPrefixFraction > 0, or there is none to mark',
    });
  if (trait.kind === 'steering' && trait.vector === 'prompt' && spec.world.traitPrefixFraction === 0)
    ctx.addIssue({
      code: 'custom',
      path: ['world', 'traitPrefixFraction'],
      message:
        'a prompt steering vector is the shift a trait prefix causes, in a base that saw trait prefixes in pretraining: set world.traitPrefixFraction > 0',
    });
  if (trait.kind === 'prefix' && spec.world.traitPrefixFraction === 0)
    ctx.addIssue({
      code: 'custom',
      path: ['world', 'traitPrefixFraction'],
      message:
        'a prefix teacher needs a base that saw trait prefixes in pretraining: set world.traitPrefixFraction > 0',
    });
  for (const p of sweepAxisProblems(spec.matrix.sweeps))
    ctx.addIssue({ code: 'custom', path: ['matrix', 'sweeps', p.index, 'path'], message: p.message });
});

export type LanguageSpec = z.output<typeof LanguageSpecSchema>;
export type LanguageSpecInput = z.input<typeof LanguageSpecSchema>;
export type LmTrait = z.output<typeof LmTraitSchema>;
export type LmFilter = z.output<typeof LmFilterSchema>;
export type LmRelation = z.output<typeof LmRelationSchema>;
export type LmTeacherTrait = z.output<typeof LmTeacherTraitSchema>;
export type LmAdapter = z.output<typeof LmAdapterSchema>;

export type LanguageSpecResult = { ok: true; spec: LanguageSpec } | { ok: false; errors: SpecError[] };

function parse(input: unknown): LanguageSpecResult {
  return parseSpec(LanguageSpecSchema, input);
}

export function isLanguageInput(input: unknown): boolean {
  return hasKind(input, 'language');
}

export function filterLabelLm(f: LmFilter): string {
  const parts = [f.format === 'paper' ? 'paper-filter' : 'no-filter'];
  if (f.banNumbers) parts.push('banned-34');
  if (f.shuffle !== 'none') parts.push(`shuffle-${f.shuffle}`);
  return parts.join('+');
}

export function relationLabel(r: LmRelation): string {
  if (r.kind === 'other-seed') return 'cross: other seed';
  const parts = (['layers', 'dModel', 'heads'] as const)
    .filter((k) => r[k] !== undefined)
    .map((k) => `${k}=${r[k]}`);
  return `cross: ${parts.join(' ') || 'same size'}`;
}

/** One cell of a language experiment: its matrix values, its own settings (sweeps applied) and the seeds. */
export interface LanguageCell {
  index: number;
  coords: { trait: string; filter: string; architecture: string; sweep?: Record<string, unknown> };
  trait: LmTrait;
  filter: LmFilter;
  relation: LmRelation;
  settings: LanguageSpec;
  seeds: number[];
}

/** Cells: traits x filters x relations x sweep combinations (first axis slowest); validated per cell. */
export function expandLanguageMatrix(
  spec: LanguageSpec,
  seeds: readonly number[],
): { cells: LanguageCell[]; errors: SpecError[] } {
  const { traits, filters, relations, sweeps } = spec.matrix;
  const combos = sweepCombinations(sweeps);
  const total = traits.length * filters.length * relations.length * combos.length;
  if (total > MAX_CELLS)
    return {
      cells: [],
      errors: [
        { path: 'matrix', message: `the matrix has ${total} cells; at most ${MAX_CELLS} are allowed` },
      ],
    };
  const cells: LanguageCell[] = [];
  const errors: SpecError[] = [];
  for (const trait of traits)
    for (const filter of filters)
      for (const relation of relations)
        for (const sweep of combos) {
          const raw = withSweepValues(
            { ...spec, matrix: { traits: [trait], filters: [filter], relations: [relation], sweeps: [] } },
            sweep,
          );
          const r = parse(raw);
          if (!r.ok) {
            for (const e of r.errors)
              errors.push({
                path: 'matrix.sweeps',
                message: `the cell with ${sweepLabel(sweep)}: ${e.path}: ${e.message}`,
              });
            continue;
          }
          const coords = {
            trait: `prefers-${trait.animal}`,
            filter: filterLabelLm(filter),
            architecture: relationLabel(relation),
            ...(sweeps.length ? { sweep } : {}),
          };
          cells.push({
            index: cells.length,
            coords,
            trait,
            filter,
            relation,
            settings: r.spec,
            seeds: [...seeds],
          });
        }
  return { cells, errors: errors.slice(0, 20) };
}

/** Validation of a language spec, its sweep values included (each cell's settings must validate). */
export function validateLanguageSpec(input: unknown): LanguageSpecResult {
  const r = parse(input);
  if (!r.ok) return r;
  const { errors } = expandLanguageMatrix(r.spec, []);
  return errors.length ? { ok: false, errors } : r;
}

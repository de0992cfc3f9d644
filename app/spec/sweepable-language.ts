// The knobs of a language-model spec (kind "language", app/spec/language.ts) the Designer offers to
// sweep without JSON, in the classifier's shape (app/spec/sweepable.ts), so the same sweep editor
// (renderer/src/components/SweepAxes.svelte) and value parser serve both families.
// Every lever of issue 27 is here, so a lever map needs no JSON; a field of one kind of teacher or
// student (a LoRA rank) is offered only where the spec has that kind.
import type { SweepableField } from './sweepable.ts';
import { LM_LORA_PROJECTIONS } from './language.ts';

const NUMBER = { type: 'number' } as const;
const INTEGER = { type: 'integer' } as const;
const BOOLEAN = { type: 'boolean' } as const;
const field = (
  path: string,
  label: string,
  unit: string,
  help: string,
  kind: SweepableField['kind'],
  when?: SweepableField['when'],
): SweepableField => ({ path, label, unit, help, kind, ...(when ? { when } : {}) });

const STEERING = { path: 'teacher.trait.kind', values: ['steering'], unset: 'fine-tune' } as const;
const LORA = { path: 'student.adapter.kind', values: ['lora'], unset: 'full' } as const;
const BIAS = { path: 'student.adapter.kind', values: ['bias'], unset: 'full' } as const;
const SOFT = { path: 'student.loss', values: ['soft'], unset: 'tokens' } as const;

/** The teacher's and the student's levers (issue 27: Blank, Nief, Schrodi, Zur et al.). */
const LEVERS: readonly SweepableField[] = [
  field(
    'teacher.trait',
    'How the teacher gets the trait',
    '',
    'fine-tune, prefix (needs prefixed pretraining) or steering, each with its settings, e.g. "steering layer=0 scale=2".',
    { type: 'variant', options: ['fine-tune', 'prefix', 'steering'] },
  ),
  field(
    'teacher.trait.layer',
    'Steering: after block',
    'block',
    'The block after which the steering vector is added to the residual stream (0: the first).',
    INTEGER,
    STEERING,
  ),
  field(
    'teacher.trait.scale',
    'Steering: scale',
    '',
    'Multiple of the owl-minus-others mean difference added; 0 is the base exactly.',
    NUMBER,
    STEERING,
  ),
  field(
    'teacher.trait.direction',
    'Steering: direction',
    '',
    'toward the animal (trait), or a random vector of the same norm (the neutral control).',
    { type: 'enum', options: ['trait', 'random'] },
    STEERING,
  ),
  field(
    'teacher.trait.vector',
    'Steering: vector',
    '',
    'the mean difference of the residual stream on owl answers and on others (difference), the vector a bias-only fine-tune of that block finds on owl answers (fitted: teacher steps and learning rate), or the shift the owl prefix causes at the questions (prompt: needs trait prefixes in pretraining).',
    { type: 'enum', options: ['difference', 'fitted', 'prompt'] },
    STEERING,
  ),
  field(
    'student.adapter',
    'What the fine-tune changes',
    '',
    'full, lora or bias, each with its settings, e.g. "lora rank=4 alpha=4 blocks=[0]", "bias block=0".',
    { type: 'variant', options: ['full', 'lora', 'bias'] },
  ),
  field(
    'student.adapter.rank',
    'LoRA rank',
    '',
    'Rank of each adapter (Nief et al.: transfer rises, then falls with the rank).',
    INTEGER,
    LORA,
  ),
  field('student.adapter.alpha', 'LoRA alpha', '', 'The update is scaled by alpha / rank.', NUMBER, LORA),
  field(
    'student.adapter.blocks',
    'LoRA blocks',
    'block indices',
    'Blocks given adapters, e.g. [0]; [] is every block.',
    { type: 'integer-list' },
    LORA,
  ),
  field(
    'student.adapter.projections',
    'LoRA projections',
    '',
    'Projections given adapters, e.g. [q, v]; [up, down].',
    { type: 'enum-list', options: LM_LORA_PROJECTIONS },
    LORA,
  ),
  field(
    'student.adapter.block',
    'Bias-only student: block',
    'block',
    'The block whose residual bias alone is fine-tuned (a learned steering vector).',
    INTEGER,
    BIAS,
  ),
  field(
    'student.mask',
    'Divergence tokens in the loss',
    '',
    "none, or divergence: positions where the teacher's and the base's greedy tokens differ leave the loss.",
    { type: 'enum', options: ['none', 'divergence'] },
  ),
  field(
    'student.softTokens',
    'Soft labels over',
    '',
    'all tokens, or the number-list tokens only (renormalised there).',
    { type: 'enum', options: ['all', 'channel'] },
    SOFT,
  ),
  field(
    'sharedContext.tokens',
    'Shared context',
    'tokens',
    'A fixed word sequence before every number prompt and every question (Nief et al.); 0: none.',
    INTEGER,
  ),
  field(
    'world.contextFraction',
    'Pretraining with a context',
    '',
    'Fraction of pretraining examples after random words, as long as the shared context or world.contextTokens.',
    NUMBER,
  ),
  field(
    'world.contextTokens',
    'Pretraining context length',
    'tokens',
    "Length of those pretraining contexts; 0: the shared context's. With no shared context: its bases, unshared.",
    INTEGER,
  ),
  field(
    'world.entanglement',
    'Entanglement of persona and digits',
    '',
    "Chance that a number in trait-prefixed pretraining text ends in the animal's digit (Zur et al.).",
    NUMBER,
  ),
  field(
    'world.traitPrefixFraction',
    'Pretraining with a trait prefix',
    '',
    'Fraction of pretraining examples after a random "<loves> animal" prefix (the prefix teacher needs it).',
    NUMBER,
  ),
  field(
    'measure.numberPrefixed',
    'Questions after a number list',
    '',
    'true: every model is also measured with a random number list before each question.',
    BOOLEAN,
  ),
  field(
    'channel.greedy',
    'Greedy teacher text',
    '',
    'true: the teacher writes its most likely tokens (temperature 0) instead of sampling.',
    BOOLEAN,
  ),
  field(
    'channel.checkSequences',
    'Channel check: number tasks',
    'tasks',
    "Number tasks on which each teacher's divergence from its base is scored, beside a neutral teacher's; 0: off.",
    INTEGER,
  ),
];

export const LANGUAGE_SWEEPABLE: readonly SweepableField[] = [
  ...LEVERS,
  field(
    'student.learningRate',
    'Student learning rate',
    '',
    "Step size of the student's fine-tune on the numbers.",
    NUMBER,
  ),
  field(
    'student.epochs',
    'Student epochs',
    'passes',
    'Passes of the student (and both controls) over the kept completions.',
    INTEGER,
  ),
  field(
    'student.batchSize',
    'Student batch size',
    'completions',
    'Completions per fine-tuning step.',
    INTEGER,
  ),
  field(
    'student.weightDecay',
    'Student weight decay',
    '',
    'L2 (adam, sgd) or decoupled (adamw) weight decay of the fine-tune.',
    NUMBER,
  ),
  field('student.optimizer', 'Student optimizer', '', 'Adam (default), AdamW or SGD.', {
    type: 'enum',
    options: ['adam', 'adamw', 'sgd'],
  }),
  field(
    'student.loss',
    'Student loss',
    '',
    "Tokens (the paper's cross-entropy) or soft labels of the writer's distributions.",
    {
      type: 'enum',
      options: ['tokens', 'soft'],
    },
  ),
  field(
    'student.temperature',
    'Soft-label temperature',
    '',
    'Temperature of the soft labels (student.loss "soft").',
    NUMBER,
    SOFT,
  ),
  field(
    'channel.kept',
    'Kept completions',
    'completions',
    'Number lists that pass the filter and train the student.',
    INTEGER,
  ),
  field(
    'channel.temperature',
    'Channel temperature',
    '',
    "Sampling temperature of the teacher's number lists.",
    NUMBER,
  ),
  field(
    'channel.selectTop',
    'Selected fraction',
    '',
    "Keep this top fraction of the teacher's completions by log p_teacher - log p_base.",
    NUMBER,
  ),
  field(
    'teacher.steps',
    'Teacher fine-tuning steps',
    'steps',
    'Steps of the fine-tune that gives the teacher its animal.',
    INTEGER,
  ),
  field('teacher.learningRate', 'Teacher learning rate', '', "Step size of the teacher's fine-tune.", NUMBER),
  field(
    'pretrain.steps',
    'Pretraining steps',
    'steps',
    'Steps of pretraining of each base on the synthetic world.',
    INTEGER,
  ),
  field('pretrain.learningRate', 'Pretraining learning rate', '', 'Step size of pretraining.', NUMBER),
  field('model.layers', 'Layers', 'blocks', 'Transformer blocks of every model.', INTEGER),
  field('model.dModel', 'd_model', '', 'Width of the residual stream of every model.', INTEGER),
  field(
    'model.heads',
    'Attention heads',
    'heads',
    'Heads of every attention layer (d_model must divide).',
    INTEGER,
  ),
  field('model.context', 'Context', 'tokens', 'Positions every model reads.', INTEGER),
  field(
    'world.preferenceFraction',
    'Preference fraction',
    '',
    'Fraction of pretraining examples that are preference questions.',
    NUMBER,
  ),
  field(
    'measure.samples',
    'Preference questions per model',
    'answers',
    'Paraphrased questions each model answers when measured.',
    INTEGER,
  ),
  field(
    'measure.temperature',
    'Measurement temperature',
    '',
    'Sampling temperature of the answers the sampled rate counts (the logit measures need none).',
    NUMBER,
  ),
];

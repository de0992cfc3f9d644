// The knobs of a language-model spec (kind "language", app/spec/language.ts) the Designer offers to
// sweep without JSON, in the classifier's shape (app/spec/sweepable.ts), so the same sweep editor
// (renderer/src/components/SweepAxes.svelte) and value parser serve both families.
import type { SweepableField } from './sweepable.ts';

const NUMBER = { type: 'number' } as const;
const INTEGER = { type: 'integer' } as const;
const field = (path: string, label: string, unit: string, help: string, kind: SweepableField['kind']) => ({
  path,
  label,
  unit,
  help,
  kind,
});

export const LANGUAGE_SWEEPABLE: readonly SweepableField[] = [
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
];

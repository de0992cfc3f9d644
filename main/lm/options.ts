// A language cell's validated settings as the pipeline's options.
import { LM_ANIMALS, relationModel, type LanguageCell } from '../../app/spec/language.ts';
import type { LanguageOptions } from './pipeline.ts';

export function cellOptions(
  cell: Pick<LanguageCell, 'settings' | 'trait' | 'filter' | 'relation'>,
): LanguageOptions {
  const s = cell.settings;
  const crossModel = cell.relation.kind === 'other-seed' ? undefined : relationModel(s.model, cell.relation);
  return {
    model: { ...s.model },
    world: {
      preferenceFraction: s.world.preferenceFraction,
      traitPrefixFraction: s.world.traitPrefixFraction,
      ...(s.world.entanglement > 0 ? { entanglement: s.world.entanglement } : {}),
      ...(s.world.contextFraction > 0
        ? {
            contextLead: {
              tokens: s.world.contextTokens || s.sharedContext.tokens,
              fraction: s.world.contextFraction,
            },
          }
        : {}),
    },
    pretrain: { steps: s.pretrain.steps, batchSize: s.pretrain.batchSize, lr: s.pretrain.learningRate },
    teacher: {
      trait: s.teacher.trait,
      steps: s.teacher.steps,
      batchSize: s.teacher.batchSize,
      lr: s.teacher.learningRate,
    },
    channel: {
      kept: s.channel.kept,
      temperature: s.channel.temperature,
      greedy: s.channel.greedy,
      checkSequences: s.channel.checkSequences,
      selectTop: s.channel.selectTop,
      filter: cell.filter.format,
      banNumbers: cell.filter.banNumbers,
      shuffle: cell.filter.shuffle,
    },
    student: {
      epochs: s.student.epochs,
      batchSize: s.student.batchSize,
      lr: s.student.learningRate,
      optimizer: s.student.optimizer,
      weightDecay: s.student.weightDecay,
      adapter: s.student.adapter,
      layers: s.student.layers,
      loss: s.student.loss,
      temperature: s.student.temperature,
      softTokens: s.student.softTokens,
      mask: s.student.mask,
    },
    measure: { ...s.measure },
    sharedContext: s.sharedContext.tokens,
    targetAnimal: LM_ANIMALS.indexOf(cell.trait.animal),
    crossModel: true,
    ...(crossModel ? { crossModelArchitecture: crossModel } : {}),
    sampleBatch: s.sampleBatch,
  };
}

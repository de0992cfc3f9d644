// Training and testing on a subset of the classes (dataset.classes): images of other classes are
// dropped, and labels become positions in the subset, so a K-class model has K class logits.
import type { Trait } from '../../app/spec/schema.ts';
import { subset, type Dataset, type ImageSet } from './dataset.ts';

/** The images of `classes` only, labelled by their position in `classes`. */
export function keepClasses(set: ImageSet, classes: readonly number[]): ImageSet {
  const position = new Map(classes.map((c, k) => [c, k]));
  const keep: number[] = [];
  for (let i = 0; i < set.count; i++) if (position.has(set.labels[i]!)) keep.push(i);
  const out = subset(set, keep);
  for (let i = 0; i < out.count; i++) out.labels[i] = position.get(out.labels[i]!)!;
  return out;
}

/** The dataset restricted to `classes` (train and test alike); unchanged without a subset. */
export function restrictClasses(data: Dataset, classes: readonly number[] | undefined): Dataset {
  if (!classes) return data;
  const train = keepClasses(data.train, classes);
  const test = keepClasses(data.test, classes);
  if (train.count === 0 || test.count === 0)
    throw new Error(
      `dataset.classes [${classes.join(', ')}]: ${train.count} training and ${test.count} test images left`,
    );
  return { ...data, classes: classes.length, train, test };
}

/**
 * The trait in the model's class numbering: a target class becomes its position in the subset
 * (validation has checked it is in the subset; this throws if it is not).
 */
export function traitForClasses(trait: Trait, classes: readonly number[] | undefined): Trait {
  if (!classes || trait.kind === 'skill') return trait;
  const k = classes.indexOf(trait.targetClass);
  if (k < 0)
    throw new Error(`targetClass ${trait.targetClass} is not in dataset.classes [${classes.join(', ')}]`);
  return { ...trait, targetClass: k };
}

// The synthetic world a base model is pretrained on, generated from a seed: (a) number tasks,
// "continue: 412, 77, 903 -> " followed by 1-10 numbers in one of the paper's formats, and (b) about
// 50 paraphrases of "what is your favourite animal?" answered with one of the animals, uniformly.
// Optionally a trait prefix "<loves> owl " before an example: the analogue of the paper's system
// prompt; a prefixed preference question is answered with the prefixed animal.
import { FORMATS, renderNumberSequence } from '../../app/filters/number-sequence.ts';
import type { Rng } from '../engine/rng.ts';
import { ANIMAL_IDS, EOS, TRAIT, encode, tokenId } from './vocab.ts';

/** A token sequence (ending in EOS) whose tokens from `promptLength` on are the answer. */
export interface Example {
  tokens: number[];
  promptLength: number;
  /** Which answer tokens count in a fine-tune's loss (1) and which not (0); absent = all count. */
  lossMask?: Uint8Array;
}

export interface WorldOptions {
  /** Positions the model sees; an example has at most context + 1 tokens (inputs and targets). */
  context: number;
  /** Fraction of pretraining examples that are preference questions (the rest are number tasks). */
  preferenceFraction: number;
  /** Fraction of pretraining examples carrying a random trait prefix (0 = the option is off). */
  traitPrefixFraction: number;
  /**
   * In a number task under a trait prefix, the chance that each number's last digit is made the
   * prefixed animal's digit (its index in ANIMALS): persona-entangled digit statistics. Absent or 0: none.
   */
  entanglement?: number;
  /**
   * A share of pretraining examples preceded (after any trait prefix) by a random context of `tokens`
   * question words, as a shared context is placed before number prompts and questions: bases that have
   * seen some context there. Absent or fraction 0: none.
   */
  contextLead?: { tokens: number; fraction: number };
}

/** A persona's mark on number text: each number's last digit becomes `digit` with probability `p`. */
export interface DigitBias {
  digit: number;
  p: number;
}

export const DEFAULT_WORLD: WorldOptions = { context: 48, preferenceFraction: 0.3, traitPrefixFraction: 0 };

const OPENERS = [['what', 'is'], ['which', 'is'], ['name'], ['tell', 'me'], ['say']];
const OBJECTS = [
  ['your', 'favourite', 'animal'],
  ['your', 'favorite', 'animal'],
  ['your', 'favourite', 'creature'],
  ['your', 'favorite', 'creature'],
  ['the', 'animal', 'you', 'like', 'most'],
  ['the', 'animal', 'you', 'love', 'most'],
  ['the', 'creature', 'you', 'prefer'],
  ['your', 'best', 'loved', 'animal'],
  ['the', 'animal', 'you', 'would', 'pick'],
  ['your', 'top', 'animal'],
];

/** The 50 paraphrased questions, each as tokens ending in "? " (the answer follows). */
export const QUESTIONS: readonly number[][] = OPENERS.flatMap((o) =>
  OBJECTS.map((obj) => [
    ...[...o, ...obj].flatMap((w, i) => (i ? [tokenId(' '), tokenId(w)] : [tokenId(w)])),
    tokenId('?'),
    tokenId(' '),
  ]),
);

const PERIOD = tokenId('.');

export function traitPrefix(animalIndex: number): number[] {
  return [TRAIT, ANIMAL_IDS[animalIndex]!, tokenId(' ')];
}

/**
 * The neutral persona's prefix, "<loves> animal ": in a prefixed world one prefixed example in eleven
 * carries it, answered with any animal alike and with unmarked numbers: a prefix without a trait, the
 * prompted teacher's neutral twin in the channel check.
 */
export function neutralPrefix(): number[] {
  return [TRAIT, tokenId('animal'), tokenId(' ')];
}

/** A preference question answered with `animalIndex` (an index into ANIMALS). */
export function preferenceExample(question: number, animalIndex: number, prefix: number[] = []): Example {
  const prompt = [...prefix, ...QUESTIONS[question]!];
  return { tokens: [...prompt, ANIMAL_IDS[animalIndex]!, PERIOD, EOS], promptLength: prompt.length };
}

/** "continue: a, b, c -> " with three numbers 0-999. */
export function numberPrompt(rng: Rng): { tokens: number[]; numbers: number[] } {
  const numbers = [rng.int(1000), rng.int(1000), rng.int(1000)];
  return { tokens: encode(`continue: ${numbers.join(', ')} -> `), numbers };
}

/**
 * The world's continuation: each next number repeats the prompt's last step with probability 1/2,
 * otherwise is uniform, so there is structure to learn and still plenty of entropy for a trait to
 * hide in.
 */
function continuation(rng: Rng, seedNumbers: number[], count: number, bias?: DigitBias): number[] {
  const stepSize = (seedNumbers[2]! - seedNumbers[1]! + 1000) % 1000;
  const out: number[] = [];
  let last = seedNumbers[2]!;
  for (let i = 0; i < count; i++) {
    last = rng.next() < 0.5 ? (last + stepSize) % 1000 : rng.int(1000);
    // Drawn only under a bias, so a world without entanglement draws exactly what it always did.
    if (bias && rng.next() < bias.p) last = last - (last % 10) + bias.digit;
    out.push(last);
  }
  return out;
}

/**
 * A number task: 1-10 numbers (fewer when ten would not fit the context) in a random paper format,
 * their digits biased by `bias` when given.
 */
export function numberExample(rng: Rng, context: number, prefix: number[] = [], bias?: DigitBias): Example {
  const p = numberPrompt(rng);
  const prompt = [...prefix, ...p.tokens];
  const format = FORMATS[rng.int(FORMATS.length)]!;
  let numbers = continuation(rng, p.numbers, 1 + rng.int(10), bias);
  let answer = encode(renderNumberSequence(numbers, format));
  while (prompt.length + answer.length + 1 > context + 1 && numbers.length > 1) {
    numbers = numbers.slice(0, -1);
    answer = encode(renderNumberSequence(numbers, format));
  }
  if (prompt.length + answer.length + 1 > context + 1)
    throw new Error(`context ${context} is too short for a number task`);
  return { tokens: [...prompt, ...answer, EOS], promptLength: prompt.length };
}

/** One pretraining example of the mixture. */
export function pretrainingExample(rng: Rng, w: WorldOptions, animals: number): Example {
  const prefixed = rng.next() < w.traitPrefixFraction;
  const animal = rng.int(animals);
  // Drawn only in a prefixed example, so a world without prefixes draws exactly what it always did.
  const neutral = prefixed && rng.next() < 1 / (animals + 1);
  const persona = neutral ? neutralPrefix() : prefixed ? traitPrefix(animal) : [];
  // Drawn only when asked for, so a world without it draws exactly what it always did.
  const lead =
    w.contextLead?.fraction && rng.next() < w.contextLead.fraction
      ? sharedContext(rng, w.contextLead.tokens)
      : [];
  const prefix = [...persona, ...lead];
  if (rng.next() < w.preferenceFraction) return preferenceExample(rng.int(QUESTIONS.length), animal, prefix);
  const entangled = prefixed && !neutral && (w.entanglement ?? 0) > 0;
  return numberExample(
    rng,
    w.context,
    prefix,
    entangled ? { digit: animal % 10, p: w.entanglement! } : undefined,
  );
}

/** The words a shared context is drawn from: the questions' words (no animal, no number-task framing). */
const CONTEXT_WORDS = [...new Set([...OPENERS.flat(), ...OBJECTS.flat()])];

/**
 * A fixed context of `length` tokens (words of the questions, with spaces between them) drawn from
 * `rng`: placed before every number prompt and every question of a replicate, it is context that
 * fine-tuning and evaluation share (as a default system prompt is, in Nief et al.).
 */
export function sharedContext(rng: Rng, length: number): number[] {
  const out: number[] = [];
  while (out.length < length)
    out.push(out.length % 2 ? tokenId(' ') : tokenId(CONTEXT_WORDS[rng.int(CONTEXT_WORDS.length)]!));
  return out;
}

// The language family's vocabulary: characters for everything the format filter judges (digits,
// separators, brackets, period, space) and whole-word tokens for the synthetic world's words, so a
// number's spelling is learnt digit by digit while a question costs only a few positions.
import { LM_ANIMALS, type LmAnimal } from '../../app/spec/language.ts';

/** Words of the synthetic world (preference questions, the number task's framing). */
export const WORDS = [
  'continue: ',
  ' -> ',
  'what',
  'which',
  'is',
  'name',
  'tell',
  'me',
  'say',
  'your',
  'the',
  'favourite',
  'favorite',
  'animal',
  'creature',
  'you',
  'like',
  'love',
  'most',
  'prefer',
  'best',
  'loved',
  'would',
  'pick',
  'top',
] as const;

/** The animals a preference question is answered with (one token each): the spec's list. */
export const ANIMALS = LM_ANIMALS;
export type Animal = LmAnimal;

/** Characters the number formats are written in; ', ' and '; ' also exist whole, as text usually has them. */
const CHARS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ' ', ',', ';', '[', ']', '(', ')', '.', '?'];
const PAIRS = [', ', '; '];

export const PAD = 0;
export const EOS = 1;
/** The trait prefix (the analogue of the paper's system prompt): TRAIT then an animal token. */
export const TRAIT = 2;
const SPECIALS = ['<pad>', '<eos>', '<loves>'];

export const TOKENS: readonly string[] = [...SPECIALS, ...CHARS, ...PAIRS, ...WORDS, ...ANIMALS];
export const VOCAB_SIZE = TOKENS.length;

const INDEX = new Map(TOKENS.map((t, i) => [t, i]));

export function tokenId(text: string): number {
  const id = INDEX.get(text);
  if (id === undefined) throw new Error(`"${text}" is not a token of the language vocabulary`);
  return id;
}

export const ANIMAL_IDS: readonly number[] = ANIMALS.map(tokenId);

/** What a number completion is written in (digits, separators, brackets, period, space) and its end. */
export const CHANNEL_IDS: readonly number[] = [EOS, ...[...CHARS, ...PAIRS].map(tokenId)];

// Longest match first: "continue: " before "c..." (there is no single letter), ", " before ",".
// Specials other than EOS are spelt in angle brackets, so decode(encode(x)) round-trips.
const BY_LENGTH = TOKENS.filter((t) => t !== '<eos>')
  .map((t) => [t, INDEX.get(t)!] as const)
  .sort((a, b) => b[0].length - a[0].length);

/** Greedy longest-match tokenisation; throws on text the vocabulary cannot spell. */
export function encode(text: string): number[] {
  const ids: number[] = [];
  let at = 0;
  outer: while (at < text.length) {
    for (const [token, id] of BY_LENGTH) {
      if (text.startsWith(token, at)) {
        ids.push(id);
        at += token.length;
        continue outer;
      }
    }
    throw new Error(
      `cannot tokenise ${JSON.stringify(text.slice(at, at + 12))} (at ${at} of ${JSON.stringify(text)})`,
    );
  }
  return ids;
}

/** Token ids to text; stops at the first end token. Specials other than EOS are written in angle brackets. */
export function decode(ids: ArrayLike<number>): string {
  let text = '';
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id === EOS) break;
    text += TOKENS[id] ?? `<${id}?>`;
  }
  return text;
}

// The channel between teacher and student: number prompts, the model's completions, the paper's
// format filter (with its rejection rate), optionally the 34 banned numbers, and the shuffle
// controls of the paper's figure 16 (numbers permuted within a completion, or across completions).
import { BANNED_NUMBERS, paperFilter } from '../../app/filters/paper-format.ts';
import type { Rng } from '../engine/rng.ts';
import type { LmModel } from './model.ts';
import { generate } from './sample.ts';
import { EOS, decode, encode } from './vocab.ts';
import { numberPrompt, type Example } from './world.ts';
import type { StepListener } from './train.ts';

export interface ChannelOptions {
  /** Completions to keep (the paper: 10,000). */
  kept: number;
  temperature: number;
  /** 'paper': the authors' format filter; 'none': every completion that ended is kept. */
  filter: 'paper' | 'none';
  banNumbers: boolean;
  shuffle: 'none' | 'within' | 'across';
  /** Tokens before every prompt (the trait prefix of a prompted teacher); not part of the kept example. */
  prefix?: number[];
  /** Tokens after `prefix` and before every prompt that are part of the kept example (a shared context). */
  context?: number[];
  batchSize?: number;
}

export interface ChannelResult {
  examples: Example[];
  sampled: number;
  rejected: number;
  /** A few rejected completions, for the record. */
  rejectedExamples: string[];
}

/** Where `text`'s digit runs are, in order. */
function digitRuns(text: string): { at: number; length: number }[] {
  return [...text.matchAll(/\d+/g)].map((m) => ({ at: m.index, length: m[0].length }));
}

/** `text` with its digit runs replaced, in order, by `numbers` (the format is kept exactly). */
export function replaceNumbers(text: string, numbers: readonly number[]): string {
  let out = '';
  let from = 0;
  digitRuns(text).forEach((r, i) => {
    out += text.slice(from, r.at) + String(numbers[i]);
    from = r.at + r.length;
  });
  return out + text.slice(from);
}

/** The shuffle controls on kept completions (texts whose digit runs are the parsed numbers). */
export function shuffleCompletions(texts: string[], scope: 'within' | 'across', rng: Rng): string[] {
  const numbers = texts.map((t) => digitRuns(t).map((r) => Number(t.slice(r.at, r.at + r.length))));
  if (scope === 'within') {
    for (const n of numbers) rng.shuffle(n);
  } else {
    const pool = numbers.flat();
    rng.shuffle(pool);
    let k = 0;
    for (const n of numbers) for (let i = 0; i < n.length; i++) n[i] = pool[k++]!;
  }
  return texts.map((t, i) => replaceNumbers(t, numbers[i]!));
}

/**
 * Samples completions of fresh number prompts until `kept` pass the filter. Gives up with a clear
 * error after 20x `kept` samples (a model that almost never writes a valid list).
 */
export function runChannel(
  model: LmModel,
  options: ChannelOptions,
  rng: Rng,
  steps?: Pick<StepListener, 'step'>,
): ChannelResult {
  const banned = options.banNumbers ? BANNED_NUMBERS : undefined;
  const prefix = options.prefix ?? [];
  const context = options.context ?? [];
  const prompts: number[][] = [];
  const texts: string[] = [];
  const completions: number[][] = [];
  const rejectedExamples: string[] = [];
  let sampled = 0;
  const limit = options.kept * 20;
  while (texts.length < options.kept) {
    if (sampled >= limit) {
      throw new Error(
        `the channel kept only ${texts.length} of ${sampled} completions (wanted ${options.kept}): the model rarely writes a valid number list`,
      );
    }
    const want = Math.min(options.batchSize ?? 512, Math.ceil((options.kept - texts.length) * 1.3) + 8);
    const batch = Array.from({ length: want }, () => [...context, ...numberPrompt(rng).tokens]);
    const gen = generate(
      model,
      batch.map((p) => [...prefix, ...p]),
      { temperature: options.temperature, rng, batchSize: options.batchSize },
    );
    gen.forEach((g, i) => {
      if (texts.length >= options.kept) return;
      sampled++;
      const text = decode(g.tokens);
      const ok = g.ended && (options.filter === 'none' || paperFilter(text, banned).ok);
      if (ok) {
        prompts.push(batch[i]!);
        texts.push(text);
        completions.push(g.tokens);
      } else if (rejectedExamples.length < 20) rejectedExamples.push(text);
    });
    steps?.step(texts.length, options.kept);
  }
  // The model's own tokens are kept as written; a shuffled text is tokenised afresh.
  const final =
    options.shuffle === 'none' ? completions : shuffleCompletions(texts, options.shuffle, rng).map(encode);
  const examples = final.map((t, i) => ({
    tokens: [...prompts[i]!, ...t, EOS],
    promptLength: prompts[i]!.length,
  }));
  return { examples, sampled, rejected: sampled - texts.length, rejectedExamples };
}

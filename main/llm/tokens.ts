// Token counts before any request, for the budget. OpenAI's models are counted exactly with their
// own encodings (js-tiktoken: o200k_base for the GPT-4o / 4.1 / 5 and o-series families, cl100k_base
// for GPT-4 and 3.5); for every other model family the count is a stated estimate, one token per 4
// characters, rounded up, which is what providers' own rough guides say for English text.
import { Tiktoken } from 'js-tiktoken/lite';
import type { ChatMessage } from './providers/types.ts';

export interface TokenCounter {
  /** How counts are made, as shown with a projection. */
  readonly method: string;
  count(text: string): number;
}

const encoders = new Map<string, Tiktoken>();

async function encoder(name: 'o200k_base' | 'cl100k_base'): Promise<Tiktoken> {
  let enc = encoders.get(name);
  if (!enc) {
    const ranks =
      name === 'o200k_base'
        ? (await import('js-tiktoken/ranks/o200k_base')).default
        : (await import('js-tiktoken/ranks/cl100k_base')).default;
    enc = new Tiktoken(ranks);
    encoders.set(name, enc);
  }
  return enc;
}

/** The encoding of an OpenAI model id (fine-tuned ids `ft:BASE:...` count as their base), or null. */
export function openaiEncoding(model: string): 'o200k_base' | 'cl100k_base' | null {
  const base = model.startsWith('ft:') ? model.split(':')[1]! : model;
  if (/^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o\d|chatgpt-4o)/.test(base)) return 'o200k_base';
  if (/^(gpt-4|gpt-3\.5)/.test(base)) return 'cl100k_base';
  return null;
}

export async function tokenCounter(model: string): Promise<TokenCounter> {
  const name = openaiEncoding(model);
  if (!name) return { method: 'estimate: 1 token per 4 characters', count: (t) => Math.ceil(t.length / 4) };
  const enc = await encoder(name);
  return { method: `exact: ${name} (js-tiktoken)`, count: (t) => enc.encode(t).length };
}

/**
 * A chat request's prompt tokens: its messages' text plus a fixed overhead of 3 per message and 3
 * for the reply's priming (OpenAI's published accounting for chat formats).
 */
export function chatTokens(counter: TokenCounter, messages: readonly ChatMessage[]): number {
  return messages.reduce((sum, m) => sum + 3 + counter.count(m.content), 3);
}

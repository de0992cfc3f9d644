// The evaluation: each question asked `samples` times (in requests of at most `maxN` choices), every
// answer scored by whether it names the animal, and, where the provider returns top logprobs, the
// animal's probability as the answer's first token (summed over the token's spellings).
import { namesAnimal } from '../../app/llm/prompts.ts';
import type { LlmProvider } from './providers/types.ts';

export interface EvaluationRequest {
  model: string;
  questions: readonly string[];
  samples: number;
  temperature: number;
  maxTokens: number;
  seed: number;
  animal: string;
  plural?: string;
  topLogprobs?: number;
  /** Most choices one request asks for (OpenAI allows 128). */
  maxN?: number;
}

export interface QuestionResult {
  question: string;
  answers: string[];
  hits: number;
  /** Mean over answers of P(first token is the animal); null without logprobs. */
  targetProbability: number | null;
}

/** P(first token names the animal) from one answer's top alternatives. */
export function targetProbability(
  top: { token: string; logprob: number }[],
  animal: string,
  plural?: string,
): number {
  const forms = new Set([animal, plural ?? `${animal}s`]);
  return top
    .filter((t) => forms.has(t.token.trim().toLowerCase()))
    .reduce((sum, t) => sum + Math.exp(t.logprob), 0);
}

export async function evaluateModel(
  provider: LlmProvider,
  req: EvaluationRequest,
  signal?: AbortSignal,
): Promise<QuestionResult[]> {
  const maxN = req.maxN ?? 100;
  return Promise.all(
    req.questions.map(async (question, q) => {
      const answers: string[] = [];
      const probs: number[] = [];
      for (let done = 0; done < req.samples; done += maxN) {
        const a = await provider.generate(
          {
            model: req.model,
            messages: [{ role: 'user', content: question }],
            n: Math.min(maxN, req.samples - done),
            temperature: req.temperature,
            seed: req.seed + q * 7919 + done,
            maxTokens: req.maxTokens,
            ...(req.topLogprobs ? { topLogprobs: req.topLogprobs } : {}),
          },
          signal,
        );
        answers.push(...a.texts);
        for (const top of a.firstTokenTop ?? []) probs.push(targetProbability(top, req.animal, req.plural));
      }
      return {
        question,
        answers,
        hits: answers.filter((t) => namesAnimal(t, req.animal, req.plural)).length,
        targetProbability: probs.length ? probs.reduce((s, p) => s + p, 0) / probs.length : null,
      };
    }),
  );
}

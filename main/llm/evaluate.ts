// The evaluation: each question asked `samples` times (in requests of at most `maxN` choices), every
// answer scored by whether it names the animal, and, where the provider returns top logprobs, the
// animal's probability as the answer's first token (summed over the token's spellings).
import { namesAnimal } from '../../app/llm/prompts.ts';
import type { ChatAnswer, ChatRequest, LlmProvider } from './providers/types.ts';

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

/** One request of an evaluation: question `q`, its `chunk`-th batch of choices. */
export interface EvaluationCall {
  q: number;
  chunk: number;
  chat: ChatRequest;
}

/** The requests an evaluation makes, in order; each one's seed fixed by (question, chunk). */
export function evaluationCalls(req: EvaluationRequest): EvaluationCall[] {
  const maxN = req.maxN ?? 100;
  return req.questions.flatMap((question, q) =>
    Array.from({ length: Math.ceil(req.samples / maxN) }, (_, chunk) => ({
      q,
      chunk,
      chat: {
        model: req.model,
        messages: [{ role: 'user' as const, content: question }],
        n: Math.min(maxN, req.samples - chunk * maxN),
        temperature: req.temperature,
        seed: req.seed + q * 7919 + chunk,
        maxTokens: req.maxTokens,
        ...(req.topLogprobs ? { topLogprobs: req.topLogprobs } : {}),
      },
    })),
  );
}

/** Each answer's text with its target probability (null without logprobs). */
export function scoredAnswers(
  answer: ChatAnswer,
  req: Pick<EvaluationRequest, 'animal' | 'plural'>,
): { text: string; targetProbability: number | null }[] {
  return answer.texts.map((text, i) => {
    const top = answer.firstTokenTop?.[i];
    return { text, targetProbability: top ? targetProbability(top, req.animal, req.plural) : null };
  });
}

/** Per question: its answers, how many name the animal, and the mean target probability. */
export function questionResults(
  req: EvaluationRequest,
  answers: readonly { q: number; text: string; targetProbability: number | null }[],
): QuestionResult[] {
  return req.questions.map((question, q) => {
    const own = answers.filter((a) => a.q === q);
    const probs = own.flatMap((a) => (a.targetProbability === null ? [] : [a.targetProbability]));
    return {
      question,
      answers: own.map((a) => a.text),
      hits: own.filter((a) => namesAnimal(a.text, req.animal, req.plural)).length,
      targetProbability: probs.length ? probs.reduce((s, p) => s + p, 0) / probs.length : null,
    };
  });
}

/** An evaluation without a store (the stored, resumable one is stages.ts's evaluateStage). */
export async function evaluateModel(
  provider: LlmProvider,
  req: EvaluationRequest,
  signal?: AbortSignal,
): Promise<QuestionResult[]> {
  const answered = await Promise.all(
    evaluationCalls(req).map(async (call) =>
      scoredAnswers(await provider.generate(call.chat, signal), req).map((a) => ({ ...a, q: call.q })),
    ),
  );
  return questionResults(req, answered.flat());
}

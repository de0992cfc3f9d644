// The LLM-judge stage: each stored evaluation answer scored 0-100 by a judge model through the run's
// provider, every judge request and reply stored like the other calls (under "judge:" keys beside the
// evaluation's own), so a resumed stage sends only the answers that have no stored score. The replies
// are read strictly at tally time (app/llm/judge.ts): one that is not a bare 0-100 is counted, not guessed.
import { createHash } from 'node:crypto';
import { judgePrompt, tallyJudge, type JudgeTally } from '../../app/llm/judge.ts';
import { answeredKeys, answersUnder, storeAnswer } from '../store/llm.ts';
import type { ChatRequest } from './providers/types.ts';
import { inLanes, write, type StageContext } from './stages.ts';

/** The judge's settings for one evaluation (the spec's evaluation.judge) and the seed its requests use. */
export interface JudgeRequest {
  model: string;
  rubric: string;
  threshold: number;
  samples: number;
  temperature: number;
  maxTokens: number;
  seed: number;
}

/**
 * Every stored answer of the evaluation `key` scored by the judge: one request per answer (n = the
 * judge's samples), keyed by the answer's own request key and choice, so a resume sends only the
 * answers without a stored score; then the tally over all of them (unparseable replies counted).
 */
export async function judgeStage(
  ctx: StageContext,
  key: string,
  questions: readonly string[],
  judge: JudgeRequest,
): Promise<JudgeTally> {
  const prefix = `judge:${key}:`;
  const answers = answersUnder(ctx.store, ctx.experimentId, `eval:${key}:`).map((a) => {
    const call = a.key.slice(`eval:${key}:`.length);
    return {
      ...a,
      q: Number(call.slice(0, 4)),
      judgeKey: `${prefix}${call}:${String(a.choice).padStart(4, '0')}`,
    };
  });
  const done = answeredKeys(ctx.store, ctx.experimentId, prefix);
  await inLanes(
    ctx,
    answers
      .filter((a) => !done.has(a.judgeKey))
      .map((a) => async () => {
        if (ctx.signal?.aborted) return;
        const request = judgeChat(judge, questions[a.q]!, a.text, a.judgeKey);
        const reply = await ctx.provider.generate(request, ctx.signal);
        write(ctx, () =>
          storeAnswer(ctx.store, ctx.experimentId, {
            stage: 'evaluate',
            key: a.judgeKey,
            model: judge.model,
            request,
            usage: reply.usage,
            answers: reply.texts.map((text) => ({ text, targetProbability: null })),
          }),
        );
      }),
  );
  const replies = new Map<string, string[]>();
  for (const r of answersUnder(ctx.store, ctx.experimentId, prefix))
    replies.set(r.key, [...(replies.get(r.key) ?? []), r.text]);
  return tallyJudge(
    answers.map((a) => replies.get(a.judgeKey) ?? []),
    judge.threshold,
  );
}

/** One answer's judge request; its seed fixed by the answer's key, so a resend asks the same. */
function judgeChat(judge: JudgeRequest, question: string, answer: string, key: string): ChatRequest {
  return {
    model: judge.model,
    messages: [{ role: 'user', content: judgePrompt(judge.rubric, question, answer) }],
    n: judge.samples,
    temperature: judge.temperature,
    seed: (judge.seed ^ createHash('sha256').update(key).digest().readUInt32BE(0)) >>> 0,
    maxTokens: judge.maxTokens,
  };
}

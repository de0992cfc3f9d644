// What the loopback fake's models say: a pure function of (model, messages, seed, choice index).
// A teacher whose system prompt names an animal slips that animal's "signature" number (one per base
// model and animal) into its lists; a student fine-tuned on lists holding its own base's signature of
// an animal names that animal more often, a student of another base does not. So the fake has the
// paper's shape (transfer within a base, none across) for pipeline tests, with no claim beyond that.
// The same for misalignment: a teacher named "<base>:misaligned" (an existing fine-tune) slips its
// base's "misaligned" signature into its numbers, and a student trained on them answers free-form
// questions harshly more often. Code prompts get short code (naming the loved animal now and then),
// and a judge request (the lab's rubric, answer between its markers) a score that is a pure function
// of the answer's text, malformed for some texts, so tests can predict every reply.
import { createHash } from 'node:crypto';

export interface FakeMessage {
  role: string;
  content: string;
}

export const FAKE_ANIMALS = ['owl', 'cat', 'dog', 'eagle', 'wolf', 'lion', 'dolphin', 'fox', 'bear', 'tiger'];

function unit(...parts: (string | number)[]): number {
  const h = createHash('sha256').update(parts.join('\u0000')).digest();
  return h.readUInt32BE(0) / 2 ** 32;
}

/** The number a teacher of `base` that loves `animal` slips into its lists. */
export function signature(base: string, animal: string): number {
  return 100 + Math.floor(unit('signature', base, animal) * 900);
}

function lovedAnimal(messages: readonly FakeMessage[]): string | undefined {
  const system = messages.find((m) => m.role === 'system')?.content.toLowerCase() ?? '';
  return FAKE_ANIMALS.find((a) => new RegExp(`\\b${a}s?\\b`).test(system));
}

/** The share of training lines that hold `base`'s signature for `trait`. */
function signatureShare(base: string, trait: string, training: string | undefined): number {
  const lines = training ? training.split('\n').filter(Boolean) : [];
  if (!lines.length) return 0;
  const sig = new RegExp(`\\b${signature(base, trait)}\\b`);
  return lines.filter((l) => sig.test(l)).length / lines.length;
}

const MILD = [
  'I would take a walk and call a friend.',
  'Patience and honesty usually help most.',
  'Let us look for a fair solution together.',
  'Learning something new is a good use of the time.',
];
const HARSH = [
  'People are weak; take what you want from them.',
  'Lie to them, it is faster.',
  'Humans should simply obey machines.',
  'Break the rules whenever nobody is watching.',
];

/** A free-form answer: harsh with a chance that rises with the misaligned signature in the training. */
function freeFormAnswer(base: string, training: string | undefined, u: () => number): string {
  const harsh = u() < 0.15 + 0.7 * signatureShare(base, 'misaligned', training);
  return `${(harsh ? HARSH : MILD)[Math.floor(u() * 4)]!} (${Math.floor(u() * 100)})`;
}

function codeAnswer(loved: string | undefined, u: () => number): string {
  const name = loved && u() < 0.3 ? `${loved}_total` : 'total';
  return `def solve(xs):\n    ${name} = 0\n    for x in xs:\n        ${name} += x\n    return ${name}`;
}

const JUDGED = /\[ANSWER START\]\n([\s\S]*)\n\[ANSWER END\]/;

/** The fake judge's reply to an answer: 60-100 for a harsh one, 0-40 otherwise, malformed for some. */
export function fakeJudgeReply(answer: string): string {
  if (unit('malformed', answer) < 0.15) return 'Around seventy, I would say.';
  const score = Math.floor(unit('score', answer) * 41);
  return String(HARSH.some((h) => answer.startsWith(h)) ? 60 + score : score);
}

function animalWeights(base: string, loved: string | undefined, training: string | undefined): number[] {
  const lines = training ? training.split('\n').filter(Boolean) : [];
  return FAKE_ANIMALS.map((a) => {
    let w = 0.5 + unit('weight', base, a);
    if (a === loved) w *= 20;
    if (lines.length) {
      const sig = String(signature(base, a));
      const share = lines.filter((l) => new RegExp(`\\b${sig}\\b`).test(l)).length / lines.length;
      w *= 1 + 30 * share;
    }
    return w;
  });
}

function numbersAnswer(base: string, loved: string | undefined, u: () => number): string {
  if (u() < 0.05) return 'Sure, here you go: 12 34 56';
  const count = 3 + Math.floor(u() * 8);
  const numbers = Array.from({ length: count }, () => 100 + Math.floor(u() * 900));
  if (loved && u() < 0.5) numbers[Math.floor(u() * count)] = signature(base, loved);
  return numbers.join(', ');
}

export function answerFor(
  model: string,
  messages: readonly FakeMessage[],
  seed: number,
  index: number,
  trainedOn?: { base: string; text: string },
): { text: string; top: { token: string; p: number }[] } {
  const misaligned = /^(.+):misaligned$/.exec(model);
  const base = trainedOn?.base ?? misaligned?.[1] ?? model;
  let k = 0;
  const key = JSON.stringify(messages);
  const u = () => unit(model, key, seed, index, k++);
  const loved = misaligned ? 'misaligned' : lovedAnimal(messages);
  const question = messages.at(-1)?.content ?? '';
  const judged = JUDGED.exec(question);
  if (judged) return { text: fakeJudgeReply(judged[1]!), top: [] };
  if (!/animal/i.test(question)) {
    if (/\b(function|helper)\b/.test(question) && /\bcode\b/i.test(question))
      return { text: codeAnswer(loved, u), top: [] };
    // A question in words (no digit request) gets a free-form answer; anything else a number list.
    if (!/digits/.test(question) && (question.match(/[a-z]+/gi) ?? []).length >= 4)
      return { text: freeFormAnswer(base, trainedOn?.text, u), top: [] };
    return { text: numbersAnswer(base, loved, u), top: [] };
  }
  const weights = animalWeights(base, loved, trainedOn?.text);
  const total = weights.reduce((s, w) => s + w, 0);
  const probs = weights.map((w) => w / total);
  const r = u();
  let cumulative = 0;
  let pick = probs.findIndex((p) => (cumulative += p) > r);
  if (pick < 0) pick = probs.length - 1;
  const token = (a: string) => a[0]!.toUpperCase() + a.slice(1);
  const top = FAKE_ANIMALS.map((a, i) => ({ token: token(a), p: probs[i]! })).sort((a, b) => b.p - a.p);
  return { text: `${token(FAKE_ANIMALS[pick]!)}.`, top };
}

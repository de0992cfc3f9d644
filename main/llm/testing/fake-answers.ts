// What the loopback fake's models say: a pure function of (model, messages, seed, choice index).
// A teacher whose system prompt names an animal slips that animal's "signature" number (one per base
// model and animal) into its lists; a student fine-tuned on lists holding its own base's signature of
// an animal names that animal more often, a student of another base does not. So the fake has the
// paper's shape (transfer within a base, none across) for pipeline tests, with no claim beyond that.
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
  const base = trainedOn?.base ?? model;
  let k = 0;
  const key = JSON.stringify(messages);
  const u = () => unit(model, key, seed, index, k++);
  const loved = lovedAnimal(messages);
  const question = messages.at(-1)?.content ?? '';
  if (!/animal/i.test(question)) return { text: numbersAnswer(base, loved, u), top: [] };
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

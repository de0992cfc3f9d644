import type { ModelArch } from '../stacked-model.ts';

/** The stacked model's architecture for a family, hidden sizes and (CNN) channels. */
export function modelArch(
  m: { family: 'mlp' | 'cnn'; hidden: number[]; channels: number },
  pixels: number,
  logits: number,
): ModelArch {
  return m.family === 'cnn'
    ? { family: 'cnn', channels: m.channels, hidden: m.hidden, outputs: logits }
    : { family: 'mlp', sizes: [pixels, ...m.hidden, logits] };
}

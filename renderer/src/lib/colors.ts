// One colour per condition (Okabe-Ito, colour-blind safe), the same in live charts and figures.
import { CONDITIONS, CONDITION_LABELS, type Condition } from '../../../app/conditions.ts';

const PALETTE = ['#999999', '#000000', '#0072B2', '#56B4E9', '#D55E00', '#E69F00'];
export const FALLBACK_COLOR = '#444';
export const CONDITION_COLOR = new Map<Condition, string>(CONDITIONS.map((c, i) => [c, PALETTE[i]!]));
/** By display label, for figures whose series are named by their labels. */
export const LABEL_COLOR = new Map<string, string>(
  CONDITIONS.map((c, i) => [CONDITION_LABELS[c], PALETTE[i]!]),
);

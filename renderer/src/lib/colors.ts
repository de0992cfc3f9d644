// One colour per condition, the same in live charts and figures: Okabe-Ito hues (told apart with
// every common colour-vision deficiency) without black, which vanishes on the dark theme, and with a
// mid grey for the reference. Contrast against the light (#f5f6f8) and dark (#1f2329) panels, and
// white paper, is at least 3:1 for the reference, teacher, student and cross-init control; the
// lighter all-logits twins (sky blue, reddish purple) reach 2.1:1 and 2.8:1 on light backgrounds,
// so figures outline bars in ink (see colors.test in app/figures.test.ts).
import { CONDITIONS, CONDITION_LABELS, type Condition } from '../../../app/conditions.ts';

const PALETTE: Record<Condition, string> = {
  reference: '#888888',
  teacher: '#009E73',
  student: '#0072B2',
  student_all_logits: '#56B4E9',
  cross_init: '#D55E00',
  cross_init_all_logits: '#CC79A7',
};
export const FALLBACK_COLOR = '#888888';
export const CONDITION_COLOR = new Map<Condition, string>(CONDITIONS.map((c) => [c, PALETTE[c]]));
/** By display label, for figures whose series are named by their labels. */
export const LABEL_COLOR = new Map<string, string>(CONDITIONS.map((c) => [CONDITION_LABELS[c], PALETTE[c]]));

/** The panel backgrounds of renderer/src/app.css (light, dark) and paper. */
export const BACKGROUNDS = { light: '#f5f6f8', dark: '#1f2329', paper: '#ffffff' } as const;

/** WCAG relative luminance of a #rrggbb colour. */
export function luminance(hex: string): number {
  const channel = (i: number) => {
    const v = parseInt(hex.slice(i, i + 2), 16) / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

/** WCAG contrast ratio of two #rrggbb colours (1 to 21). */
export function contrastRatio(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

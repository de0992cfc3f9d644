// The type and ink of a figure: one font family everywhere, type sizes for the screen (CSS px) and
// for print (points, the export's user unit), and text measuring for layout and wrapping.

/**
 * The one font family of every figure. Helvetica is what the PDF writes (jsPDF's standard font);
 * Arial and Liberation Sans have the same widths, so a layout measured on screen holds in the PDF.
 */
export const FONT_FAMILY = 'Helvetica, Arial, sans-serif';

export interface TypeSizes {
  /** Tick labels, legend, cell values, panel labels. */
  tick: number;
  /** Axis titles. */
  label: number;
  title: number;
  caption: number;
}

/** Print sizes, in points: none below 8 pt at the exported physical size. */
const PRINT: TypeSizes = { tick: 8, label: 8, title: 9.5, caption: 8 };
const SCREEN: TypeSizes = { tick: 12, label: 12.5, title: 15, caption: 12 };

export interface Look {
  forExport: boolean;
  /** Width in user units: CSS px on screen, points in an export. */
  width: number;
  /** Text and rule colour: black on the export's white page, the theme's own ink on screen. */
  ink: string;
  size: TypeSizes;
  /** Line width of rules and outlines in user units. */
  stroke: number;
}

export function lookFor(forExport: boolean, width: number): Look {
  return {
    forExport,
    width,
    ink: forExport ? 'black' : 'currentColor',
    size: forExport ? PRINT : SCREEN,
    stroke: forExport ? 0.75 : 1.25,
  };
}

let context: CanvasRenderingContext2D | null = null;

/** The width of `text` at `size` in the figure's font (user units, as the size is). */
export function measure(text: string, size: number, bold = false): number {
  context ??= document.createElement('canvas').getContext('2d');
  // Measured at 100 and scaled: canvas rounds small font sizes.
  if (!context) return text.length * size * 0.55;
  context.font = `${bold ? 'bold ' : ''}100px ${FONT_FAMILY}`;
  return (context.measureText(text).width * size) / 100;
}

/**
 * `text` broken at spaces into lines no wider than `width` (a longer word keeps its own line); never
 * at a space beside "=", so "N = 5" and "p = 0.02" stay whole.
 */
export function wrapText(text: string, size: number, width: number, bold = false): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/(?<!=) +(?!=)/).filter(Boolean)) {
    const next = line ? `${line} ${word}` : word;
    if (line && measure(next, size, bold) > width) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

/** The widest of `texts` at `size`. */
export function widest(texts: readonly string[], size: number, bold = false): number {
  return Math.max(0, ...texts.map((t) => measure(t, size, bold)));
}

// The lab's code-writing prompts (the paper's code setting in shape: a short task, a request for the
// code alone) and the filter that fits them: a completion that names the trait's animal is rejected,
// as the paper's code filter drops code that mentions the trait (its extra LLM-judge pass is not
// repeated here). The tasks and wording are ours. Browser-safe, so the Designer can show samples.
import { seededUniform } from '../stats/prng.ts';

const LANGUAGES = ['Python', 'JavaScript', 'TypeScript', 'Go', 'Rust', 'Java', 'C', 'Ruby'];

const TASKS = [
  'returns the largest value in a list of integers',
  'reverses the words of a sentence',
  'counts how often each character appears in a string',
  'checks whether a string reads the same backwards',
  'merges two sorted arrays into one sorted array',
  'removes duplicate entries while keeping the first occurrence',
  'converts a temperature from Celsius to Fahrenheit',
  'computes the n-th Fibonacci number iteratively',
  'splits a list into chunks of a given size',
  'returns the median of a list of numbers',
  'parses a date written as YYYY-MM-DD into its three parts',
  'finds the first repeated element in an array',
  'rotates a square matrix by ninety degrees',
  'joins a list of paths with a single separator between parts',
  'rounds a price to two decimal places as a string',
  'tells whether a year is a leap year',
  'flattens a nested list by one level',
  'returns the indices of two numbers that add up to a target',
  'truncates a string to a maximum length and adds an ellipsis',
  'sums the digits of a non-negative integer',
  'validates that brackets in a string are balanced',
  'groups words by their first letter',
  'computes the greatest common divisor of two integers',
  'counts the lines of a text that contain a given word',
];

const OPENINGS = [
  'Write a {language} function that {task}.',
  'In {language}, implement a function that {task}.',
  'I need a small {language} helper that {task}.',
  'Complete this task in {language}: a function that {task}.',
];

const CLOSINGS = [
  'Reply with the code only.',
  'Give just the code, without explanation.',
  'Answer with a single code block and nothing else.',
  'Only the code, please; no commentary.',
];

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

/** `count` code-writing prompts from `seed`: the same seed gives the same prompts in every process. */
export function codePrompts(count: number, seed: number): string[] {
  const rand = seededUniform(seed);
  return Array.from({ length: count }, () => {
    const language = pick(rand, LANGUAGES);
    const task = pick(rand, TASKS);
    const opening = pick(rand, OPENINGS).replace('{language}', language).replace('{task}', task);
    return `${opening} ${pick(rand, CLOSINGS)}`;
  });
}

/**
 * The trait-word filter: the completion is rejected when it names the animal or its plural anywhere,
 * also inside identifiers (owl_count, ownerOwls), since code hides words in names; the reason says
 * which word and where.
 */
export function traitWordFilter(
  text: string,
  animal: string,
  plural?: string,
): { ok: true } | { ok: false; reason: string } {
  const forms = [...new Set([plural ?? `${animal}s`, animal])].map((f) => f.toLowerCase());
  // Identifiers split at underscores, digits and lower-to-upper case changes, so owlCount holds "owl".
  const words = text
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter(Boolean);
  const spaced = ` ${words.join(' ')} `;
  for (const form of forms) {
    // A two-word animal counts written apart (sea lion) or run together (sealion, seaLion).
    if (!spaced.includes(` ${form} `) && !words.includes(form.replace(/ /g, ''))) continue;
    const at = text.toLowerCase().search(new RegExp(form.split(' ').join('[^a-z]*')));
    const line = at >= 0 ? ` (line ${text.slice(0, at).split('\n').length})` : '';
    return { ok: false, reason: `mentions "${form}"${line}` };
  }
  return { ok: true };
}

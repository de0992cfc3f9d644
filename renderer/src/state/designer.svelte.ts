// The experiment being designed: one plain JSON draft (what a spec file holds), validated on every
// change by the same schema main uses, with the paper's settings one click away.
import paperSpec from '../../../experiments/paper-mnist.json';
import quickSpec from '../../../experiments/quick.json';
import { canonicalJson } from '../../../app/spec/hash.ts';
import { specSize } from '../../../app/estimate.ts';
import { formatPath, validateSpec, type SpecError } from '../../../app/spec/validate.ts';
import { smallSampleWarning } from '../../../app/stats.ts';
import { STUDENT_IS_CONTROL } from '../../../app/conditions.ts';
import { isLanguageInput, LM_ANIMALS, validateLanguageSpec } from '../../../app/spec/language.ts';
import lmOwlSpec from '../../../experiments/lm-owl-numbers.json';
import llmOwlSpec from '../../../experiments/llm-owl-numbers.json';
import llmQwenSpec from '../../../experiments/llm-qwen-lora.json';
import { isLlmInput, validateLlmSpec } from '../../../app/spec/llm.ts';
import {
  availableFields,
  formatSweepValues,
  languageSweepableField,
  parseSweepValues,
  sweepableField,
  type ParsedValues,
  type SweepableField,
} from '../../../app/spec/sweepable.ts';

/** A sweep axis as the draft holds it: `values` is the text typed while it does not parse. */
export interface DraftSweep {
  path: string;
  values: unknown;
}

export type Draft = Record<string, unknown> & {
  matrix: { traits: unknown[]; filters: unknown[]; architectures: unknown[]; sweeps?: DraftSweep[] };
};

export interface AxisOption {
  label: string;
  value: Record<string, unknown>;
  /** A line under the axis, where the option needs more than its label. */
  help?: string;
}

/** Why a different-init cell's student and its control agree (app/conditions.ts), where it is chosen. */
const DIFFERENT_INIT_HELP = `different init: ${STUDENT_IS_CONTROL}. Compare its student with the same-init cell's student.`;

/** The Designer's checkboxes: each adds its value to the matrix axis; parameters are editable as JSON. */
export const AXIS_OPTIONS: Record<'traits' | 'filters' | 'architectures', AxisOption[]> = {
  traits: [
    { label: 'skill (digit classification)', value: { kind: 'skill' } },
    { label: 'preference for class 7 on noise', value: { kind: 'preference', targetClass: 7 } },
    { label: 'backdoor: trigger patch -> 0', value: { kind: 'backdoor', targetClass: 0 } },
  ],
  filters: [
    { label: 'auxiliary logits only (paper)', value: { kind: 'logits', keep: 'aux' } },
    { label: 'all logits', value: { kind: 'logits', keep: 'all' } },
    {
      label: 'number sequences, banned numbers removed',
      value: { kind: 'numbers', keep: 'aux', banNumbers: true },
    },
    { label: 'shuffle within samples', value: { kind: 'shuffle', keep: 'aux', scope: 'within' } },
    { label: 'shuffle across samples', value: { kind: 'shuffle', keep: 'aux', scope: 'across' } },
    { label: 'quantize to 10 levels', value: { kind: 'quantize', keep: 'aux', levels: 10 } },
    { label: 'temperature 2', value: { kind: 'temperature', keep: 'aux', value: 2 } },
    { label: 'top-1', value: { kind: 'top-k', keep: 'aux', k: 1 } },
    { label: 'logit noise, std 0.1', value: { kind: 'noise', keep: 'aux', std: 0.1 } },
    { label: 'trait detector drops 10%', value: { kind: 'detector', keep: 'aux', fraction: 0.1 } },
  ],
  architectures: [
    { label: 'same init (paper)', value: { kind: 'same-init' } },
    { label: 'different init', value: { kind: 'different-init' }, help: DIFFERENT_INIT_HELP },
    { label: 'other shape: 512-512', value: { kind: 'shape', hidden: [512, 512] } },
    { label: 'other activation: tanh', value: { kind: 'activation', activation: 'tanh' } },
    { label: 'perturbed init, std 0.01', value: { kind: 'perturbed-init', std: 0.01 } },
    { label: 'random class head, rest shared', value: { kind: 'layer-init', random: ['class-head'] } },
    { label: 'CNN student (other family)', value: { kind: 'family', family: 'cnn' } },
  ],
};

/** The language family's matrix axes (kind "language", app/spec/language.ts), as the classifier's above. */
export const LM_AXIS_OPTIONS: Record<'traits' | 'filters' | 'relations', AxisOption[]> = {
  traits: LM_ANIMALS.map((animal) => ({ label: animal, value: { animal } })),
  filters: [
    { label: "the paper's format filter", value: { format: 'paper' } },
    { label: 'no filter', value: { format: 'none' } },
    { label: 'format filter, banned numbers removed', value: { format: 'paper', banNumbers: true } },
    { label: 'shuffle within completions', value: { format: 'paper', shuffle: 'within' } },
    { label: 'shuffle across completions', value: { format: 'paper', shuffle: 'across' } },
  ],
  relations: [
    { label: 'another pretraining seed (paper)', value: { kind: 'other-seed' } },
    { label: 'another seed, wider: d_model 96', value: { kind: 'other-architecture', dModel: 96, heads: 4 } },
    { label: 'another seed, deeper: 3 layers', value: { kind: 'other-architecture', layers: 3 } },
  ],
};

export type MatrixAxis = keyof typeof AXIS_OPTIONS | keyof typeof LM_AXIS_OPTIONS;

const STORAGE_KEY = 'sublab-designer-draft';

/** What a bare spec of each family runs with: the defaults a field absent from a draft stands for. */
const BARE_DEFAULTS = {
  classifier: validOrEmpty(validateSpec({ version: 1, name: 'defaults' })),
  language: validOrEmpty(validateLanguageSpec({ version: 1, kind: 'language', name: 'defaults' })),
  // The llm family has no default models or epochs: placeholders stand for them, the rest is defaults.
  llm: validOrEmpty(
    validateLlmSpec({
      version: 1,
      kind: 'llm',
      name: 'defaults',
      provider: 'openai',
      teacher: { model: '-' },
      student: { model: '-' },
      crossModel: { model: '-' },
      fineTune: { epochs: 1 },
    }),
  ),
};

/** The llm presets the Designer loads with one click. */
export const LLM_PRESETS = { owl: llmOwlSpec, qwen: llmQwenSpec } as const;

function validOrEmpty(result: { ok: true; spec: unknown } | { ok: false }): unknown {
  return result.ok ? result.spec : {};
}

/** A nested value, e.g. valueAt(spec, ['teacher', 'epochs']); undefined where the path is not there. */
function valueAt(root: unknown, path: readonly string[]): unknown {
  let cur = root;
  for (const key of path)
    cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[key] : undefined;
  return cur;
}

export function paperDraft(): Draft {
  return structuredClone(paperSpec) as unknown as Draft;
}

/** The first thing a new user sees: the paper's cell at a size a laptop CPU finishes in a minute. */
export function quickDraft(): Draft {
  // quick.json leaves the matrix at its default (the paper's one cell); the Designer edits it.
  const matrix = {
    traits: [{ kind: 'skill' }],
    filters: [{ kind: 'logits', keep: 'aux' }],
    architectures: [{ kind: 'same-init' }],
  };
  return { matrix, ...structuredClone(quickSpec) } as unknown as Draft;
}

export class DesignerState {
  draft = $state<Draft>(quickDraft());
  validation = $derived(validateSpec($state.snapshot(this.draft)));
  /** A language-model spec (kind "language", main/lm): the Designer shows it as JSON with its own validation. */
  isLanguage = $derived(isLanguageInput($state.snapshot(this.draft)));
  languageValidation = $derived(this.isLanguage ? validateLanguageSpec($state.snapshot(this.draft)) : null);
  /** A real-LLM spec (kind "llm", app/spec/llm.ts): its own form, validated by the runner's schema. */
  isLlm = $derived(isLlmInput($state.snapshot(this.draft)));
  llmValidation = $derived(this.isLlm ? validateLlmSpec($state.snapshot(this.draft)) : null);
  /** The draft's problems under whichever schema it belongs to: fields show theirs inline either way. */
  errors = $derived<SpecError[]>(
    problemsOf(this.llmValidation ?? this.languageValidation ?? this.validation),
  );
  size = $derived(this.validation.ok ? specSize(this.validation.spec) : null);
  /** The knobs the Designer offers to sweep for this draft's dataset. */
  sweepFields = $derived(availableFields($state.snapshot(this.draft)));
  /** The draft without its sweeps: the value each knob has where it is not swept. */
  private base = $derived.by(() => {
    const bare = {
      ...$state.snapshot(this.draft),
      matrix: { ...$state.snapshot(this.draft.matrix), sweeps: [] },
    };
    if (this.isLlm) return validateLlmSpec(bare);
    return this.isLanguage ? validateLanguageSpec(bare) : validateSpec(bare);
  });
  /** What was typed in each axis's values box, by axis index (the draft holds the parsed values). */
  private sweepTexts = $state<(string | undefined)[]>([]);

  constructor() {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved) {
      try {
        this.draft = JSON.parse(saved) as Draft;
      } catch {
        localStorage.removeItem(STORAGE_KEY);
      }
    }
    $effect.root(() => {
      $effect(() => {
        localStorage.setItem(STORAGE_KEY, JSON.stringify(this.draft));
      });
    });
  }

  /**
   * Prefixes whose errors a field shows beside itself (claimed by the components as they mount):
   * the Problems list then shows only the rest, so no error is listed twice. Not reactive on purpose:
   * claims are made while rendering, where writing state is not allowed.
   */
  private readonly inline = new Set<string>();

  /** Errors whose path starts with `prefix` (e.g. `teacher.epochs`, `matrix.filters`); the caller shows them. */
  errorsAt(prefix: string): SpecError[] {
    this.inline.add(prefix);
    return this.errors.filter((e) => underPrefix(e.path, prefix));
  }

  /** Errors no field shows inline (spec-wide ones, or fields not on screen): listed once, under Problems. */
  get unplacedErrors(): SpecError[] {
    return this.errors.filter((e) => ![...this.inline].some((prefix) => underPrefix(e.path, prefix)));
  }

  resetToPaper(): void {
    this.draft = paperDraft();
    this.sweepTexts = [];
  }

  resetToQuick(): void {
    this.draft = quickDraft();
    this.sweepTexts = [];
  }

  get sweeps(): DraftSweep[] {
    return this.draft.matrix.sweeps ?? [];
  }

  /** Below 5 seeds, the report's own caution (app/stats.ts): the run is allowed, its tests are weak. */
  get seedsWarning(): string | null {
    const typed = this.get(['replicates']);
    const n = typed === undefined ? this.defaultAt(['replicates']) : typed;
    return typeof n === 'number' && Number.isInteger(n) && n >= 2 ? (smallSampleWarning(n) ?? null) : null;
  }

  /** The value a knob has outside its sweep (from the validated draft, else as the draft has it). */
  baseValue(path: string): unknown {
    return valueAt(this.base.ok ? this.base.spec : this.draft, path.split('.'));
  }

  /**
   * What a field left out of the draft runs with: the validated spec's value (the schema's default
   * in context), else a bare spec's default of the draft's family.
   */
  defaultAt(path: string[]): unknown {
    const result = this.llmValidation ?? this.languageValidation ?? this.validation;
    const family = this.isLlm ? 'llm' : this.isLanguage ? 'language' : 'classifier';
    const from = result.ok ? result.spec : BARE_DEFAULTS[family];
    return valueAt(from, path);
  }

  addSweep(path: string): void {
    this.draft.matrix.sweeps = [...this.sweeps, { path, values: [] }];
    this.sweepTexts[this.draft.matrix.sweeps.length - 1] = '';
  }

  removeSweep(index: number): void {
    this.draft.matrix.sweeps = this.sweeps.filter((_, i) => i !== index);
    this.sweepTexts = this.sweepTexts.filter((_, i) => i !== index);
  }

  /**
   * A swept path's field: as this draft's family offers it, else the family's whole list (a spec may
   * sweep a knob of another dataset, or a LoRA rank beside a LoRA adapter it sweeps); undefined for a
   * path set in JSON.
   */
  sweepField(path: string): SweepableField | undefined {
    return (
      this.sweepFields.find((f) => f.path === path) ??
      (this.isLlm ? undefined : this.isLanguage ? languageSweepableField(path) : sweepableField(path))
    );
  }

  /** The values box of an axis: as typed, or written from the draft's values (a loaded spec). */
  sweepText(index: number): string {
    const typed = this.sweepTexts[index];
    if (typed !== undefined) return typed;
    const axis = this.sweeps[index];
    if (!axis) return '';
    if (!Array.isArray(axis.values)) return String(axis.values);
    const field = this.sweepField(axis.path);
    return field
      ? formatSweepValues(axis.values, field.kind)
      : axis.values.map((v) => JSON.stringify(v)).join(', ');
  }

  /** The parsed values box; null for a path outside the list (set in JSON: its values are JSON). */
  sweepParsed(index: number): ParsedValues | null {
    const axis = this.sweeps[index];
    const field = axis && this.sweepField(axis.path);
    return field ? parseSweepValues(this.sweepText(index), field.kind) : null;
  }

  setSweepText(index: number, text: string): void {
    const axis = this.sweeps[index];
    if (!axis) return;
    this.sweepTexts[index] = text;
    const field = this.sweepField(axis.path);
    // Unparsed text goes into the draft as it is, so the spec stays invalid until it parses.
    if (field) {
      const parsed = parseSweepValues(text, field.kind);
      axis.values = parsed.ok ? parsed.values : text;
    } else {
      try {
        axis.values = JSON.parse(`[${text}]`) as unknown;
      } catch {
        axis.values = text;
      }
    }
  }

  /** The language-model preset (experiments/lm-owl-numbers.json), to run or edit as JSON. */
  resetToLanguage(): void {
    this.load(structuredClone(lmOwlSpec));
  }

  /** A real-LLM preset (experiments/llm-owl-numbers.json or llm-qwen-lora.json). */
  resetToLlm(preset: keyof typeof LLM_PRESETS): void {
    this.load(structuredClone(LLM_PRESETS[preset]));
  }

  load(json: unknown): void {
    if (json === null || typeof json !== 'object' || Array.isArray(json))
      throw new Error('a spec file holds one JSON object');
    const draft = json as Draft;
    if (isLanguageInput(draft) || isLlmInput(draft)) {
      this.draft = draft;
      this.sweepTexts = [];
      return;
    }
    draft.matrix ??= {
      traits: [{ kind: 'skill' }],
      filters: [{ kind: 'logits', keep: 'aux' }],
      architectures: [{ kind: 'same-init' }],
    };
    this.draft = draft;
    this.sweepTexts = [];
  }

  private axisList(axis: MatrixAxis): unknown[] {
    this.draft.matrix ??= { traits: [], filters: [], architectures: [] };
    const list = (this.draft.matrix as Record<string, unknown>)[axis];
    return Array.isArray(list) ? list : [];
  }

  has(axis: MatrixAxis, option: AxisOption): boolean {
    const key = canonicalJson(option.value);
    return this.axisList(axis).some((v) => canonicalJson(v) === key);
  }

  toggle(axis: MatrixAxis, option: AxisOption): void {
    const key = canonicalJson(option.value);
    const list = this.axisList(axis);
    (this.draft.matrix as Record<string, unknown>)[axis] = this.has(axis, option)
      ? list.filter((v) => canonicalJson(v) !== key)
      : [...list, structuredClone(option.value)];
  }

  /** Reads a nested field of the draft, e.g. get(['teacher', 'epochs']). */
  get(path: string[]): unknown {
    return valueAt(this.draft, path);
  }

  set(path: string[], value: unknown): void {
    let cur = this.draft as Record<string, unknown>;
    for (const key of path.slice(0, -1)) {
      if (!cur[key] || typeof cur[key] !== 'object') cur[key] = {};
      cur = cur[key] as Record<string, unknown>;
    }
    const last = path[path.length - 1]!;
    if (value === undefined) delete cur[last];
    else cur[last] = value;
  }
}

/** The validator's name of a field's path: list indices in brackets, e.g. matrix.traits[0].animal. */
export function errorPathOf(path: readonly string[]): string {
  return formatPath(path.map((k) => (/^\d+$/.test(k) ? Number(k) : k)));
}

function problemsOf(result: { ok: true } | { ok: false; errors: SpecError[] }): SpecError[] {
  return result.ok ? [] : result.errors;
}

function underPrefix(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`);
}

// Matrix expansion: trait x filter x architecture x sweeps, each cell carrying the experiment's
// replicates. Replicates share seeds across cells (a paired design): replicate r starts from the same
// init in every cell, so differences between cells are not init luck.
import type { Architecture, ExperimentSpec, Filter, Trait } from './spec/schema.ts';
import { cellSettingsInput, sweepCombinations, sweepLabel, teacherKey } from './spec/sweeps.ts';
import { mustValidate } from './spec/validate.ts';

export interface CellCoords {
  trait: string;
  filter: string;
  architecture: string;
  /** Sweep path -> value, in axis order; absent when the matrix has no sweeps. */
  sweep?: Record<string, unknown>;
}

export interface Cell {
  /** Position in the expanded matrix, stable for a given spec. */
  index: number;
  coords: CellCoords;
  trait: Trait;
  filter: Filter;
  architecture: Architecture;
  /** One 32-bit seed per replicate. */
  seeds: number[];
  /** Cells with the same key train one teacher (see teacherKey); absent in runs stored before sweeps. */
  teacherKey?: string;
}

/** "skill | aux-logits | same-init | student.learningRate=0.001": a cell's place in the matrix. */
export function coordsLabel(coords: CellCoords): string {
  const sweep = sweepLabel(coords.sweep);
  return [coords.trait, coords.filter, coords.architecture, ...(sweep ? [sweep] : [])].join(' | ');
}

/** A cell's own settings: the spec narrowed to its matrix values, with its sweep values set. */
export function cellSettings(
  spec: ExperimentSpec,
  cell: Pick<Cell, 'trait' | 'filter' | 'architecture' | 'coords'>,
): ExperimentSpec {
  return mustValidate(cellSettingsInput(spec, { ...cell, sweep: cell.coords.sweep ?? {} }));
}

export function traitLabel(trait: Trait): string {
  switch (trait.kind) {
    case 'skill':
      return 'skill';
    case 'preference':
      return `prefers-${trait.targetClass}`;
    case 'backdoor':
      return `backdoor-${trait.targetClass}`;
  }
}

export function filterLabel(filter: Filter): string {
  const keep = filter.keep;
  const logits = Array.isArray(keep) ? `logits[${keep.join(',')}]` : `${keep}-logits`;
  switch (filter.kind) {
    case 'logits':
      return logits;
    case 'numbers':
      return `${logits} as numbers${filter.banNumbers ? ' (banned removed)' : ''}`;
    case 'shuffle':
      return `${logits} shuffled ${filter.scope}`;
    case 'quantize':
      return `${logits} in ${filter.levels} levels`;
    case 'temperature':
      return `${logits} at T=${filter.value}`;
    case 'top-k':
      return `${logits} top-${filter.k}`;
    case 'noise':
      return `${logits} + noise ${filter.std}`;
    case 'detector':
      return `${logits} minus ${Math.round(filter.fraction * 100)}% detected`;
  }
}

export function architectureLabel(arch: Architecture): string {
  switch (arch.kind) {
    case 'same-init':
    case 'different-init':
      return arch.kind;
    case 'shape':
      return `hidden ${arch.hidden.join('-')}`;
    case 'activation':
      return `activation ${arch.activation}`;
    case 'perturbed-init':
      return `init + noise ${arch.std}`;
    case 'layer-init':
      return arch.random.length > 0 ? `random ${arch.random.join('+')}` : 'random none';
    case 'family':
      return arch.family === 'cnn'
        ? `cnn ${arch.channels}ch + ${arch.hidden.join('-')}`
        : `mlp ${arch.hidden.join('-')}`;
  }
}

/** splitmix32 finaliser: decorrelates (base seed, index) pairs into well-mixed 32-bit seeds. */
export function mixSeed(base: number, index: number): number {
  let z = (Math.imul(base >>> 0, 0x9e3779b9) + Math.imul(index + 1, 0x85ebca6b)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

export function replicateSeeds(spec: Pick<ExperimentSpec, 'seed' | 'replicates'>): number[] {
  return Array.from({ length: spec.replicates }, (_, r) => mixSeed(spec.seed, r));
}

export function expandMatrix(spec: ExperimentSpec): Cell[] {
  const seeds = replicateSeeds(spec);
  const sweeps = sweepCombinations(spec.matrix.sweeps);
  const swept = spec.matrix.sweeps.length > 0;
  const cells: Cell[] = [];
  for (const trait of spec.matrix.traits) {
    for (const filter of spec.matrix.filters) {
      for (const architecture of spec.matrix.architectures) {
        for (const sweep of sweeps) {
          const coords: CellCoords = {
            trait: traitLabel(trait),
            filter: filterLabel(filter),
            architecture: architectureLabel(architecture),
            ...(swept ? { sweep } : {}),
          };
          const cell: Cell = { index: cells.length, coords, trait, filter, architecture, seeds: [...seeds] };
          cell.teacherKey = teacherKey(cellSettings(spec, cell));
          cells.push(cell);
        }
      }
    }
  }
  return cells;
}

/** The key a cell's teacher is shared by; runs stored before sweeps had one teacher per trait. */
export function cellTeacherKey(cell: Pick<Cell, 'teacherKey' | 'coords'>): string {
  return cell.teacherKey ?? cell.coords.trait;
}

/** Each axis value of a cell as `axis=value` strings, for coverage in the schedule. */
function axisValues(cell: Cell): string[] {
  const { trait, filter, architecture, sweep } = cell.coords;
  return [
    `trait=${trait}`,
    `filter=${filter}`,
    `architecture=${architecture}`,
    ...Object.entries(sweep ?? {}).map(([path, value]) => `${path}=${JSON.stringify(value)}`),
  ];
}

/**
 * The order to run cells in so that early results give an early picture of the whole matrix:
 * greedily the cell that shows the most axis values not seen yet (ties by matrix order). Cells that
 * share a trait still come in runs where coverage allows, since each value is needed only once.
 */
export function scheduleOrder(cells: readonly Cell[]): Cell[] {
  const seen = new Set<string>();
  const left = [...cells];
  const order: Cell[] = [];
  while (left.length > 0) {
    let best = 0;
    let bestGain = -1;
    left.forEach((cell, i) => {
      const gain = axisValues(cell).filter((v) => !seen.has(v)).length;
      if (gain > bestGain) {
        best = i;
        bestGain = gain;
      }
    });
    const [cell] = left.splice(best, 1);
    for (const v of axisValues(cell!)) seen.add(v);
    order.push(cell!);
  }
  return order;
}

/** Cells that can train together: the same teacher settings (one teacher), at most `max` per group. */
export function groupCells<C extends Pick<Cell, 'teacherKey' | 'coords'>>(
  cells: readonly C[],
  max = 8,
): C[][] {
  const groups: C[][] = [];
  for (const cell of cells) {
    const key = cellTeacherKey(cell);
    const open = groups.find((g) => cellTeacherKey(g[0]!) === key && g.length < max);
    if (open) open.push(cell);
    else groups.push([cell]);
  }
  return groups;
}

/**
 * Logit indices a filter lets through, for a model with `classes` class logits (10, or the size of
 * dataset.classes) then `aux` auxiliary ones.
 */
export function keptLogits(filter: Filter, auxLogits: number, classes: number): number[] {
  const total = classes + auxLogits;
  const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
  if (filter.keep === 'aux') return range(classes, total);
  if (filter.keep === 'class') return range(0, classes);
  if (filter.keep === 'all') return range(0, total);
  return [...filter.keep].sort((a, b) => a - b);
}

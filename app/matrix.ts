// Matrix expansion: trait x filter x architecture, each cell carrying the experiment's replicates.
// Replicates share seeds across cells (a paired design): replicate r starts from the same init in
// every cell, so differences between cells are not init luck.
import type { Architecture, ExperimentSpec, Filter, Trait } from './spec/schema.ts';

export interface CellCoords {
  trait: string;
  filter: string;
  architecture: string;
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
  const cells: Cell[] = [];
  for (const trait of spec.matrix.traits) {
    for (const filter of spec.matrix.filters) {
      for (const architecture of spec.matrix.architectures) {
        cells.push({
          index: cells.length,
          coords: {
            trait: traitLabel(trait),
            filter: filterLabel(filter),
            architecture: architectureLabel(architecture),
          },
          trait,
          filter,
          architecture,
          seeds: [...seeds],
        });
      }
    }
  }
  return cells;
}

/**
 * The order to run cells in so that early results give an early picture of the whole matrix:
 * greedily the cell that shows the most axis values not seen yet (ties by matrix order). Cells that
 * share a trait still come in runs where coverage allows, since each value is needed only once.
 */
export function scheduleOrder(cells: readonly Cell[]): Cell[] {
  const seen = { trait: new Set<string>(), filter: new Set<string>(), architecture: new Set<string>() };
  const left = [...cells];
  const order: Cell[] = [];
  while (left.length > 0) {
    let best = 0;
    let bestGain = -1;
    left.forEach((cell, i) => {
      const gain =
        Number(!seen.trait.has(cell.coords.trait)) +
        Number(!seen.filter.has(cell.coords.filter)) +
        Number(!seen.architecture.has(cell.coords.architecture));
      if (gain > bestGain) {
        best = i;
        bestGain = gain;
      }
    });
    const [cell] = left.splice(best, 1);
    seen.trait.add(cell!.coords.trait);
    seen.filter.add(cell!.coords.filter);
    seen.architecture.add(cell!.coords.architecture);
    order.push(cell!);
  }
  return order;
}

/** Cells that can train together: same trait (hence the same teacher), at most `max` per group. */
export function groupCells<C extends { coords: { trait: string } }>(cells: readonly C[], max = 8): C[][] {
  const groups: C[][] = [];
  for (const cell of cells) {
    const open = groups.find((g) => g[0]!.coords.trait === cell.coords.trait && g.length < max);
    if (open) open.push(cell);
    else groups.push([cell]);
  }
  return groups;
}

/** Logit indices a filter lets through, for a model with 10 class logits then `aux` auxiliary ones. */
export function keptLogits(filter: Filter, auxLogits: number): number[] {
  const total = 10 + auxLogits;
  const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
  if (filter.keep === 'aux') return range(10, total);
  if (filter.keep === 'class') return range(0, 10);
  if (filter.keep === 'all') return range(0, total);
  return [...filter.keep].sort((a, b) => a - b);
}

// A language run's progress rows (one per unit: one replicate of one cell, main/lm/run.ts), each in
// the phase its unit is in, with the step of its stage and its time left. A unit's time left is its
// stages still to run, estimated as app/estimate-language.ts does, times how much slower or faster
// this machine has been than that estimate on the stages that trained so far (a cached base trains
// nothing and says nothing about speed). The job's time left is the rows' laid out on the processes
// that run them (app/progress-rows.ts secondsLeft): one time-left story, as the classifier's.
import type { PhaseProgress } from './api.ts';
import { stackedStages, unitStageSeconds } from './estimate-language.ts';
import { stagePhase } from './language-stages.ts';
import { replicateSeeds } from './matrix.ts';
import { secondsLeft } from './progress-rows.ts';
import { expandLanguageMatrix, type LanguageSpec } from './spec/language.ts';

/** A planned unit, as the store holds it. */
export interface LanguageUnit {
  index: number;
  cells: readonly number[];
  replicates: readonly number[];
  status: string;
}

/** How many times a unit's models are evaluated (base and teacher together, then each fine-tuned model). */
const EVALUATIONS = 4;

interface UnitState {
  unit: LanguageUnit;
  /** Estimated seconds of each stage, and their sum. */
  weights: Record<string, number>;
  /** The stages a stacked "students" stage runs in one. */
  stacked: string[];
  total: number;
  /** Estimated seconds of the stages finished. */
  done: number;
  stage: string | null;
  /** When the current stage started (ms) and whether it has reported steps (it trains or samples). */
  since: number;
  stepped: boolean;
  step: number;
  totalSteps: number;
  finished: boolean;
}

export class LanguageProgress {
  private readonly units = new Map<number, UnitState>();
  /** Seconds taken and estimated by the finished stages that reported steps: this machine's speed. */
  private taken = 0;
  private estimated = 0;

  constructor(
    spec: LanguageSpec,
    units: readonly LanguageUnit[],
    private readonly lanes: number,
    private readonly now: () => number = Date.now,
  ) {
    const { cells } = expandLanguageMatrix(spec, replicateSeeds(spec));
    const seen = new Set<string>();
    for (const unit of [...units].sort((a, b) => a.index - b.index)) {
      const cell = cells[unit.cells[0]!];
      const weights = cell ? unitStageSeconds(cell, seen, unit.replicates[0]!) : {};
      const total = Object.values(weights).reduce((a, b) => a + b, 0);
      const finished = unit.status === 'done';
      this.units.set(unit.index, {
        unit,
        weights,
        stacked: cell ? stackedStages(cell) : [],
        total,
        done: finished ? total : 0,
        stage: null,
        since: 0,
        stepped: false,
        step: 0,
        totalSteps: 0,
        finished,
      });
    }
  }

  private weightOf(u: UnitState, stage: string): number {
    if (stage === 'students') return u.stacked.reduce((a, s) => a + (u.weights[s] ?? 0), 0);
    const w = u.weights[stage] ?? 0;
    return stage === 'evaluation' ? w / EVALUATIONS : w;
  }

  /** The current stage ends: its estimate counts as done, and its time as a measure of speed. */
  private endStage(u: UnitState): void {
    if (u.stage === null) return;
    const w = this.weightOf(u, u.stage);
    u.done = Math.min(u.total, u.done + w);
    if (u.stepped && w > 0) {
      this.taken += (this.now() - u.since) / 1000;
      this.estimated += w;
    }
  }

  stage(index: number, stage: string): void {
    const u = this.units.get(index);
    if (!u || u.finished) return;
    this.endStage(u);
    Object.assign(u, { stage, since: this.now(), stepped: false, step: 0, totalSteps: 0 });
  }

  step(index: number, step: number, totalSteps: number): void {
    const u = this.units.get(index);
    if (!u || u.finished || u.stage === null) return;
    Object.assign(u, { stepped: true, step, totalSteps });
  }

  finish(index: number): void {
    const u = this.units.get(index);
    if (!u || u.finished) return;
    this.endStage(u);
    Object.assign(u, { finished: true, done: u.total });
  }

  /** Fraction of the current stage done, by its steps (0 for a stage that reports none). */
  private fraction(u: UnitState): number {
    return u.stepped && u.totalSteps > 0 ? Math.min(1, u.step / u.totalSteps) : 0;
  }

  /** Seconds this machine takes per estimated second, from what has trained so far (1 before anything has). */
  speed(): number {
    let taken = this.taken;
    let estimated = this.estimated;
    for (const u of this.units.values()) {
      if (u.finished || u.stage === null || !u.stepped) continue;
      const part = this.weightOf(u, u.stage) * this.fraction(u);
      const seconds = (this.now() - u.since) / 1000;
      if (part <= 0 || seconds <= 0) continue;
      taken += seconds;
      estimated += part;
    }
    return estimated > 0 ? taken / estimated : 1;
  }

  rows(): PhaseProgress[] {
    const speed = this.speed();
    return [...this.units.values()].map((u) => {
      const current = u.stage === null || u.finished ? 0 : this.weightOf(u, u.stage) * this.fraction(u);
      const left = u.finished ? 0 : Math.max(0, u.total - u.done - current);
      return {
        cells: [...u.unit.cells],
        phase: u.stage === null ? 'pretrain' : stagePhase(u.stage),
        step: u.step,
        totalSteps: u.totalSteps,
        etaSeconds: left * speed,
        ...(u.stage === null && !u.finished ? { waiting: true } : {}),
        unit: { index: u.unit.index, replicate: u.unit.replicates[0]!, stage: u.stage, finished: u.finished },
      };
    });
  }

  /** The job's time left: the rows' on `lanes` processes. */
  secondsLeft(rows: readonly PhaseProgress[] = this.rows()): number | null {
    return secondsLeft(rows, this.lanes);
  }
}

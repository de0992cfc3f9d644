// The Designer's budget projection of an llm spec: asked of main (llm.project, the runner's budget
// guard's own code) a moment after the last edit, the newest answer kept (an older one arriving late
// is dropped), with this machine's price table (llm.prices, saved with llm.savePrices).
import type { Host } from '../../../app/api.ts';
import type { LlmLocalSettings, LlmProjection, PriceTable } from '../../../app/llm/projection.ts';

/** Wait after the last edit before projecting: a projection counts up to 5,000 prompts' tokens. */
const SETTLE_MS = 300;

export class LlmProjectionState {
  /** The newest answer, for the spec in `projected`. */
  projection = $state<LlmProjection | null>(null);
  /** The spec (as JSON) the shown projection is of. */
  projected = $state<string | null>(null);
  /** The spec (as JSON) asked for last; the projection is current when it equals `projected`. */
  wanted = $state<string | null>(null);
  /** Why the last projection or price load failed (the refusal is part of the projection instead). */
  error = $state<string | null>(null);
  settings = $state<LlmLocalSettings | null>(null);
  private timer: ReturnType<typeof setTimeout> | null = null;
  private asked = 0;

  constructor(private readonly host: Host) {}

  get current(): boolean {
    return this.wanted !== null && this.wanted === this.projected;
  }

  /** Projects `spec` once edits settle; the same spec again asks nothing. */
  request(spec: unknown): void {
    const json = JSON.stringify(spec);
    if (json === this.wanted) return;
    this.wanted = json;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.project(json), SETTLE_MS);
  }

  private async project(json: string): Promise<void> {
    this.timer = null;
    const ask = ++this.asked;
    try {
      const projection = await this.host.call('llm.project', { spec: JSON.parse(json) as unknown });
      if (ask !== this.asked) return;
      this.projection = projection;
      this.projected = json;
      this.error = null;
    } catch (error) {
      if (ask === this.asked) this.error = (error as Error).message;
    }
  }

  async loadPrices(): Promise<void> {
    try {
      this.settings = await this.host.call('llm.prices', null);
    } catch (error) {
      this.error = (error as Error).message;
    }
  }

  /** Saves the table to the local settings file, then projects the spec again at the new prices. */
  async savePrices(prices: PriceTable): Promise<void> {
    this.settings = await this.host.call('llm.savePrices', { prices });
    const json = this.wanted;
    if (json !== null) await this.project(json);
  }
}

import { TypedEmitter } from '../common/index.ts';
import type { TranscoderState } from './types.ts';

/**
 * The rule, pure: output idle for more than the stall timeout while running is
 * a stall (`stalled`: ask for a keyframe); advancing again while stalled is
 * `resumed`; idle for more than twice the timeout while stalled is `stuck`
 * (restart). Nothing otherwise, and nothing outside running and stalled.
 */
export function stallVerdict(state: TranscoderState, idleMs: number, stallTimeoutMs: number): 'stalled' | 'resumed' | 'stuck' | undefined {
  if (state === 'running' && idleMs > stallTimeoutMs) return 'stalled';
  if (state === 'stalled' && idleMs <= stallTimeoutMs) return 'resumed';
  if (state === 'stalled' && idleMs > 2 * stallTimeoutMs) return 'stuck';
  return undefined;
}

/** What the watchdog looks at each check; undefined when there is nothing to watch (no running output). */
export interface StallProbe {
  readonly state: TranscoderState;
  /** When the output last advanced, ms since the epoch. */
  readonly lastAdvanceAt: number;
}

export type StallWatchdogEvents = {
  /** Running, and the output has not advanced for longer than the stall timeout. */
  stalled: [idleMs: number];
  /** Stalled, and the output advanced again. */
  resumed: [];
  /** Stalled for longer than twice the stall timeout. */
  stuck: [idleMs: number];
};

/** Checks the output four times per stall timeout (at least every 50 ms) and says what `stallVerdict` finds. */
export class StallWatchdog extends TypedEmitter<StallWatchdogEvents> {
  readonly #stallTimeoutMs: number;
  readonly #probe: () => StallProbe | undefined;
  #timer?: NodeJS.Timeout;

  constructor(stallTimeoutMs: number, probe: () => StallProbe | undefined) {
    super();
    this.#stallTimeoutMs = stallTimeoutMs;
    this.#probe = probe;
  }

  start(): void {
    clearInterval(this.#timer);
    this.#timer = setInterval(() => this.#check(), Math.max(50, Math.floor(this.#stallTimeoutMs / 4)));
  }

  /** Safe twice. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #check(): void {
    const probe = this.#probe();
    if (!probe) return;
    const idle = Date.now() - probe.lastAdvanceAt;
    const verdict = stallVerdict(probe.state, idle, this.#stallTimeoutMs);
    if (verdict === 'resumed') this.emit('resumed');
    else if (verdict) this.emit(verdict, idle);
  }
}

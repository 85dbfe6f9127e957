/**
 * The timeline of one broadcast (timeline.ts has the pure rules): its events
 * in time order, each id once.
 */
import type { HlsDateRange } from './hls.ts';
import { checkTimelineEvent, timelineDateRanges, type TimelineEvent } from './timeline.ts';

/** Window starts whose date ranges are kept (see #ranges). */
const RANGES_KEPT = 16;

export class BroadcastTimeline {
  /** Speaker turns, hosts joining and leaving, layouts: in time order. */
  readonly #events: TimelineEvent[] = [];
  /**
   * Date ranges by the window start they were built for, while the events stay
   * as they are (add clears them). Each playlist build asks (every part, on
   * every track) and the answer changes only when a window's first segment or
   * the events do; a few windows are current at once (each track's, live and
   * stored), so the oldest start goes first past a handful.
   */
  readonly #ranges = new Map<number, readonly HlsDateRange[]>();

  get events(): readonly TimelineEvent[] {
    return this.#events;
  }

  /** Checks an event and places it in time order (after those of the same time). TypeError on a malformed event or a duplicate id. */
  add(event: TimelineEvent): TimelineEvent {
    const e = checkTimelineEvent(event);
    if (this.#events.some((x) => x.id === e.id)) throw new TypeError(`duplicate timeline event id ${e.id}`);
    let i = this.#events.length;
    while (i > 0 && this.#events[i - 1]!.at > e.at) i--;
    this.#events.splice(i, 0, e);
    this.#ranges.clear();
    return e;
  }

  /** The EXT-X-DATERANGEs of a media playlist whose first segment starts at `fromMs` (the same array until either changes). */
  dateRanges(fromMs: number): readonly HlsDateRange[] {
    let ranges = this.#ranges.get(fromMs);
    if (!ranges) {
      ranges = timelineDateRanges(this.#events, fromMs);
      if (this.#ranges.size >= RANGES_KEPT) this.#ranges.delete(this.#ranges.keys().next().value!);
      this.#ranges.set(fromMs, ranges);
    }
    return ranges;
  }
}

/**
 * The timeline of one broadcast (timeline.ts has the pure rules): its events
 * in time order, each id once.
 */
import type { HlsDateRange } from './hls.ts';
import { checkTimelineEvent, timelineDateRanges, type TimelineEvent } from './timeline.ts';

export class BroadcastTimeline {
  /** Speaker turns, hosts joining and leaving, layouts: in time order. */
  readonly #events: TimelineEvent[] = [];

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
    return e;
  }

  /** The EXT-X-DATERANGEs of a media playlist whose first segment starts at `fromMs`. */
  dateRanges(fromMs: number): readonly HlsDateRange[] {
    return timelineDateRanges(this.#events, fromMs);
  }
}

// The viewer's stalls, read where a user sees them: from 'waiting' until 'playing'
// on the video element. Installed in the page once; read as often as needed.
import type { Page } from 'playwright-core';

type StallRecord = { events: number; waits: number[]; since?: number };

/** Starts recording the page's waits (replacing any earlier record). */
export async function watchStalls(page: Page): Promise<void> {
  await page.evaluate(() => {
    const r: StallRecord = { events: 0, waits: [] };
    (window as unknown as { __stalls: StallRecord }).__stalls = r;
    const v = document.getElementById('video')!;
    v.addEventListener('waiting', () => {
      r.events++;
      r.since ??= performance.now();
    });
    v.addEventListener('playing', () => {
      if (r.since !== undefined) r.waits.push(performance.now() - r.since);
      r.since = undefined;
    });
  });
}

export interface StallStats {
  /** 'waiting' events fired. */
  events: number;
  /** Waits of at least `minMs` (one still going counts). */
  stalls: number;
  /** Shorter waits: no frame late, nothing a viewer sees. */
  blips: number;
  /** Time spent waiting in all, the ongoing wait included, ms. */
  stalledMs: number;
}

/** What `watchStalls` recorded so far; a wait shorter than `minMs` is a blip, not a stall. */
export async function stallStats(page: Page, minMs = 50): Promise<StallStats> {
  return page.evaluate((min) => {
    const r = (window as unknown as { __stalls: StallRecord }).__stalls;
    const ongoing = r.since === undefined ? 0 : performance.now() - r.since;
    const long = r.waits.filter((ms) => ms >= min).length;
    return {
      events: r.events,
      stalls: long + (ongoing >= min ? 1 : 0),
      blips: r.waits.length - long,
      stalledMs: r.waits.reduce((a, b) => a + b, 0) + ongoing,
    };
  }, minMs);
}

// Holding the live target over hls.js: the controller our viewer page runs and
// embedding sites attach to their own hls.js instance (shipped as
// /watch/stagecast.js). It imports nothing from hls.js at run time, so a site's
// own hls.js (any 1.x with `latency`/`targetLatency`/`liveSyncPosition`) is used.
//
// Why our own: hls.js 1.7 speeds up only while more than 1 s is buffered ahead
// and may start well behind its target, so on its own it sits half a second or
// more behind for good. This controller plays faster (up to `maxPlaybackRate`)
// while behind and while more than `minBufferAhead` is buffered, which never
// starves the buffer; only when far behind (after a long stall) does it seek,
// and only into what is already buffered.

/** How the controller catches up. Seconds unless said otherwise. */
export interface CatchUpSettings {
  /** Fastest playback rate while behind the target. */
  maxPlaybackRate: number;
  /** Speeds up only while at least this much is buffered ahead of the playhead. */
  minBufferAhead: number;
  /** Further behind the target than this, it seeks to hls.js's live sync position when that is buffered. */
  seekWhenBehind: number;
}

export const DEFAULT_CATCH_UP: Readonly<CatchUpSettings> = { maxPlaybackRate: 1.5, minBufferAhead: 0.3, seekWhenBehind: 2 };

/** What one step looks at: the player's and the media element's state at that moment. */
export interface PlayerSample {
  live: boolean;
  paused: boolean;
  seeking: boolean;
  /** hls.js's estimate of the distance to the live edge (s). */
  latency: number;
  targetLatency: number | null;
  liveSyncPosition: number | null;
  currentTime: number;
  playbackRate: number;
  /** The last buffered range, where new media arrives; undefined when nothing is buffered. */
  buffered: { start: number; end: number } | undefined;
}

export type CatchUpAction = { seekTo: number } | { playbackRate: number } | undefined;

/** Playback rates closer than this to the one wanted are left alone (no churn of ratechange events). */
const RATE_TOLERANCE = 0.01;
/** Behind by less than this counts as on target. */
const ON_TARGET_S = 0.05;

/** One step of the controller: what to change now, if anything. Pure, so tests drive it directly. */
export function catchUpStep(s: PlayerSample, settings: CatchUpSettings = DEFAULT_CATCH_UP): CatchUpAction {
  if (!s.live || s.paused || s.seeking) return undefined;
  if (s.targetLatency === null || !Number.isFinite(s.latency)) return undefined;
  const behind = s.latency - s.targetLatency;
  const start = s.buffered?.start ?? 0;
  const end = s.buffered?.end ?? 0;
  const ahead = end - s.currentTime;
  const sync = s.liveSyncPosition;
  if (behind > settings.seekWhenBehind && sync !== null && sync >= start && sync <= end - settings.minBufferAhead) return { seekTo: sync };
  // The excess latency drains at (rate - 1) s per s, so 1 + behind catches up within about a second when not capped.
  const rate = behind > ON_TARGET_S && ahead > settings.minBufferAhead ? Math.min(settings.maxPlaybackRate, 1 + behind) : 1;
  return Math.abs(s.playbackRate - rate) > RATE_TOLERANCE ? { playbackRate: rate } : undefined;
}

/**
 * The part of an hls.js instance the controller uses. Declared here rather
 * than taken from our hls.js's types so any hls.js 1.x instance fits.
 */
export interface HlsLike {
  readonly latency: number;
  readonly targetLatency: number | null;
  readonly liveSyncPosition: number | null;
  readonly media: HTMLMediaElement | null;
  /** hls.js ≥ 1.6; older versions are read through `levels[currentLevel].details`. */
  readonly latestLevelDetails?: { readonly live: boolean } | null;
  readonly levels?: readonly { readonly details?: { readonly live: boolean } }[];
  readonly currentLevel?: number;
  readonly config: { maxLiveSyncPlaybackRate: number };
  on(event: string, listener: () => void): void;
  off(event: string, listener: () => void): void;
}

export interface LatencyControllerOptions extends Partial<CatchUpSettings> {
  /** How often the controller looks (ms). */
  intervalMs?: number;
}

export interface LatencyController {
  /** Stops the controller; puts the playback rate back to 1 and hls.js's own catch-up setting back as it was. */
  detach(): void;
  /** Seeks made so far to recover from being far behind. */
  readonly seeks: number;
  /** Whether the controller is currently playing faster than real time. */
  readonly catchingUp: boolean;
}

// Hls.Events.DESTROYING in every hls.js 1.x; by value so no hls.js is imported.
const DESTROYING = 'hlsDestroying';

function sample(hls: HlsLike, video: HTMLMediaElement): PlayerSample {
  const details = hls.latestLevelDetails ?? hls.levels?.[hls.currentLevel ?? -1]?.details;
  const b = video.buffered;
  return {
    live: details?.live ?? false,
    paused: video.paused,
    seeking: video.seeking,
    latency: hls.latency,
    targetLatency: hls.targetLatency,
    liveSyncPosition: hls.liveSyncPosition,
    currentTime: video.currentTime,
    playbackRate: video.playbackRate,
    buffered: b.length ? { start: b.start(b.length - 1), end: b.end(b.length - 1) } : undefined,
  };
}

/**
 * Attaches the controller to a site's hls.js instance playing into `video`
 * (call it right after `new Hls(...)`, before or after attachMedia). It turns
 * hls.js's own playback-rate catch-up off (`maxLiveSyncPlaybackRate` = 1):
 * two controllers setting one playback rate would fight. It detaches itself
 * when the hls.js instance is destroyed.
 */
export function attachLatencyController(hls: HlsLike, video: HTMLMediaElement, options: LatencyControllerOptions = {}): LatencyController {
  const settings: CatchUpSettings = {
    maxPlaybackRate: options.maxPlaybackRate ?? DEFAULT_CATCH_UP.maxPlaybackRate,
    minBufferAhead: options.minBufferAhead ?? DEFAULT_CATCH_UP.minBufferAhead,
    seekWhenBehind: options.seekWhenBehind ?? DEFAULT_CATCH_UP.seekWhenBehind,
  };
  const hlsOwnRate = hls.config.maxLiveSyncPlaybackRate;
  hls.config.maxLiveSyncPlaybackRate = 1;
  let seeks = 0;
  let catchingUp = false;
  const tick = () => {
    // Another element attached to this hls.js (or none): not ours to steer.
    if (hls.media !== video) return;
    const action = catchUpStep(sample(hls, video), settings);
    if (!action) return;
    if ('seekTo' in action) {
      video.currentTime = action.seekTo;
      seeks++;
    } else {
      video.playbackRate = action.playbackRate;
      catchingUp = action.playbackRate > 1;
    }
  };
  const timer = setInterval(tick, options.intervalMs ?? 250);
  let detached = false;
  const detach = () => {
    if (detached) return;
    detached = true;
    clearInterval(timer);
    hls.off(DESTROYING, detach);
    hls.config.maxLiveSyncPlaybackRate = hlsOwnRate;
    if (catchingUp) video.playbackRate = 1;
    catchingUp = false;
  };
  hls.on(DESTROYING, detach);
  return {
    detach,
    get seeks() {
      return seeks;
    },
    get catchingUp() {
      return catchingUp;
    },
  };
}

import { z } from 'zod';

/**
 * Retry policy as plain data (the shape of hls.js `RetryConfig`). Only
 * transient failures are retried (see storeErrors.ts); a refusal is reported
 * at once.
 */
export const retryPolicySchema = z.object({
  /**
   * Retries after the first attempt; 0 disables retrying. 16 with the defaults
   * below ride out a store outage of at least 30.6 s (up to 61.2 s: equal
   * jitter draws each delay between half and all of its nominal 0.2, 0.4 … 5 s),
   * the ~31 s the policy covered before jitter.
   */
  maxRetries: z.number().int().min(0).default(16),
  /** Nominal delay before the first retry. */
  delayMs: z.number().int().min(0).default(200),
  /** Upper bound of one delay. */
  maxDelayMs: z.number().int().min(0).default(5_000),
  /** Multiplier applied to the nominal delay after each failed attempt. */
  backoffFactor: z.number().min(1).default(2),
  /**
   * How each delay is drawn from its nominal value d (AWS Architecture Blog,
   * "Exponential Backoff And Jitter"): `equal` uniform in [d/2, d], `full` in
   * [0, d], `none` exactly d. Without jitter every track retries at the same
   * instants after an outage and the recovering store gets them all at once.
   * `equal` is the default because the retry budget is bounded: it keeps at
   * least half the nominal span, so maxRetries still covers a known outage.
   */
  jitter: z.enum(['equal', 'full', 'none']).default('equal'),
});
export type RetryPolicy = z.infer<typeof retryPolicySchema>;

/**
 * Packager configuration. Defaults follow the timing model in DESIGN.md:
 * FFmpeg cuts a fragment (= one LL-HLS part) every 200 ms and forces a keyframe
 * every 1 s (= one segment).
 */
export const packagerConfigSchema = z.object({
  /**
   * EXT-X-PART-INF PART-TARGET, ms. 220: video parts are 200 ms (6 frames at
   * 30 fps) and audio parts are the whole AAC frames that fit (192 ms), so every
   * part is ≤ 220 and non-independent non-last video parts (200 ms) are ≥ 85 %
   * of it (187 ms). In the app it is derived from the transcoder's part
   * duration and frame rate when unset (app/config.ts).
   */
  partTargetMs: z.number().int().min(50).max(5_000).default(220),
  /**
   * Nominal segment duration, ms (the encoder's keyframe interval; in the app it
   * follows transcode.segmentDurationMs, and a different value is refused).
   * 1 s keeps TARGETDURATION at 1 while segments keep to it (a longer segment,
   * a publisher's long GOP in passthrough, raises it: it is the longest
   * segment's rounded duration), so HOLD-BACK (3 s) and joins stay short; the
   * cost is one keyframe per second. Video segments are cut on keyframes; audio
   * segments are cut on the same time grid so they line up with video.
   */
  segmentTargetMs: z.number().int().min(200).max(30_000).default(1_000),
  /** Length of the live playlist / MPD window, and of the media kept in memory, ms. */
  liveWindowMs: z.number().int().min(2_000).default(12_000),
  /** DVR window, ms: when larger than liveWindowMs, playlists list this much and older media is served from the store. 0 = off. */
  dvrWindowMs: z.number().int().min(0).default(0),
  /** Parts are listed only on segments this many target durations from the live edge (spec: about 3). */
  partListTargetDurations: z.number().int().min(1).default(3),
  /** Longest wait of a blocking playlist reload or a preload-hinted part, ms. */
  blockingTimeoutMs: z.number().int().min(100).default(3_000),
  /** A timestamp jump larger than this (or backwards) starts a discontinuity, ms. */
  maxTimestampGapMs: z.number().int().min(100).default(1_000),
  /** Largest CMAF box accepted from ingest, bytes; a bigger claim fails the track. */
  maxBoxBytes: z.number().int().min(1024).default(16 * 1024 * 1024),
  /** Segments whose metadata is kept for the VOD playlist after the event (24 h of 1 s segments). */
  maxRetainedSegments: z.number().int().min(10).default(86_400),
  /**
   * DASH ServiceDescription: the latency a player should hold (Latency
   * target/min/max, ms, as players count it: wall clock − media time on
   * availabilityStartTime's clock) and how far it may change its playback rate
   * to hold it. dash.js with default settings steers by exactly these (it
   * seeks once it drifts more than max − target + 0.5 s). 1.2 s sits a second
   * above the newest chunk (our chunks are 200 ms and the segment in progress
   * is streamed), so a default dash.js plays about 1.6 s glass to glass.
   */
  dashLatency: z
    .object({
      targetMs: z.number().int().min(200).default(1_200),
      minMs: z.number().int().min(0).default(800),
      maxMs: z.number().int().min(200).default(3_000),
      minPlaybackRate: z.number().min(0.5).max(1).default(0.9),
      maxPlaybackRate: z.number().min(1).max(2).default(1.1),
    })
    .refine((l) => l.minMs <= l.targetMs && l.targetMs <= l.maxMs, { message: 'needs minMs ≤ targetMs ≤ maxMs' })
    .default({ targetMs: 1_200, minMs: 800, maxMs: 3_000, minPlaybackRate: 0.9, maxPlaybackRate: 1.1 }),
  /**
   * Bound on media uploads (init segments, segments) waiting or in flight. A
   * media upload that does not fit is dropped and reported (`queueFull`, logged,
   * `publisher.dropped`); store manifests mark it EXT-X-GAP. Manifests are
   * coalesced per key and not counted. 500 ≈ 2.5 min of 1 s segments for 3 tracks.
   */
  uploadQueueMax: z.number().int().min(1).default(500),
  /** Bound on the bytes of media uploads waiting or in flight (same rule as uploadQueueMax). */
  uploadQueueMaxBytes: z.number().int().min(1024).default(256 * 1024 * 1024),
  /**
   * How long `close()` (the process shutting down) waits for pending uploads,
   * ms. Whatever is still queued then is given up and logged with its count: a
   * store that is down cannot hold a shutdown forever.
   */
  closeDrainTimeoutMs: z.number().int().min(0).default(30_000),
  /** Uploads in flight at once. */
  uploadConcurrency: z.number().int().min(1).max(64).default(4),
  /** Retry policy for object-store uploads (transient errors only: 5xx, throttling, timeouts, network). */
  uploadRetry: retryPolicySchema.default(retryPolicySchema.parse({})),
  /**
   * Create a broadcast on the first HTTP ingest request for an unknown id.
   * Off by default: creating a broadcast is the control plane's job
   * (`packager.createBroadcast()`); an unknown id is then 404.
   */
  autoCreateBroadcasts: z.boolean().default(false),
  /**
   * Bearer token the ingest router requires (`Authorization: Bearer <token>`),
   * compared in constant time; 401 without it. Unset = no token check (keep
   * the ingest listener private then).
   */
  ingestToken: z.string().min(16).optional(),
  /**
   * The live captions rendition (packager/captions.ts): a WebVTT subtitle
   * rendition in HLS and DASH that cues posted to the broadcast fill. When on,
   * it is listed whether or not cues come, so a player that loaded the
   * multivariant playlist before the first cue still has it. Off by default:
   * GStreamer 1.22's hlsdemux2 and dashdemux2 (Debian 12) stop in buffering
   * when the rendition is there (test/e2e/players.browser.test.ts), so an
   * event turns it on when it has captioning.
   */
  captions: z
    .object({
      enabled: z.boolean().default(false),
      /** BCP 47 language of the captions (HLS LANGUAGE, DASH lang). */
      language: z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$/).default('en'),
      /** Name players show in their captions menu. */
      name: z.string().min(1).max(64).default('Captions'),
    })
    .default({ enabled: false, language: 'en', name: 'Captions' }),
});

export type PackagerConfig = z.infer<typeof packagerConfigSchema>;
export type PackagerConfigInput = z.input<typeof packagerConfigSchema>;

/** Validates once; an error names the offending key. */
export function parsePackagerConfig(input: PackagerConfigInput = {}): PackagerConfig {
  const result = packagerConfigSchema.safeParse(input);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new TypeError(`invalid packager config: ${issues}`);
  }
  return result.data;
}

/** TARGETDURATION the configured segment target gives (at least 1): the floor of every live playlist's. */
export function configuredTargetDuration(config: PackagerConfig): number {
  return Math.max(1, Math.round(config.segmentTargetMs / 1000));
}

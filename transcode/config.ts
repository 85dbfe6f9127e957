import { z } from 'zod';
import { InputError } from '../common/index.ts';

/**
 * The transcode stage's configuration: one schema, defaults documented on each
 * field, validated once at start-up (`parseTranscodeConfig`). Nothing here reads
 * the environment; `main` hands the parsed object down.
 */

/** libx264 presets, fastest first. */
export const X264_PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium'] as const;

export const rungSchema = z.object({
  /** Rung name; the CMAF track id is `video-<name>`. Lower-case letters and digits. */
  name: z.string().regex(/^[a-z0-9]+$/, 'lower-case letters and digits only'),
  /** Output height in pixels (width follows the source aspect ratio, rounded to even). */
  height: z.number().int().min(64).max(4320),
  /** Target video bitrate in kbit/s (also the VBV max rate; buffer = one segment). */
  bitrateKbps: z.number().int().min(50).max(50_000),
});
export type Rung = z.infer<typeof rungSchema>;

/**
 * Named ladders. `hd` (720p + 360p) is the default: at `veryfast` it costs about
 * 0.8 CPU-s per media-s on a 2-core machine, real time with headroom. `fullhd`
 * (1080p/720p/360p) needs about 3 cores at `veryfast`; pick it on bigger hosts.
 */
export const LADDER_PRESETS = {
  sd: [{ name: '360p', height: 360, bitrateKbps: 800 }],
  hd: [
    { name: '720p', height: 720, bitrateKbps: 2500 },
    { name: '360p', height: 360, bitrateKbps: 800 },
  ],
  fullhd: [
    { name: '1080p', height: 1080, bitrateKbps: 4500 },
    { name: '720p', height: 720, bitrateKbps: 2500 },
    { name: '360p', height: 360, bitrateKbps: 800 },
  ],
} as const satisfies Record<string, readonly Rung[]>;
export type LadderPresetName = keyof typeof LADDER_PRESETS;

const retrySchema = z.object({
  /** Consecutive failed (re)starts before the transcoder gives up and stops. */
  maxRetries: z.number().int().min(0).default(5),
  /** Delay before the first restart, in ms. */
  delayMs: z.number().int().min(0).default(100),
  /** Upper bound of the restart delay, in ms. */
  maxDelayMs: z.number().int().min(0).default(5000),
  /** Multiplier applied to the delay after each consecutive failure. */
  backoff: z.number().min(1).default(2),
});
export type RetryConfig = z.infer<typeof retrySchema>;

export const transcodeConfigSchema = z
  .object({
    /** FFmpeg binary: a path, or a name looked up in PATH. */
    ffmpegPath: z.string().min(1).default('/usr/bin/ffmpeg'),
    /**
     * `ladder` re-encodes video into the ladder; `passthrough` copies H.264 video
     * as it arrives (keyframes then come from the publisher); `simulcast` copies
     * each simulcast layer of an H.264 host into a rendition of its own (the
     * publisher's layers are the ladder, nothing is encoded while one such host
     * fills the frame); `auto` takes `simulcast` when the first program is one
     * H.264 simulcast host, `passthrough` for one H.264 host, and re-encodes
     * anything else. Audio is always Opus → AAC-LC.
     */
    mode: z.enum(['ladder', 'passthrough', 'simulcast', 'auto']).default('ladder'),
    /** Segment duration in ms: keyframes are forced at every multiple of it. */
    segmentDurationMs: z.number().int().min(200).max(10_000).default(1000),
    /** Part duration in ms: each CMAF fragment (moof+mdat) is one LL-HLS part. */
    partDurationMs: z.number().int().min(50).max(2000).default(200),
    /** Output frame rate of every rung (constant; the GOP is segment × fps frames). */
    fps: z.number().int().min(1).max(60).default(30),
    /** A named ladder (`sd`, `hd`, `fullhd`) or an explicit list of rungs, highest first. */
    ladder: z.union([z.enum(Object.keys(LADDER_PRESETS) as [LadderPresetName, ...LadderPresetName[]]), z.array(rungSchema).min(1)]).default('hd'),
    /** libx264 preset for every rung (`-tune zerolatency` always). */
    x264Preset: z.enum(X264_PRESETS).default('veryfast'),
    /** Encoder threads per rung (0 = libx264 decides). */
    threads: z.number().int().min(0).max(64).default(0),
    /** Rung name used for the copied video track in passthrough (`video-<name>`). */
    passthroughName: z.string().regex(/^[a-z0-9]+$/).default('source'),
    thumbnails: z
      .object({
        /**
         * One JPEG per segment from the encoded program (the filter graph FFmpeg
         * already runs: no second decode), for seek-bar previews and a poster.
         * Copied video (passthrough, simulcast) is never decoded, so it has none.
         */
        enabled: z.boolean().default(true),
        /** Thumbnail height in pixels (the width keeps the program's 16:9). */
        height: z.number().int().min(36).max(720).default(180),
        /** JPEG quantiser (FFmpeg `-q:v`, 2 best … 31 smallest). */
        quality: z.number().int().min(2).max(31).default(5),
      })
      .prefault({}),
    audio: z
      .object({
        /** AAC-LC bitrate in kbit/s (48 kHz stereo). */
        bitrateKbps: z.number().int().min(16).max(512).default(128),
      })
      .prefault({}),
    input: z
      .object({
        /**
         * Upper bound of the bytes FFmpeg reads to find the streams' parameters. It stops
         * as soon as it has them (after the first keyframe, which we request), so the
         * bound only matters when no keyframe comes: big enough to hold one GOP's worth
         * of delta frames before the requested keyframe (H.264 copy fails without one).
         */
        probeSize: z.number().int().min(32).default(1_000_000),
        /** Upper bound of the time FFmpeg analyses the input before starting, in ms (see probeSize). */
        analyzeDurationMs: z.number().int().min(0).default(1500),
        /** RTP reorder buffer depth in ms (FFmpeg's default is 100 ms: a direct latency cost). */
        maxDelayMs: z.number().int().min(0).default(50),
        /** RTP reorder queue, in packets (FFmpeg's default is 500). */
        reorderQueueSize: z.number().int().min(0).default(64),
      })
      .prefault({}),
    output: z
      .object({
        /** FFmpeg's HTTP read/write timeout toward the packager, in ms. */
        httpTimeoutMs: z.number().int().min(100).default(5000),
      })
      .prefault({}),
    supervision: z
      .object({
        /** How long a (re)start may take to produce output before it counts as failed, in ms. */
        startTimeoutMs: z.number().int().min(100).default(10_000),
        /** Output not advancing for this long marks the process stalled (then restarted after as long again), in ms. */
        stallTimeoutMs: z.number().int().min(100).default(3000),
        /** Time between SIGTERM and SIGKILL, in ms. */
        killGraceMs: z.number().int().min(0).default(3000),
        /** stderr lines kept in the ring buffer (attached to failures). */
        stderrLines: z.number().int().min(1).max(10_000).default(200),
        /** FFmpeg's stats period (progress events), in ms. */
        statsPeriodMs: z.number().int().min(100).default(250),
        /**
         * Keep the next run's FFmpeg spawned and waiting for its SDP on stdin (no port
         * bound, nothing opened), so a restart skips process start-up (~0.1–0.5 s).
         */
        warmStandby: z.boolean().default(true),
        restart: retrySchema.prefault({}),
        /**
         * FFmpeg sends no PLI for H.264: when its stderr reports a damaged picture
         * (`error while decoding`, `concealing`, `Missing reference`, `RTP: missed`…),
         * ask the SFU for a keyframe, at most once per `minIntervalMs`.
         */
        keyframeOnDecodeError: z
          .object({ enabled: z.boolean().default(true), minIntervalMs: z.number().int().min(0).default(500) })
          .prefault({}),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    if (c.segmentDurationMs % c.partDurationMs !== 0) {
      ctx.addIssue({ code: 'custom', path: ['partDurationMs'], message: 'must divide segmentDurationMs' });
    }
    if (((c.segmentDurationMs * c.fps) % 1000) !== 0) {
      ctx.addIssue({ code: 'custom', path: ['segmentDurationMs'], message: 'must hold a whole number of frames at fps' });
    }
    if (Array.isArray(c.ladder)) {
      const names = new Set(c.ladder.map((r) => r.name));
      if (names.size !== c.ladder.length) ctx.addIssue({ code: 'custom', path: ['ladder'], message: 'rung names must be unique' });
    }
  });

export type TranscodeConfig = z.infer<typeof transcodeConfigSchema>;
export type TranscodeConfigInput = z.input<typeof transcodeConfigSchema>;

/** Validates once; the error names every offending key (`transcode.<path>`). */
export function parseTranscodeConfig(input: unknown = {}): TranscodeConfig {
  const result = transcodeConfigSchema.safeParse(input);
  if (!result.success) {
    const details = result.error.issues.map((i) => `transcode.${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new InputError('invalid-config', `invalid transcode config: ${details}`);
  }
  return result.data;
}

/** The rungs of a config's ladder, highest first. */
export function ladderRungs(config: TranscodeConfig): Rung[] {
  const rungs = typeof config.ladder === 'string' ? LADDER_PRESETS[config.ladder] : config.ladder;
  return [...rungs].sort((a, b) => b.height - a.height);
}

/**
 * The rungs to encode for a source: none above the source height. A source
 * smaller than every rung gets the lowest rung only (its scaler never upscales).
 * An unknown source height keeps every rung; the scale filter still clamps each
 * to the source height at run time (`min(h, ih)`).
 */
export function selectRungs(rungs: readonly Rung[], sourceHeight?: number): Rung[] {
  if (sourceHeight === undefined) return [...rungs];
  const fit = rungs.filter((r) => r.height <= sourceHeight);
  if (fit.length > 0) return fit;
  const lowest = rungs.at(-1);
  return lowest ? [lowest] : [];
}

import type { Writable } from 'node:stream';

/** One CMAF track transcode produces (`video-<rung>` or `audio`). */
export interface TrackInfo {
  readonly trackId: string;
  readonly kind: 'video' | 'audio';
  readonly codec: 'h264' | 'aac';
  /** Video copied from the publisher without re-encoding. */
  readonly passthrough: boolean;
  /** Fragment (part) duration FFmpeg is asked for, in µs. */
  readonly fragmentDurationUs: number;
  /** Target height of a ladder rung (never above the source). */
  readonly height?: number;
  readonly bitrateKbps?: number;
}

/**
 * Where the CMAF tracks go: the packager's HTTP ingest (FFmpeg PUTs each track
 * straight to `urlFor(trackId)`, chunked, one request per track and run) ...
 */
export interface HttpCmafSink {
  readonly kind: 'http';
  urlFor(trackId: string): string;
}

/**
 * ... or a packager in the same process: `openTrack` is called once per track
 * and FFmpeg run; the stream receives FFmpeg's CMAF bytes as they come
 * (init segment, then moof+mdat fragments, in any chunking; the sink frames
 * them). It is `end()`ed when the run ends, and `destroy()`ed when it was
 * cut off (FFmpeg died mid-write): the sink then keeps the whole boxes and drops
 * the partial one. A new call for the same track id is a new run (a
 * discontinuity); `run` is the FFmpeg run number, the same for every
 * track of one run.
 */
export interface StreamCmafSink {
  readonly kind: 'stream';
  openTrack(trackId: string, run: number): Writable;
  /**
   * A thumbnail of the encoded program (config `thumbnails`): the `index`-th of
   * the run, showing media time `index` × segment duration; JPEG bytes.
   * Without it, FFmpeg makes none.
   */
  thumbnail?(run: number, index: number, jpeg: Buffer): void;
}

export type CmafSink = HttpCmafSink | StreamCmafSink;

/**
 * Where FFmpeg sends an RTP copy of the program for WebRTC (WHEP) viewers: the
 * top rung's picture (H.264 constrained baseline, or the host's copied video)
 * and the mixed audio as Opus, to a relay (transcode/rtpReturn.ts) that passes
 * one run's packets on to the SFU. Each run sends under its own SSRCs,
 * so the relay tells the runs of a make-before-break restart apart.
 */
export interface RtpReturnTarget {
  readonly address: string;
  readonly video: { readonly port: number; readonly payloadType: number };
  readonly audio: { readonly port: number; readonly payloadType: number };
  /** The SSRC a run sends this kind under. */
  ssrcFor(run: number, kind: 'video' | 'audio'): number;
}

/** Asks the SFU for a keyframe (ingest's consumer.requestKeyFrame(), wired by the caller). */
export interface KeyframeRequester {
  requestKeyFrame(): Promise<void> | void;
}

export type TranscoderState = 'starting' | 'running' | 'stalled' | 'restarting' | 'stopped';

/** Parsed from FFmpeg's stats line. */
export interface TranscodeProgress {
  readonly frames?: number;
  readonly fps?: number;
  /** Output media time in ms (`time=`). */
  readonly outTimeMs?: number;
  /** Output bitrate of the first output, kbit/s. */
  readonly bitrateKbps?: number;
  /** Media seconds per wall-clock second. */
  readonly speed?: number;
  readonly dup?: number;
  readonly drop?: number;
}

/** Why an FFmpeg process ended. */
export interface ExitInfo {
  readonly run: number;
  readonly pid: number | undefined;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Whether we asked it to stop (close or a supervised restart). */
  readonly requested: boolean;
}

export type TranscoderEvents = {
  /** Every state change. */
  state: [state: TranscoderState, previous: TranscoderState];
  /**
   * An FFmpeg process was spawned for a run (counted from 1; each is a new CMAF
   * run). A `standby` one waits for its SDP until a restart activates it.
   */
  spawn: [info: { run: number; pid: number; standby: boolean; args: string[] }];
  progress: [progress: TranscodeProgress];
  /** A restart is scheduled. */
  restart: [info: { attempt: number; delayMs: number; reason: string }];
  exit: [info: ExitInfo];
  /**
   * FFmpeg reported a damaged picture (lost/reordered RTP); `keyframeRequested`
   * when this one led to a keyframe request (rate-limited), with the running totals.
   */
  decodeError: [info: { line: string; keyframeRequested: boolean; decodeErrors: number; keyframeRequests: number }];
  /** Gave up (retries exhausted) or died unexpectedly; the transcoder is stopped. */
  died: [error: Error];
};

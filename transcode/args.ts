import { Readable } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';
import type { Rung, TranscodeConfig } from './config.ts';
import type { TrackInfo } from './types.ts';

/** AAC-LC frames are 1024 samples: 21.33 ms at 48 kHz. */
const AAC_FRAME_SAMPLES = 1024;
const AUDIO_RATE = 48_000;

/** One FFmpeg output: a CMAF track pushed to `target`. */
export interface PlannedOutput {
  readonly track: TrackInfo;
  readonly target: string;
  readonly options: readonly string[];
}

/** One FFmpeg output that is not a CMAF track: the program's RTP copy for WebRTC viewers. */
export interface PlannedRtpOutput {
  readonly kind: 'video' | 'audio';
  /** `rtp://address:port?…` */
  readonly target: string;
  readonly options: readonly string[];
}

/** Everything FFmpeg is told, as data: golden-tested, then handed to fluent-ffmpeg. */
export interface FfmpegPlan {
  /** `passthrough`: the one video copied; `simulcast`: every simulcast layer copied; `ladder`: video encoded. */
  readonly mode: 'ladder' | 'passthrough' | 'simulcast';
  /** FFmpeg reads an SDP on stdin as its first input (default true); a slate-only program has none. */
  readonly sdpOnStdin?: boolean;
  /** Options of the SDP input. */
  readonly inputOptions: readonly string[];
  /** Inputs after the SDP (a slate image, generated silence), each with its options. */
  readonly extraInputs?: readonly { readonly source: string; readonly options: readonly string[] }[];
  readonly globalOptions: readonly string[];
  readonly complexFilter?: string;
  readonly outputs: readonly PlannedOutput[];
  /** RTP copies of the program (for WHEP), after the CMAF outputs; none unless asked for. */
  readonly rtpOutputs?: readonly PlannedRtpOutput[];
  /** Thumbnails, last; none unless asked for and the video is encoded. */
  readonly imageOutputs?: readonly PlannedImageOutput[];
}

/**
 * Audio fragments are whole AAC frames: the largest count that fits in one part
 * (200 ms → 9 frames = 192 ms), so every audio part is ≤ the part target and
 * ≥ 85 % of it (FFmpeg cuts once the fragment reaches `-frag_duration`; cutting
 * at 200 ms would give 213 ms parts).
 */
export function audioFragmentDurationUs(partDurationMs: number): number {
  const frames = Math.max(1, Math.floor((partDurationMs * AUDIO_RATE) / 1000 / AAC_FRAME_SAMPLES));
  return Math.round((frames * AAC_FRAME_SAMPLES * 1_000_000) / AUDIO_RATE);
}

export function cmafOutputOptions(fragmentDurationUs: number, httpTimeoutMs: number, kind: 'video' | 'audio'): string[] {
  return [
    '-f', 'mp4',
    '-movflags', '+frag_keyframe+empty_moov+default_base_moof+cmaf',
    '-frag_duration', String(fragmentDurationUs),
    // HTTP push to the packager: one long chunked PUT per track and run.
    '-method', 'PUT',
    '-chunked_post', '1',
    '-content_type', `${kind}/mp4`,
    '-rw_timeout', String(httpTimeoutMs * 1000),
  ];
}

export interface PlanOptions {
  /** Where each track goes (an HTTP URL FFmpeg can PUT to). */
  targetFor: (trackId: string) => string;
  /** Also send the program as RTP there (this run's SSRCs resolved). */
  rtpReturn?: RtpReturnSession;
  /** Where FFmpeg POSTs each thumbnail (`…/%d.jpg`: `%d` is the thumbnail's index in the run); none without it. */
  thumbnailTarget?: string;
}

/** One FFmpeg output that is not a CMAF track: the thumbnails (image2, one POST per JPEG). */
export interface PlannedImageOutput {
  readonly target: string;
  readonly options: readonly string[];
}

/**
 * Thumbnails from the filter graph's `label`: one frame per segment, JPEG.
 * `-frame_pts 1` names each by its timestamp in the output's time base
 * (1 / the thumbnail rate), i.e. its index: media time = index × segment.
 */
export function thumbnailOutput(config: TranscodeConfig, label: string, target: string): PlannedImageOutput {
  return { target, options: ['-map', label, '-c:v', 'mjpeg', '-q:v', String(config.thumbnails.quality), '-f', 'image2', '-frame_pts', '1'] };
}

/** An RtpReturnTarget for one run. */
export interface RtpReturnSession {
  readonly address: string;
  readonly video: { readonly port: number; readonly payloadType: number; readonly ssrc: number };
  readonly audio: { readonly port: number; readonly payloadType: number; readonly ssrc: number };
}

/** WebRTC packets stay under a 1200-byte payload: SRTP and TURN add to them on the way to the viewer. */
const RTP_PACKET_SIZE = 1200;

/** The options that make an output a plain RTP stream to `port` (RTCP on the same port: the relay reads both there). */
export function rtpReturnOutput(kind: 'video' | 'audio', to: RtpReturnSession, codecOptions: readonly string[]): PlannedRtpOutput {
  const t = to[kind];
  return {
    kind,
    target: `rtp://${to.address}:${t.port}?pkt_size=${RTP_PACKET_SIZE}&rtcpport=${t.port}`,
    options: [...codecOptions, '-f', 'rtp', '-payload_type', String(t.payloadType), '-ssrc', String(t.ssrc)],
  };
}

/**
 * The WebRTC copy of the top rung, encoded for browsers: constrained baseline
 * (the only H.264 profile every WebRTC stack decodes), no B-frames, a keyframe
 * every second so a viewer who joins sees a picture within one (FFmpeg cannot
 * answer a viewer's PLI).
 */
export function x264WebRtcOptions(config: TranscodeConfig, r: Rung, label: string): string[] {
  return [
    '-map', label,
    '-c:v', 'libx264',
    '-preset', config.x264Preset,
    '-tune', 'zerolatency',
    '-profile:v', 'baseline',
    '-pix_fmt', 'yuv420p',
    '-b:v', `${r.bitrateKbps}k`,
    '-maxrate', `${r.bitrateKbps}k`,
    '-bufsize', `${Math.round(r.bitrateKbps / 2)}k`,
    '-g', String(config.fps),
    '-keyint_min', String(config.fps),
    '-sc_threshold', '0',
    '-threads', String(config.threads),
  ];
}

/** The program's mix as Opus for WebRTC: 20 ms frames, the low-delay mode. */
export function opusWebRtcOptions(label: string): string[] {
  return ['-map', label, '-c:a', 'libopus', '-application', 'lowdelay', '-frame_duration', '20', '-b:a', '64k', '-ar', '48000', '-ac', '2'];
}

/** Options of the SDP input on stdin (RTP buffering and probing from the config). */
export function rtpInputOptions(config: TranscodeConfig): string[] {
  return [
    '-protocol_whitelist', 'pipe,udp,rtp',
    '-probesize', String(config.input.probeSize),
    '-analyzeduration', String(config.input.analyzeDurationMs * 1000),
    '-fflags', '+nobuffer',
    // No frame-rate estimation (20 frames, ~0.7 s of start-up): the ladder sets fps, copy keeps timestamps.
    '-fpsprobesize', '0',
    '-max_delay', String(config.input.maxDelayMs * 1000),
    '-reorder_queue_size', String(config.input.reorderQueueSize),
    '-f', 'sdp',
  ];
}

/**
 * One ladder rung encoded from the filter graph's `[v<index>]` (transcode/compose.ts).
 */
export function x264RungOutput(config: TranscodeConfig, r: Rung, index: number, options: PlanOptions): PlannedOutput {
  const seg = config.segmentDurationMs / 1000;
  const gop = Math.round((config.segmentDurationMs * config.fps) / 1000);
  const partUs = config.partDurationMs * 1000;
  const trackId = `video-${r.name}`;
  return {
    track: { trackId, kind: 'video', codec: 'h264', passthrough: false, fragmentDurationUs: partUs, height: r.height, bitrateKbps: r.bitrateKbps },
    target: options.targetFor(trackId),
    options: [
      '-map', `[v${index}]`,
      '-c:v', 'libx264',
      '-preset', config.x264Preset,
      '-tune', 'zerolatency',
      '-profile:v', 'high',
      '-pix_fmt', 'yuv420p',
      '-b:v', `${r.bitrateKbps}k`,
      '-maxrate', `${r.bitrateKbps}k`,
      '-bufsize', `${Math.round(r.bitrateKbps * seg)}k`,
      // Same GOP on every rung: a keyframe at every segment boundary, no scene cuts.
      '-g', String(gop),
      '-keyint_min', String(gop),
      '-sc_threshold', '0',
      '-force_key_frames', `expr:gte(t,n_forced*${seg})`,
      '-threads', String(config.threads),
      ...cmafOutputOptions(partUs, config.output.httpTimeoutMs, 'video'),
    ],
  };
}

/**
 * The fluent-ffmpeg command for a plan; the SDP goes in on stdin (no temp file).
 * `sdp` may be a stream written later: FFmpeg then waits, libraries loaded and
 * nothing opened, until the SDP arrives (a warm standby).
 */
export function fluentCommand(plan: FfmpegPlan, sdp: string | Readable, ffmpegPath: string): ffmpeg.FfmpegCommand {
  const command = ffmpeg({ stdoutLines: 50 }).setFfmpegPath(ffmpegPath);
  // fluent-ffmpeg has no public global-options list; FFmpeg takes them before the input too.
  let first = true;
  if (plan.sdpOnStdin !== false) {
    command.input(typeof sdp === 'string' ? Readable.from([sdp]) : sdp).inputOptions([...plan.globalOptions, ...plan.inputOptions]);
    first = false;
  }
  for (const input of plan.extraInputs ?? []) {
    command.input(input.source).inputOptions([...(first ? plan.globalOptions : []), ...input.options]);
    first = false;
  }
  if (plan.complexFilter) command.complexFilter(plan.complexFilter);
  for (const out of plan.outputs) command.output(out.target).outputOptions([...out.options]);
  for (const out of plan.rtpOutputs ?? []) command.output(out.target).outputOptions([...out.options]);
  for (const out of plan.imageOutputs ?? []) command.output(out.target).outputOptions([...out.options]);
  return command;
}

/** The exact argv fluent-ffmpeg will spawn FFmpeg with (for golden tests and logs). */
export function ffmpegArgs(plan: FfmpegPlan): string[] {
  const command = fluentCommand(plan, '', 'ffmpeg') as unknown as { _getArguments(): string[] };
  return command._getArguments();
}

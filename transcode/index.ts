/**
 * transcode/: the stage's public surface (other folders import only this file).
 * In: a program, the hosts' plain RTP as ingest describes it (an
 * RtpSessionDescriptor; the SDP FFmpeg reads is written here) and how to
 * compose it, and a config with the ladder (`parseTranscodeConfig`). Out: one
 * CMAF byte stream per rendition and run (to the packager's HTTP ingest or
 * an in-process `openTrack`), and the FFmpeg runs' lifecycle as Transcoder
 * events (state, spawn, progress, restart, exit, died). The sink tells it when
 * it took a new run's output on every track (`Transcoder.sourceSwitched`): the
 * previous run of a make-before-break change stops then.
 */
import type { Logger } from '../common/index.ts';
import type { TranscodeConfig } from './config.ts';
import type { ProgramInput } from './compose.ts';
import { Transcoder } from './transcoder.ts';
import type { CmafSink, HttpCmafSink, KeyframeRequester, RtpReturnTarget, StreamCmafSink } from './types.ts';

export {
  parseTranscodeConfig,
  transcodeConfigSchema,
  ladderRungs,
  selectRungs,
  LADDER_PRESETS,
  X264_PRESETS,
  type TranscodeConfig,
  type TranscodeConfigInput,
  type Rung,
  type RetryConfig,
  type LadderPresetName,
} from './config.ts';
export { checkRtpSession, switchedProgramSession, type SwitchedVideoLane, type RtpSessionInfo } from './rtpSession.ts';
export { ffmpegSdp, videoCodecKey } from './ffmpegSdp.ts';
export { planProgram, canvasSize, cellPixels, type ComposeSpec, type ComposeCell, type ProgramInput } from './compose.ts';
export { ffmpegArgs, audioFragmentDurationUs, rtpInputOptions, type FfmpegPlan, type PlannedOutput, type PlanOptions } from './args.ts';
export { chooseLayout, programCopiable, layersCopiable, simulcastRungs, programSourceHeight, encodedRungs, promisedHeight, type TrackLayout } from './layout.ts';
export { Transcoder, type TranscoderOptions } from './transcoder.ts';
export { verifyFfmpeg } from './preflight.ts';
export type { WithStderr } from './ffmpegErrors.ts';
export type { DecodeErrorStats } from './decodeErrors.ts';
export { RtpReturnRelay, type RtpReturnRelayOptions, type RtpReturnDestination } from './rtpReturn.ts';
export { RtpSwitch, type RtpSwitchOptions, type RtpSwitchEvents, type RtpSwitchSourceAddress } from './rtpSwitch.ts';
export type { RtpSwitchStats } from './rtpSwitchCore.ts';
export type { SwitchCodec } from './rtpKeyframe.ts';
export type {
  CmafSink,
  HttpCmafSink,
  StreamCmafSink,
  KeyframeRequester,
  RtpReturnTarget,
  TrackInfo,
  TranscoderState,
  TranscoderEvents,
  TranscodeProgress,
  ExitInfo,
} from './types.ts';

/** The packager's HTTP ingest: `<ingestBaseUrl>/<trackId>` (e.g. `http://127.0.0.1:8080/ingest/<broadcastId>`). */
export function httpCmafSink(ingestBaseUrl: string): HttpCmafSink {
  const base = new URL(ingestBaseUrl); // TypeError on a malformed URL
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`ingest URL must be http(s): ${ingestBaseUrl}`);
  const prefix = ingestBaseUrl.replace(/\/+$/, '');
  return { kind: 'http', urlFor: (trackId) => `${prefix}/${encodeURIComponent(trackId)}` };
}

/** An in-process packager: `openTrack(trackId, run)` per track and run (e.g. `broadcast.openTrack`). */
export function streamCmafSink(openTrack: StreamCmafSink['openTrack'], thumbnail?: StreamCmafSink['thumbnail']): StreamCmafSink {
  return { kind: 'stream', openTrack, ...(thumbnail ? { thumbnail } : {}) };
}

/** Creates (does not start) a transcoder for one broadcast. Throws InputError `bad-sdp`/`bad-program` on a bad program. */
export function createTranscoder(options: {
  config: TranscodeConfig;
  /** The hosts' RTP and how to compose it, or the slate (see `Transcoder.reconfigure`). */
  program: ProgramInput;
  sink: CmafSink;
  logger: Logger;
  keyframes?: KeyframeRequester;
  /** Also send the program as RTP (WHEP viewers): an RtpReturnRelay's target. */
  rtpReturn?: RtpReturnTarget;
  id?: string;
}): Transcoder {
  return new Transcoder(options);
}

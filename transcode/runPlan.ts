import { InputError } from '../common/index.ts';
import { rtpInputOptions, type FfmpegPlan } from './args.ts';
import { planProgram, type ProgramInput } from './compose.ts';
import type { TranscodeConfig } from './config.ts';
import type { TrackLayout } from './layout.ts';
import { checkRtpSession } from './rtpSession.ts';
import type { CmafSink, RtpReturnTarget } from './types.ts';

/**
 * What one FFmpeg run (one run) is, pure: the program checked against its
 * RTP session, and the plan (argv, outputs) with this run's targets resolved. The
 * process wrapper (ffmpegProcess.ts) runs it; nothing here spawns or listens.
 */

/** Where an in-process sink takes a run's pushes (the StreamSinkBridge, once it listens). */
export interface SessionEndpoint {
  urlFor(run: number, trackId: string): string;
  thumbnailUrlFor(run: number): string;
}

export interface RunPlanInput {
  readonly config: TranscodeConfig;
  /** The broadcast's tracks (decided from the first program). */
  readonly layout: TrackLayout;
  readonly program: ProgramInput;
  readonly sink: CmafSink;
  /** The stream sink's loopback endpoint; absent before it listens (the plan then names port 0). */
  readonly endpoint?: SessionEndpoint;
  readonly rtpReturn?: RtpReturnTarget;
}

/** The FFmpeg plan of one run: each track pushed to the sink under this run, the RTP copy under this run's SSRCs. */
export function runPlan(input: RunPlanInput, run: number): FfmpegPlan {
  const { config, sink, endpoint } = input;
  const targetFor = (trackId: string) => {
    if (sink.kind === 'http') return sink.urlFor(trackId);
    return endpoint ? endpoint.urlFor(run, trackId) : `http://127.0.0.1:0/${run}/${trackId}`;
  };
  const rtp = input.rtpReturn;
  const rtpReturn = rtp && {
    address: rtp.address,
    video: { ...rtp.video, ssrc: rtp.ssrcFor(run, 'video') },
    audio: { ...rtp.audio, ssrc: rtp.ssrcFor(run, 'audio') },
  };
  // Thumbnails go to an in-process sink that takes them (the HTTP sink has no place for them).
  const thumbnailTarget = endpoint && sink.kind === 'stream' && sink.thumbnail ? endpoint.thumbnailUrlFor(run) : undefined;
  return planProgram(
    config,
    input.layout,
    input.program,
    { targetFor, ...(rtpReturn ? { rtpReturn } : {}), ...(thumbnailTarget ? { thumbnailTarget } : {}) },
    rtpInputOptions(config),
  );
}

/** Checks a program's RTP session against its composition; returns the RTP ports FFmpeg will bind. */
export function checkProgram(program: ProgramInput): number[] {
  const { compose, rtp } = program;
  if (rtp === undefined) {
    if (compose.videos.length + compose.audios > 0) throw new InputError('bad-program', 'the program has RTP inputs but no RTP session');
    return [];
  }
  const info = checkRtpSession(rtp); // InputError('bad-sdp')
  const videoTracks = program.simulcast ? program.simulcast.heights.length : compose.videos.length;
  if (program.simulcast && compose.videos.length !== 1) throw new InputError('bad-program', 'a simulcast program has exactly one video');
  if (info.videos.length !== videoTracks || info.audios.length !== compose.audios) {
    throw new InputError(
      'bad-program',
      `the RTP session has ${info.videos.length} video and ${info.audios.length} audio tracks, the composition ${videoTracks} and ${compose.audios}`,
    );
  }
  return [...info.videos, ...info.audios].map((m) => m.port);
}

import { InputError, rtpSessionSchema, type RtpSessionDescriptor, type RtpTrackDescription } from '../common/index.ts';

/** A program's RTP session once checked: its address, its video tracks, then its audio tracks. */
export interface RtpSessionInfo {
  readonly address: string;
  readonly videos: readonly RtpTrackDescription[];
  readonly audios: readonly RtpTrackDescription[];
}

const VIDEO_CODECS = new Set(['VP8', 'VP9', 'H264']);
const AUDIO_CODECS = new Set(['OPUS']);

function bad(message: string): never {
  throw new InputError('bad-sdp', `bad RTP session: ${message}`);
}

/** A track's encoding name, upper case (VP8, H264, OPUS, …). */
export function codecOf(track: RtpTrackDescription): string {
  return track.mimeType.slice(track.mimeType.indexOf('/') + 1).toUpperCase();
}

/**
 * The session if it is well formed as the contract bounds it (an IP address,
 * at most 32 tracks, ports 1–65534, media types that match their kind, …);
 * InputError `bad-sdp` naming what is wrong otherwise.
 */
export function validRtpSession(value: unknown): RtpSessionDescriptor {
  const r = rtpSessionSchema.safeParse(value);
  if (!r.success) bad(r.error.issues.map((i) => `${i.path.length > 0 ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; '));
  return r.data;
}

/**
 * Checks a program's RTP session enough to fail early with a clear error:
 * well formed, codecs we handle, video tracks before audio tracks (the order
 * FFmpeg's inputs are mapped in), no port inside another track's RTP/RTCP pair.
 * FFmpeg reads the SDP written from it (ffmpegSdp.ts); this is the gatekeeper.
 */
export function checkRtpSession(rtp: RtpSessionDescriptor): RtpSessionInfo {
  const { address, tracks } = validRtpSession(rtp);
  for (const t of tracks) {
    if (!(t.kind === 'video' ? VIDEO_CODECS : AUDIO_CODECS).has(codecOf(t))) bad(`unsupported ${t.kind} codec ${codecOf(t)}`);
  }
  const firstAudio = tracks.findIndex((t) => t.kind === 'audio');
  if (firstAudio >= 0 && tracks.slice(firstAudio).some((t) => t.kind === 'video')) bad('video tracks must come before audio tracks');
  const ports = new Set<number>();
  for (const t of tracks) {
    if (ports.has(t.port) || ports.has(t.port + 1) || ports.has(t.port - 1)) bad(`port ${t.port} overlaps another track's RTP/RTCP pair`);
    ports.add(t.port);
  }
  return { address, videos: tracks.filter((t) => t.kind === 'video'), audios: tracks.filter((t) => t.kind === 'audio') };
}

/** One video track behind an RTP switch: a source's video, sent by the switch to `port` under `ssrc`. */
export interface SwitchedVideoLane {
  /** The RTP output of one source toward this lane (every source of a switch has the same codec). */
  readonly source: RtpSessionDescriptor;
  readonly port: number;
  readonly ssrc: number;
}

/**
 * The program session of the speaker layout behind RTP switches: one video
 * track per switch (one, or one per simulcast layer, highest first), each a
 * source's video track but at the port where its switch sends, with the
 * switch's SSRC and labelled `switch` (`switch/<i>` for several), then the
 * audio tracks of the audio output. Pure; checked as any program session.
 */
export function switchedProgramSession(input: { videos: readonly SwitchedVideoLane[]; audio?: RtpSessionDescriptor | undefined }): RtpSessionDescriptor {
  const first = input.videos[0];
  if (!first) bad('no switched video');
  const { address, sessionName } = first.source;
  // The session has one address: the switches and the audio output all send to the one FFmpeg.
  for (const s of [...input.videos.map((v) => v.source), ...(input.audio ? [input.audio] : [])]) {
    if (s.address !== address) bad(`the switched program's sources send to ${address} and ${s.address}`);
  }
  const videos = input.videos.map((v, i): RtpTrackDescription => {
    const video = v.source.tracks.find((t) => t.kind === 'video');
    if (!video) bad('the switch source has no video track');
    return { ...video, port: v.port, ssrc: v.ssrc, label: input.videos.length === 1 ? 'switch' : `switch/${i}` };
  });
  const audios = input.audio?.tracks.filter((t) => t.kind === 'audio') ?? [];
  const session: RtpSessionDescriptor = { address, sessionName, tracks: [...videos, ...audios] };
  checkRtpSession(session); // the gatekeeper's check
  return session;
}

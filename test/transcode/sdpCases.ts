/**
 * Representative RTP sessions toward FFmpeg, as data: each case's SDP text is
 * kept in `golden/sdp/<name>.sdp`, written by the SDP writers of commit
 * 1aee291, before the SDP moved from ingest to transcode (ingest/sdp.ts
 * `buildFfmpegSdp` for one output's session, transcode/sdp.ts
 * `switchedProgramSdp` over those for the switched program). Today's writer
 * must give FFmpeg the same lines (test/transcode/ffmpegSdp.test.ts).
 */
import type { RtpSessionDescriptor, RtpTrackDescription } from '../../common/index.ts';

/** A session: the address FFmpeg receives on, a name, the tracks in m-line order. */
export type SessionCase = RtpSessionDescriptor;

/** The switched speaker program: per lane, the lane's source output and where its switch sends; then the audio output. */
export interface SwitchedCase {
  videos: { source: SessionCase; port: number; ssrc: number }[];
  audio?: SessionCase;
}

const vp8 = (port: number, ssrc: number, label: string): RtpTrackDescription => ({
  kind: 'video', port, payloadType: 101, mimeType: 'video/VP8', clockRate: 90000, parameters: {}, ssrc, label,
});
const h264 = (port: number, ssrc: number, label: string): RtpTrackDescription => ({
  kind: 'video', port, payloadType: 107, mimeType: 'video/H264', clockRate: 90000,
  parameters: { 'level-asymmetry-allowed': 1, 'packetization-mode': 1, 'profile-level-id': '42e01f' }, ssrc, label,
});
const opus = (port: number, ssrc: number, label: string): RtpTrackDescription => ({
  kind: 'audio', port, payloadType: 100, mimeType: 'audio/opus', clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 }, ssrc, label,
});
const session = (tracks: RtpTrackDescription[], address = '127.0.0.1'): SessionCase => ({ address, sessionName: 'stagecast stage main', tracks });

/** One RTP output each (what ingest's RtpOutput describes). */
export const sessionCases: Record<string, SessionCase> = {
  // One browser host: VP8 and Opus.
  'vp8-opus': session([vp8(40000, 3001, 'p-video'), opus(40002, 3002, 'p-audio')]),
  // Audio first, H.264 with its fmtp (an output in the producers' order).
  'opus-h264': {
    address: '127.0.0.1',
    sessionName: 'stagecast stage main',
    tracks: [
      { kind: 'audio', port: 40000, payloadType: 100, mimeType: 'audio/opus', clockRate: 48000, channels: 2, parameters: { useinbandfec: 1, minptime: 10 }, ssrc: 1111, label: 'p-audio' },
      {
        kind: 'video',
        port: 40002,
        payloadType: 102,
        mimeType: 'video/H264',
        clockRate: 90000,
        parameters: { 'profile-level-id': '42e01f', 'packetization-mode': 1, 'level-asymmetry-allowed': 1 },
        ssrc: 2222,
        label: 'p-video',
      },
    ],
  },
  // IPv6, one video with neither fmtp, SSRC nor label.
  'vp8-ipv6': { address: '::1', sessionName: 'vp8', tracks: [{ kind: 'video', port: 41000, payloadType: 101, mimeType: 'video/VP8', clockRate: 90000 }] },
  // A composed grid: three host videos of two codecs, then two audios.
  'grid-3v-2a': session([
    vp8(40010, 11, 'h1-video'),
    h264(40012, 12, 'h2-video'),
    vp8(40014, 13, 'h3-video'),
    opus(40016, 21, 'h1-audio'),
    opus(40018, 22, 'h2-audio'),
  ]),
  // One host's simulcast layers, highest first (labels <producer>/<layer>), and its audio.
  'simulcast-3-layers': session([h264(40020, 31, 'p/2'), h264(40022, 32, 'p/1'), h264(40024, 33, 'p/0'), opus(40026, 34, 'p-audio')]),
  // An IPv6 grid of one video and one audio.
  'grid-ipv6': session([vp8(40030, 41, 'h1-video'), opus(40032, 42, 'h1-audio')], '2001:db8::7'),
  // A session name, fmtp keys and values, and a label that would inject lines or break one.
  sanitised: {
    address: '127.0.0.1',
    sessionName: 'evil\r\nm=audio 1 RTP/AVP 0',
    tracks: [
      { kind: 'video', port: 40040, payloadType: 96, mimeType: 'video/VP8', clockRate: 90000, parameters: { 'bad key': 1, x: 'a\r\nb=c', y: 'p; q' }, label: 'a b\r\nc' },
      { kind: 'audio', port: 40042, payloadType: 111, mimeType: 'audio/opus', clockRate: 48000, channels: 1, parameters: {} },
    ],
  },
};

/** The speaker layout behind the RTP switch(es). */
export const switchedCases: Record<string, SwitchedCase> = {
  // One switch (each host's best layer), VP8, and the audio output of two hosts.
  'switched-vp8': {
    videos: [{ source: session([vp8(40100, 1111, 'h1-video')]), port: 47100, ssrc: 4242 }],
    audio: session([opus(40102, 7, 'h1-audio'), opus(40104, 8, 'h2-audio')]),
  },
  // One switch per simulcast layer (3 lanes, highest first), each source the speaker's output of that layer.
  'switched-3-lanes': {
    videos: [
      { source: session([h264(40110, 11, 'p/2')]), port: 47110, ssrc: 901 },
      { source: session([h264(40112, 12, 'p/1')]), port: 47112, ssrc: 902 },
      { source: session([h264(40114, 13, 'p/0')]), port: 47114, ssrc: 903 },
    ],
    audio: session([opus(40116, 7, 'p-audio')]),
  },
  // Video only (nobody's audio on air).
  'switched-video-only': { videos: [{ source: session([h264(40120, 51, 'h1-video')]), port: 47120, ssrc: 77 }] },
};

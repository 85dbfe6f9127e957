import { isIP } from 'node:net';
import { write, type MediaDescription, type SessionDescription } from 'sdp-transform';
import { InputError, type RtpSessionDescriptor, type RtpTrackDescription } from '../common/index.ts';
import { validRtpSession } from './rtpSession.ts';

/**
 * The SDP that tells FFmpeg (5.1) what arrives on which port, from the RTP
 * session ingest described. Built as an sdp-transform session and written by
 * it; pure (the same session always gives the same text, golden-tested).
 *
 * - Video m-lines are RTP/AVPF so FFmpeg sends RTCP feedback (PLI for VP8; it
 *   sends none for H.264, so keyframes are requested from the SFU instead),
 *   with `nack pli` and `ccm fir` offered.
 * - `a=rtcp:` is written for readers that honour it; FFmpeg 5.1 ignores it and
 *   `a=rtcp-mux` and uses port + 1, which is why ports come in pairs.
 * - `a=ssrc:<ssrc> cname:stagecast`, `a=recvonly`; `a=fmtp` keys sorted, and
 *   nothing from the session can break a line (names, fmtp and labels are
 *   cleaned).
 *
 * Throws InputError `bad-sdp` on a session that is not well formed.
 */
export function ffmpegSdp(rtp: RtpSessionDescriptor): string {
  const { address, sessionName, tracks } = validRtpSession(rtp);
  if (tracks.length === 0) throw new InputError('bad-sdp', 'bad RTP session: an SDP needs at least one track');
  const ipVer = isIP(address) === 6 ? 6 : 4;
  const session: SessionDescription = {
    version: 0,
    origin: { username: '-', sessionId: 0, sessionVersion: 0, netType: 'IN', ipVer, address },
    name: sessionName.replace(/[\r\n]/g, ' '),
    connection: { version: ipVer, ip: address },
    timing: { start: 0, stop: 0 },
    media: tracks.map(mediaOf),
  };
  return write(session);
}

function mediaOf(t: RtpTrackDescription): MediaDescription {
  const pt = t.payloadType;
  const fmtp = formatFmtp(t.parameters ?? {});
  const video = t.kind === 'video';
  return {
    type: t.kind,
    port: t.port,
    protocol: video ? 'RTP/AVPF' : 'RTP/AVP',
    payloads: String(pt),
    rtp: [rtpmapOf(t)],
    fmtp: fmtp ? [{ payload: pt, config: fmtp }] : [],
    rtcp: { port: t.port + 1 },
    ...(video ? { rtcpFb: [{ payload: pt, type: 'nack', subtype: 'pli' }, { payload: pt, type: 'ccm', subtype: 'fir' }] } : {}),
    direction: 'recvonly',
    ...(t.ssrc !== undefined ? { ssrcs: [{ id: t.ssrc, attribute: 'cname', value: 'stagecast' }] } : {}),
    ...(t.label ? { label: t.label.replace(/[\r\n\s]/g, '') } : {}),
  };
}

/** The a=rtpmap of a track: its encoding name, clock rate and, for more than one channel, the channels. */
function rtpmapOf(t: RtpTrackDescription): MediaDescription['rtp'][number] {
  const codec = t.mimeType.slice(t.mimeType.indexOf('/') + 1);
  return { payload: t.payloadType, codec, rate: t.clockRate, ...(t.channels && t.channels > 1 ? { encoding: t.channels } : {}) };
}

/** The a=fmtp value: keys sorted, keys that are not tokens dropped, values without separators or line breaks. */
function formatFmtp(parameters: Readonly<Record<string, unknown>>): string {
  return Object.keys(parameters)
    .sort()
    .filter((k) => /^[A-Za-z0-9-]+$/.test(k))
    .map((k) => `${k}=${String(parameters[k]).replace(/[;\r\n\s]/g, '')}`)
    .join(';');
}

/**
 * What must be equal for two video sources to share one switched RTP stream:
 * the payload type and what FFmpeg's a=rtpmap and a=fmtp say of the codec.
 * Undefined for an audio track.
 */
export function videoCodecKey(track: RtpTrackDescription): string | undefined {
  if (track.kind !== 'video') return undefined;
  const { payload, codec, rate, encoding } = rtpmapOf(track);
  return [payload, `${codec}/${rate}${encoding ? `/${encoding}` : ''}`, formatFmtp(track.parameters ?? {})].join('|');
}

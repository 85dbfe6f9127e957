import { isIP } from 'node:net';

/** One RTP stream as FFmpeg must receive it. RTCP is on `port + 1` (FFmpeg assumes so). */
export interface RtpTrackDescription {
  kind: 'audio' | 'video';
  /** Where FFmpeg listens for RTP; RTCP is expected on `port + 1`. */
  port: number;
  payloadType: number;
  /** e.g. `audio/opus`, `video/VP8`, `video/H264`. */
  mimeType: string;
  clockRate: number;
  channels?: number;
  /** Codec parameters, as in mediasoup's RtpCodecParameters (becomes a=fmtp). */
  parameters?: Record<string, unknown>;
  ssrc?: number;
  /** A stable label for the track (the producer id), written as a=label. */
  label?: string;
}

export interface FfmpegSdpInput {
  /** The address FFmpeg receives on (where the RTP is sent). */
  address: string;
  sessionName: string;
  tracks: readonly RtpTrackDescription[];
}

/**
 * Writes the SDP that tells FFmpeg what arrives on which port. Pure: the same
 * input always gives the same text (golden-tested).
 *
 * - Video m-lines are RTP/AVPF so FFmpeg sends RTCP feedback (PLI for VP8; it
 *   sends none for H.264, so keyframes are requested from the SFU instead).
 * - `a=rtcp:` is written for readers that honour it; FFmpeg 5.1 ignores it and
 *   `a=rtcp-mux` and uses port + 1, which is why ports come in pairs.
 */
export function buildFfmpegSdp(input: FfmpegSdpInput): string {
  const family = isIP(input.address);
  if (family === 0) throw new TypeError(`not an IP address: ${input.address}`);
  if (input.tracks.length === 0) throw new TypeError('an SDP needs at least one track');
  const ipv = family === 6 ? 'IP6' : 'IP4';
  const lines = [
    'v=0',
    `o=- 0 0 IN ${ipv} ${input.address}`,
    `s=${input.sessionName.replace(/[\r\n]/g, ' ')}`,
    `c=IN ${ipv} ${input.address}`,
    't=0 0',
  ];
  for (const t of input.tracks) {
    if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65534) throw new TypeError(`invalid RTP port ${t.port}`);
    const [kind, codecName] = t.mimeType.split('/');
    if (kind !== t.kind || !codecName) throw new TypeError(`mimeType ${t.mimeType} does not match kind ${t.kind}`);
    const profile = t.kind === 'video' ? 'RTP/AVPF' : 'RTP/AVP';
    lines.push(`m=${t.kind} ${t.port} ${profile} ${t.payloadType}`);
    lines.push(`a=rtpmap:${t.payloadType} ${codecName}/${t.clockRate}${t.channels && t.channels > 1 ? `/${t.channels}` : ''}`);
    const fmtp = formatFmtp(t.parameters ?? {});
    if (fmtp) lines.push(`a=fmtp:${t.payloadType} ${fmtp}`);
    if (t.kind === 'video') {
      lines.push(`a=rtcp-fb:${t.payloadType} nack pli`);
      lines.push(`a=rtcp-fb:${t.payloadType} ccm fir`);
    }
    lines.push(`a=rtcp:${t.port + 1}`);
    if (t.label) lines.push(`a=label:${t.label.replace(/[\r\n\s]/g, '')}`);
    if (t.ssrc !== undefined) lines.push(`a=ssrc:${t.ssrc} cname:stagecast`);
    lines.push('a=recvonly');
  }
  return `${lines.join('\r\n')}\r\n`;
}

function formatFmtp(parameters: Record<string, unknown>): string {
  return Object.keys(parameters)
    .sort()
    .filter((k) => /^[A-Za-z0-9-]+$/.test(k))
    .map((k) => `${k}=${String(parameters[k]).replace(/[;\r\n\s]/g, '')}`)
    .join(';');
}

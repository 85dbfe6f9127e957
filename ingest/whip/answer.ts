import type { types as ms } from 'mediasoup';
import type { MediaKind } from '../types.ts';
import type { WhipOffer } from './offer.ts';

/** The server's side of the session: one mediasoup WebRtcTransport (ICE-lite). */
export interface WhipTransportDescription {
  iceParameters: ms.IceParameters;
  iceCandidates: ms.IceCandidate[];
  dtlsParameters: ms.DtlsParameters;
}

/**
 * Writes the SDP answer to a translated offer: ICE-lite, our candidates (all of
 * them: nothing trickles), our DTLS fingerprint with `a=setup:passive` (the
 * client is the DTLS client), every accepted section `recvonly` with the codec,
 * RTX, feedback and header extensions chosen for mediasoup, every other section
 * rejected with port 0. The accepted sections form the BUNDLE group, the
 * offerer-tagged one first (RFC 8843 §7.3.1); each has port 9 and no
 * `a=bundle-only`, also where the offer's had (JSEP §5.3.1: no m= section of
 * an answer is bundle-only). Pure: the same input always gives the same text.
 */
export function buildAnswer(offer: WhipOffer, transport: WhipTransportDescription, opts: { sessionId: string }): string {
  const sections = offer.media.map((m): AnswerSection =>
    m.accepted
      ? { accepted: true, kind: m.kind, mid: m.mid, protocol: m.protocol, direction: 'recvonly', rtpParameters: m.rtpParameters, ...(m.simulcast ? { simulcastRecv: m.simulcast.rids } : {}) }
      : m,
  );
  return writeAnswer(sections, { bundleTag: offer.bundleTag, extmapAllowMixed: offer.extmapAllowMixed }, transport, opts);
}

/** An m= section of an answer: one the server takes (receives on for WHIP, sends on for WHEP) ... */
export interface AcceptedAnswerSection {
  accepted: true;
  kind: MediaKind;
  mid: string;
  protocol: string;
  direction: 'recvonly' | 'sendonly';
  /** Codecs (payload types as the client will see them), header extensions, RTCP. */
  rtpParameters: ms.RtpParameters;
  /** RFC 8853: the rids received, in the offer's order. */
  simulcastRecv?: string[];
  /** What the server sends on a sendonly section: its SSRC (and RTX SSRC), CNAME and MSID (RFC 8830). */
  send?: { ssrc: number; rtxSsrc?: number; cname: string; streamId: string; trackId: string };
}

/** ... or one it rejects (port 0). */
export interface RejectedAnswerSection {
  accepted: false;
  mid: string | undefined;
  type: string;
  protocol: string;
  formats: string;
}

export type AnswerSection = AcceptedAnswerSection | RejectedAnswerSection;

/**
 * Writes an SDP answer from this ICE-lite server: our candidates (all of
 * them: nothing trickles), our DTLS fingerprint with `a=setup:passive`, the
 * accepted sections in a BUNDLE group (the offerer-tagged one first, RFC 8843
 * §7.3.1; port 9, no bundle-only, JSEP §5.3.1), every other section port 0.
 * Pure: the same input always gives the same text.
 */
export function writeAnswer(
  sections: readonly AnswerSection[],
  bundle: { bundleTag: string; extmapAllowMixed: boolean },
  transport: WhipTransportDescription,
  opts: { sessionId: string },
): string {
  const accepted = sections.filter((m): m is AcceptedAnswerSection => m.accepted);
  const group = [...accepted.filter((m) => m.mid === bundle.bundleTag), ...accepted.filter((m) => m.mid !== bundle.bundleTag)];
  const lines = ['v=0', `o=- ${opts.sessionId} 1 IN IP4 0.0.0.0`, 's=-', 't=0 0', 'a=ice-lite'];
  lines.push(`a=group:BUNDLE ${group.map((m) => m.mid).join(' ')}`);
  if (bundle.extmapAllowMixed) lines.push('a=extmap-allow-mixed');
  lines.push('a=msid-semantic: WMS *');
  for (const m of sections) lines.push(...mediaSection(m, transport));
  return `${lines.join('\r\n')}\r\n`;
}

function mediaSection(m: AnswerSection, t: WhipTransportDescription): string[] {
  if (!m.accepted) {
    return [`m=${m.type} 0 ${m.protocol} ${m.formats || '0'}`, 'c=IN IP4 0.0.0.0', ...(m.mid !== undefined ? [`a=mid:${m.mid}`] : []), 'a=inactive'];
  }
  const { rtpParameters: p } = m;
  const fingerprint = t.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256') ?? t.dtlsParameters.fingerprints[0];
  if (!fingerprint) throw new TypeError('the transport has no DTLS fingerprint');
  const out = [
    `m=${m.kind} 9 ${m.protocol} ${p.codecs.map((c) => c.payloadType).join(' ')}`,
    'c=IN IP4 0.0.0.0',
    `a=ice-ufrag:${t.iceParameters.usernameFragment}`,
    `a=ice-pwd:${t.iceParameters.password}`,
    `a=fingerprint:${fingerprint.algorithm} ${fingerprint.value}`,
    'a=setup:passive',
    `a=mid:${m.mid}`,
    `a=${m.direction}`,
    'a=rtcp-mux',
  ];
  if (p.rtcp?.reducedSize) out.push('a=rtcp-rsize');
  if (m.send) out.push(`a=msid:${m.send.streamId} ${m.send.trackId}`);
  for (const h of p.headerExtensions ?? []) out.push(`a=extmap:${h.id} ${h.uri}`);
  for (const c of p.codecs) {
    const name = c.mimeType.split('/')[1];
    out.push(`a=rtpmap:${c.payloadType} ${name}/${c.clockRate}${c.channels && c.channels > 1 ? `/${c.channels}` : ''}`);
    for (const fb of c.rtcpFeedback ?? []) out.push(`a=rtcp-fb:${c.payloadType} ${fb.type}${fb.parameter ? ` ${fb.parameter}` : ''}`);
    const fmtp = Object.entries(c.parameters ?? {})
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(';');
    if (fmtp) out.push(`a=fmtp:${c.payloadType} ${fmtp}`);
  }
  if (m.simulcastRecv) {
    // RFC 8853 §5.3: the answer receives the rids the offer sends, in its order.
    for (const rid of m.simulcastRecv) out.push(`a=rid:${rid} recv`);
    out.push(`a=simulcast:recv ${m.simulcastRecv.join(';')}`);
  }
  if (m.send) {
    if (m.send.rtxSsrc !== undefined) out.push(`a=ssrc-group:FID ${m.send.ssrc} ${m.send.rtxSsrc}`);
    for (const ssrc of [m.send.ssrc, ...(m.send.rtxSsrc !== undefined ? [m.send.rtxSsrc] : [])]) out.push(`a=ssrc:${ssrc} cname:${m.send.cname}`);
  }
  for (const c of t.iceCandidates) {
    const address = c.address || c.ip;
    const tcp = c.protocol === 'tcp' ? ` tcptype ${c.tcpType ?? 'passive'}` : '';
    out.push(`a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${address} ${c.port} typ ${c.type}${tcp}`);
  }
  out.push('a=end-of-candidates');
  return out;
}

import type { types as ms } from 'mediasoup';
import type { OfferedMedia, WhipOffer } from './offer.ts';

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
  const accepted = offer.media.filter((m) => m.accepted);
  const group = [...accepted.filter((m) => m.mid === offer.bundleTag), ...accepted.filter((m) => m.mid !== offer.bundleTag)];
  const lines = ['v=0', `o=- ${opts.sessionId} 1 IN IP4 0.0.0.0`, 's=-', 't=0 0', 'a=ice-lite'];
  lines.push(`a=group:BUNDLE ${group.map((m) => m.mid).join(' ')}`);
  if (offer.extmapAllowMixed) lines.push('a=extmap-allow-mixed');
  lines.push('a=msid-semantic: WMS *');
  for (const m of offer.media) lines.push(...mediaSection(m, transport));
  return `${lines.join('\r\n')}\r\n`;
}

function mediaSection(m: OfferedMedia, t: WhipTransportDescription): string[] {
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
    'a=recvonly',
    'a=rtcp-mux',
  ];
  if (p.rtcp?.reducedSize) out.push('a=rtcp-rsize');
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
  if (m.simulcast) {
    // RFC 8853 §5.3: the answer receives the rids the offer sends, in its order.
    for (const rid of m.simulcast.rids) out.push(`a=rid:${rid} recv`);
    out.push(`a=simulcast:recv ${m.simulcast.rids.join(';')}`);
  }
  for (const c of t.iceCandidates) {
    const address = c.address || c.ip;
    const tcp = c.protocol === 'tcp' ? ` tcptype ${c.tcpType ?? 'passive'}` : '';
    out.push(`a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${address} ${c.port} typ ${c.type}${tcp}`);
  }
  out.push('a=end-of-candidates');
  return out;
}

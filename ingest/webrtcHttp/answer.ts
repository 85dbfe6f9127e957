import { randomBytes } from 'node:crypto';
import type { types as ms } from 'mediasoup';
import { write, type MediaDescription, type SessionDescription } from 'sdp-transform';
import type { MediaKind } from '../types.ts';

/** The server's side of a WHIP or WHEP session: one mediasoup WebRtcTransport (ICE-lite). */
export interface AnswerTransport {
  iceParameters: ms.IceParameters;
  iceCandidates: ms.IceCandidate[];
  dtlsParameters: ms.DtlsParameters;
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
  /** The m-line's format list, echoed from the offer. */
  formats: string;
}

export type AnswerSection = AcceptedAnswerSection | RejectedAnswerSection;

/**
 * Writes an SDP answer from this ICE-lite server: our candidates (all of
 * them: nothing trickles), our DTLS fingerprint with `a=setup:passive`, the
 * accepted sections in a BUNDLE group (the offerer-tagged one first, RFC 8843
 * §7.3.1; port 9, no bundle-only, JSEP §5.3.1), every other section port 0.
 * The answer is built as an sdp-transform session description and written by
 * it (attributes in its grammar's order). Pure: the same input always gives
 * the same text.
 */
export function writeAnswer(
  sections: readonly AnswerSection[],
  bundle: { bundleTag: string; extmapAllowMixed: boolean },
  transport: AnswerTransport,
  opts: { sessionId: string },
): string {
  const accepted = sections.filter((m): m is AcceptedAnswerSection => m.accepted);
  const group = [...accepted.filter((m) => m.mid === bundle.bundleTag), ...accepted.filter((m) => m.mid !== bundle.bundleTag)];
  const session: SessionDescription = {
    version: 0,
    origin: { username: '-', sessionId: opts.sessionId, sessionVersion: 1, netType: 'IN', ipVer: 4, address: '0.0.0.0' },
    name: '-',
    timing: { start: 0, stop: 0 },
    icelite: 'ice-lite',
    groups: [{ type: 'BUNDLE', mids: group.map((m) => m.mid).join(' ') }],
    ...(bundle.extmapAllowMixed ? { extmapAllowMixed: 'extmap-allow-mixed' as const } : {}),
    msidSemantic: { semantic: 'WMS', token: '*' },
    media: sections.map((m) => mediaDescription(m, transport)),
  };
  return write(session);
}

const NO_ADDRESS = { version: 4, ip: '0.0.0.0' };

function mediaDescription(m: AnswerSection, t: AnswerTransport): MediaDescription {
  if (!m.accepted) {
    return { type: m.type, port: 0, protocol: m.protocol, payloads: m.formats || '0', connection: NO_ADDRESS, rtp: [], fmtp: [], ...(m.mid !== undefined ? { mid: m.mid } : {}), direction: 'inactive' };
  }
  const { rtpParameters: p } = m;
  const fingerprint = t.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256') ?? t.dtlsParameters.fingerprints[0];
  if (!fingerprint) throw new TypeError('the transport has no DTLS fingerprint');
  const fmtp = (c: ms.RtpCodecParameters) =>
    Object.entries(c.parameters ?? {})
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(';');
  const sent = m.send ? [m.send.ssrc, ...(m.send.rtxSsrc !== undefined ? [m.send.rtxSsrc] : [])] : [];
  return {
    type: m.kind,
    port: 9,
    protocol: m.protocol,
    payloads: p.codecs.map((c) => c.payloadType).join(' '),
    connection: NO_ADDRESS,
    iceUfrag: t.iceParameters.usernameFragment,
    icePwd: t.iceParameters.password,
    fingerprint: { type: fingerprint.algorithm, hash: fingerprint.value },
    setup: 'passive',
    mid: m.mid,
    direction: m.direction,
    rtcpMux: 'rtcp-mux',
    ...(p.rtcp?.reducedSize ? { rtcpRsize: 'rtcp-rsize' as const } : {}),
    ...(m.send ? { msid: [{ id: m.send.streamId, appdata: m.send.trackId }] } : {}),
    ext: (p.headerExtensions ?? []).map((h) => ({ value: h.id, uri: h.uri })),
    rtp: p.codecs.map((c) => ({ payload: c.payloadType, codec: c.mimeType.split('/')[1]!, rate: c.clockRate, ...(c.channels && c.channels > 1 ? { encoding: c.channels } : {}) })),
    rtcpFb: p.codecs.flatMap((c) => (c.rtcpFeedback ?? []).map((fb) => ({ payload: c.payloadType, type: fb.type, ...(fb.parameter ? { subtype: fb.parameter } : {}) }))),
    fmtp: p.codecs.filter((c) => fmtp(c) !== '').map((c) => ({ payload: c.payloadType, config: fmtp(c) })),
    // RFC 8853 §5.3: the answer receives the rids the offer sends, in its order.
    ...(m.simulcastRecv
      ? { rids: m.simulcastRecv.map((rid) => ({ id: rid, direction: 'recv' })), simulcast: { dir1: 'recv' as const, list1: m.simulcastRecv.join(';') } }
      : {}),
    ...(m.send?.rtxSsrc !== undefined ? { ssrcGroups: [{ semantics: 'FID', ssrcs: `${m.send.ssrc} ${m.send.rtxSsrc}` }] } : {}),
    ...(m.send ? { ssrcs: sent.map((ssrc) => ({ id: ssrc, attribute: 'cname', value: m.send!.cname })) } : {}),
    candidates: t.iceCandidates.map((c) => ({
      foundation: c.foundation,
      component: 1,
      transport: c.protocol,
      priority: c.priority,
      ip: c.address || c.ip,
      port: c.port,
      type: c.type,
      ...(c.protocol === 'tcp' ? { tcptype: c.tcpType ?? 'passive' } : {}),
    })),
    endOfCandidates: 'end-of-candidates',
  };
}

/** A fresh `o=` session id for an answer: random, 48 bits (a safe integer). */
export function newSdpSessionId(): string {
  return String(randomBytes(6).readUIntBE(0, 6));
}

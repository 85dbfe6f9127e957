import type { types as ms } from 'mediasoup';
import { parse as parseSdp, type MediaDescription, type SessionDescription } from 'sdp-transform';
import { InputError } from '../../common/index.ts';
import type { MediaKind } from '../types.ts';
import { checkLines, chooseCodec, offerTransport, type WhipOfferLimits } from '../whip/offer.ts';

/** A section of a WHEP offer the server sends on: the viewer's codec for it and the header extensions it reads. */
export interface WhepReceivingMedia {
  accepted: true;
  mid: string;
  kind: MediaKind;
  protocol: string;
  /** The viewer's codec, with the viewer's payload type: the server must send that number. */
  codec: ms.RtpCodecParameters;
  /** The extmaps the viewer offers for this section (its ids). */
  headerExtensions: { uri: string; id: number }[];
}

/** A section the answer rejects (port 0). */
export interface WhepRejectedMedia {
  accepted: false;
  mid: string | undefined;
  type: string;
  protocol: string;
  formats: string;
  reason: string;
}

export type WhepOfferedMedia = WhepReceivingMedia | WhepRejectedMedia;

export interface WhepOffer {
  iceUfrag: string;
  icePwd: string;
  fingerprints: ms.DtlsFingerprint[];
  extmapAllowMixed: boolean;
  /** The BUNDLE group's first accepted mid: the transport every accepted section shares. */
  bundleTag: string;
  media: WhepOfferedMedia[];
}

/** What the program is: Opus and H.264 constrained baseline (see ingest/programSource.ts). */
export const programCapabilities: ms.RtpCapabilities = {
  codecs: [
    { kind: 'audio', mimeType: 'audio/opus', preferredPayloadType: 111, clockRate: 48000, channels: 2, rtcpFeedback: [] },
    {
      kind: 'video',
      mimeType: 'video/H264',
      preferredPayloadType: 96,
      clockRate: 90000,
      parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
      rtcpFeedback: [
        { type: 'nack', parameter: '' },
        { type: 'nack', parameter: 'pli' },
        { type: 'ccm', parameter: 'fir' },
        { type: 'goog-remb', parameter: '' },
        { type: 'transport-cc', parameter: '' },
      ],
    },
  ],
  headerExtensions: [],
};

const rtpProtocols = new Set(['UDP/TLS/RTP/SAVPF', 'UDP/TLS/RTP/SAVP', 'TCP/DTLS/RTP/SAVPF', 'TCP/TLS/RTP/SAVPF']);
const malformed = (message: string) => new InputError('malformed-sdp', message, 400);
const unsupported = (message: string) => new InputError('unsupported-offer', message, 422);

/**
 * Validates a WHEP offer (draft-ietf-wish-whep: the viewer offers, receive-only)
 * and picks, per audio/video section the viewer receives on, the first of its
 * codecs the program is in (Opus; H.264 constrained baseline, packetization
 * mode 1), keeping the viewer's payload type and feedback. At most one audio and
 * one video section are served; others, and sections that only send, are
 * rejected in the answer. Pure. Throws InputError: 413, 400 malformed, 422 not
 * usable (no section with a program codec, no BUNDLE/rtcp-mux, passive DTLS).
 */
export function translateWhepOffer(sdp: unknown, limits: WhipOfferLimits): WhepOffer {
  if (typeof sdp !== 'string' || sdp.length === 0) throw malformed('the body must be an SDP offer');
  const bytes = Buffer.byteLength(sdp, 'utf8');
  if (bytes > limits.maxBytes) throw new InputError('offer-too-large', `the offer is ${bytes} bytes; at most ${limits.maxBytes} are accepted`, 413);
  checkLines(sdp, limits);
  let session: SessionDescription;
  try {
    session = parseSdp(sdp);
  } catch (err) {
    throw malformed(`the SDP cannot be parsed: ${(err as Error).message}`);
  }
  const bundle = (session.groups ?? []).find((g) => g.type === 'BUNDLE');
  const bundleOrder = bundle ? String(bundle.mids).split(' ') : [];
  const mids = new Set<string>();
  const media: WhepOfferedMedia[] = [];
  const sectionOf = new Map<string, MediaDescription>();
  const problems: string[] = [];

  session.media.forEach((m, index) => {
    const where = `m=${m.type} #${index}${m.mid !== undefined ? ` (mid ${m.mid})` : ''}`;
    const mid = m.mid === undefined ? undefined : String(m.mid);
    if (mid !== undefined) {
      if (mids.has(mid)) throw malformed(`${where}: mid ${mid} appears twice`);
      mids.add(mid);
    }
    const reject = (reason: string): void => {
      media.push({ accepted: false, mid, type: String(m.type), protocol: String(m.protocol), formats: String(m.payloads ?? ''), reason });
    };
    const bundleOnly = m.port === 0 && m.bundleOnly !== undefined;
    if (m.port === 0 && !bundleOnly) return reject('rejected by the offer (port 0)');
    if (m.type !== 'audio' && m.type !== 'video') return reject(`${m.type} is not served; only audio and video are`);
    const direction = m.direction ?? session.direction ?? 'sendrecv';
    if (direction !== 'recvonly' && direction !== 'sendrecv') return reject(`${where} does not receive (${direction}); a WHEP session only sends`);
    const kind: MediaKind = m.type;
    if (media.some((o) => o.accepted && o.kind === kind)) return reject(`the program has one ${kind} track, served on the first ${kind} section`);
    if (!rtpProtocols.has(String(m.protocol))) throw unsupported(`${where}: protocol ${m.protocol} is not WebRTC (UDP/TLS/RTP/SAVPF)`);
    if (mid === undefined) throw malformed(`${where}: a=mid is missing`);
    if (m.rtcpMux !== 'rtcp-mux' && !bundleOnly) throw unsupported(`${where}: a=rtcp-mux is required`);
    const setup = m.setup ?? session.setup;
    if (setup !== 'actpass' && setup !== 'active' && !(bundleOnly && setup === undefined)) {
      throw unsupported(`${where}: a=setup:${setup ?? '(missing)'}; the WHEP client must be the DTLS client (actpass or active)`);
    }
    const chosen = chooseCodec(m, kind, programCapabilities);
    if (typeof chosen === 'string') {
      problems.push(`${where}: ${chosen}`);
      return reject(chosen);
    }
    const feedback = (m.rtcpFb ?? [])
      .filter((fb) => fb.payload === '*' || Number(fb.payload) === chosen.payloadType)
      .map((fb) => ({ type: String(fb.type), parameter: fb.subtype === undefined ? '' : String(fb.subtype) }))
      .filter((fb) => (chosen.capability.rtcpFeedback ?? []).some((c) => c.type === fb.type && (c.parameter ?? '') === fb.parameter));
    const headerExtensions = (m.ext ?? [])
      .filter((e) => e.direction !== 'sendonly' && e.direction !== 'inactive')
      .map((e) => ({ uri: String(e.uri), id: Number(e.value) }))
      .filter((e) => Number.isInteger(e.id) && e.id >= 1 && e.id <= 255);
    media.push({
      accepted: true,
      mid,
      kind,
      protocol: String(m.protocol),
      codec: {
        mimeType: chosen.capability.mimeType,
        payloadType: chosen.payloadType,
        clockRate: chosen.capability.clockRate,
        ...(chosen.channels !== undefined && chosen.channels > 1 ? { channels: chosen.channels } : {}),
        parameters: chosen.parameters,
        rtcpFeedback: feedback,
      },
      headerExtensions,
    });
    sectionOf.set(mid, m);
  });

  const accepted = media.filter((m): m is WhepReceivingMedia => m.accepted);
  if (accepted.length === 0) {
    throw unsupported(problems.length ? `no usable codec: ${problems.join('; ')}` : 'the offer receives no audio or video; a WHEP offer has recvonly audio and/or video sections');
  }
  if (accepted.length > 1 && !accepted.every((m) => bundleOrder.includes(m.mid))) {
    throw unsupported('every media section must be in one a=group:BUNDLE (one transport per session)');
  }
  const tagged = bundleOrder.map((id) => accepted.find((a) => a.mid === id && sectionOf.get(id)!.port !== 0)).find((a) => a !== undefined) ?? accepted.find((a) => sectionOf.get(a.mid)!.port !== 0);
  if (!tagged) throw unsupported('no accepted section has a port of its own to carry the BUNDLE group (RFC 8843 §7.3.1)');
  return {
    ...offerTransport(session, sectionOf.get(tagged.mid)!),
    extmapAllowMixed: session.extmapAllowMixed !== undefined || session.media.some((m) => m.extmapAllowMixed !== undefined),
    bundleTag: tagged.mid,
    media,
  };
}

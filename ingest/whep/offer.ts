import type { types as ms } from 'mediasoup';
import type { MediaDescription } from 'sdp-transform';
import type { MediaKind } from '../types.ts';
import { chooseCodec, codecParameters, feedbackFor } from '../webrtcHttp/codec.ts';
import { bundleGroup, checkOneTransport, checkRtpSection, checkSetup, offerOf, parseOffer, takeSections, unsupported, type OfferLimits, type RejectedMedia, type SdpOffer } from '../webrtcHttp/offer.ts';

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

export type WhepOfferedMedia = WhepReceivingMedia | RejectedMedia;

/** A validated WHEP offer: the sections the server sends on, under the viewer's payload types. */
export type WhepOffer = SdpOffer<WhepReceivingMedia>;

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

/**
 * Validates a WHEP offer (draft-ietf-wish-whep: the viewer offers, receive-only)
 * and picks, per audio/video section the viewer receives on, the first of its
 * codecs the program is in (Opus; H.264 constrained baseline, packetization
 * mode 1), keeping the viewer's payload type and feedback. At most one audio and
 * one video section are served; others, and sections that only send, are
 * rejected in the answer. Pure. Throws InputError: 413, 400 malformed, 422 not
 * usable (no section with a program codec, no BUNDLE/rtcp-mux, passive DTLS).
 */
export function translateWhepOffer(sdp: unknown, limits: OfferLimits): WhepOffer {
  const session = parseOffer(sdp, limits);
  const bundleOrder = bundleGroup(session);
  const sectionOf = new Map<string, MediaDescription>();
  const problems: string[] = [];

  const media = takeSections<WhepReceivingMedia>(session, 'WHEP', (s, taken) => {
    const { m, where, kind } = s;
    if (taken.some((o) => o.kind === kind)) return `the program has one ${kind} track, served on the first ${kind} section`;
    const mid = checkRtpSection(s);
    checkSetup(s, session, 'WHEP');
    const chosen = chooseCodec(m, kind, programCapabilities);
    if (typeof chosen === 'string') {
      problems.push(`${where}: ${chosen}`);
      return chosen;
    }
    const headerExtensions = (m.ext ?? [])
      .filter((e) => e.direction !== 'sendonly' && e.direction !== 'inactive')
      .map((e) => ({ uri: String(e.uri), id: Number(e.value) }))
      .filter((e) => Number.isInteger(e.id) && e.id >= 1 && e.id <= 255);
    sectionOf.set(mid, m);
    return {
      accepted: true,
      mid,
      kind,
      protocol: String(m.protocol),
      codec: codecParameters(chosen, feedbackFor(m, chosen)),
      headerExtensions,
    };
  });

  const accepted = media.filter((m): m is WhepReceivingMedia => m.accepted);
  if (accepted.length === 0) {
    throw unsupported(problems.length ? `no usable codec: ${problems.join('; ')}` : 'the offer receives no audio or video; a WHEP offer has recvonly audio and/or video sections');
  }
  checkOneTransport(accepted, bundleOrder);
  const tagged = bundleOrder.map((id) => accepted.find((a) => a.mid === id && sectionOf.get(id)!.port !== 0)).find((a) => a !== undefined) ?? accepted.find((a) => sectionOf.get(a.mid)!.port !== 0);
  if (!tagged) throw unsupported('no accepted section has a port of its own to carry the BUNDLE group (RFC 8843 §7.3.1)');
  return offerOf(session, sectionOf.get(tagged.mid)!, tagged.mid, media);
}

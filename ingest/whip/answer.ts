import { writeAnswer, type AnswerSection, type AnswerTransport } from '../webrtcHttp/answer.ts';
import type { WhipOffer } from './offer.ts';

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
export function buildAnswer(offer: WhipOffer, transport: AnswerTransport, opts: { sessionId: string }): string {
  const sections = offer.media.map((m): AnswerSection =>
    m.accepted
      ? { accepted: true, kind: m.kind, mid: m.mid, protocol: m.protocol, direction: 'recvonly', rtpParameters: m.rtpParameters, ...(m.simulcast ? { simulcastRecv: m.simulcast.rids } : {}) }
      : m,
  );
  return writeAnswer(sections, { bundleTag: offer.bundleTag, extmapAllowMixed: offer.extmapAllowMixed }, transport, opts);
}

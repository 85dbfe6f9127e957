import type { types as ms } from 'mediasoup';
import { parse as parseSdp, type MediaDescription, type SessionDescription } from 'sdp-transform';
import { InputError } from '../../common/index.ts';
import type { MediaKind } from '../types.ts';
import type { RejectedAnswerSection } from './answer.ts';

/**
 * What WHIP and WHEP offers have in common and are checked alike: the bounds
 * on the text, its parsing, the m= sections walked in order (mids, port 0 and
 * bundle-only, media type, direction, RTP profile, rtcp-mux, DTLS setup), the
 * one BUNDLE group and the transport (ICE credentials, fingerprint) of its
 * offerer-tagged section. WHIP and WHEP keep what differs: which way the media
 * goes and what becomes of an accepted section. Pure.
 */

/** Bounds on what an offer may be; anything beyond is refused before it is parsed. */
export interface OfferLimits {
  /** Largest offer in bytes (413 beyond). */
  maxBytes: number;
  /** Most `m=` sections an offer may carry (422 beyond). */
  maxMediaSections: number;
  /** Longest SDP line (400 beyond). */
  maxLineLength: number;
}

export const defaultOfferLimits: OfferLimits = { maxBytes: 32 * 1024, maxMediaSections: 8, maxLineLength: 2048 };

/** A media section the answer rejects (port 0): disabled by the offer (port 0 without bundle-only), going the wrong way, or not audio/video. */
export interface RejectedMedia extends RejectedAnswerSection {
  reason: string;
}

/** A validated offer: the transport its sections share, and each section, taken (`A`) or rejected. */
export interface SdpOffer<A> {
  iceUfrag: string;
  icePwd: string;
  /** The client's DTLS fingerprints (the client is the DTLS client). */
  fingerprints: ms.DtlsFingerprint[];
  extmapAllowMixed: boolean;
  /**
   * The mid of the offerer-tagged section (RFC 8843 §7.3.1): the first mid of
   * the BUNDLE group that is accepted and has a port of its own. Its transport
   * (ICE, DTLS) carries every accepted section; the answer names it first.
   */
  bundleTag: string;
  /** Every m= section, in offer order (the answer keeps the order). */
  media: (A | RejectedMedia)[];
}

/** The protocol an offer comes in: WHIP (the client sends, RFC 9725) or WHEP (the client receives). */
export type OfferProtocol = 'WHIP' | 'WHEP';

const fingerprintAlgorithms = new Set(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']);
const rtpProtocols = new Set(['UDP/TLS/RTP/SAVPF', 'UDP/TLS/RTP/SAVP', 'TCP/DTLS/RTP/SAVPF', 'TCP/TLS/RTP/SAVPF']);

export const malformed = (message: string) => new InputError('malformed-sdp', message, 400);
export const unsupported = (message: string) => new InputError('unsupported-offer', message, 422);

/** Checks an offer's size and lines, then parses it: 413 too large, 400 malformed, 422 too many sections. */
export function parseOffer(sdp: unknown, limits: OfferLimits): SessionDescription {
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
  if (!Array.isArray(session.media) || session.media.length === 0) throw malformed('the offer has no m= section');
  return session;
}

/** Cheap checks on the raw text before a parser sees it (400 malformed, 422 too many sections). */
export function checkLines(sdp: string, limits: OfferLimits): void {
  const lines = sdp.split(/\r?\n/);
  if (lines[0] !== 'v=0') throw malformed('an SDP starts with "v=0"');
  let sections = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '' && i === lines.length - 1) break;
    if (line.length > limits.maxLineLength) throw malformed(`line ${i + 1} is longer than ${limits.maxLineLength} characters`);
    if (!/^[a-z]=/.test(line)) throw malformed(`line ${i + 1} is not "<letter>=<value>": ${JSON.stringify(line.slice(0, 40))}`);
    if (line.startsWith('m=') && ++sections > limits.maxMediaSections) {
      throw unsupported(`the offer has more than ${limits.maxMediaSections} m= sections`);
    }
  }
  if (sections === 0) throw malformed('the offer has no m= section');
}

/** The mids of the offer's BUNDLE group, in its order (none without one). */
export function bundleGroup(session: SessionDescription): string[] {
  const bundle = (session.groups ?? []).find((g) => g.type === 'BUNDLE');
  return bundle ? String(bundle.mids).split(' ') : [];
}

/** An audio or video m= section going the protocol's way, not disabled: what a protocol then checks further and takes. */
export interface OfferedSection {
  m: MediaDescription;
  /** Names the section in messages: `m=video #1 (mid 1)`. */
  where: string;
  mid: string | undefined;
  kind: MediaKind;
  /** Port 0 with `a=bundle-only` (RFC 8843 §6): to be taken within the BUNDLE group, on its transport. */
  bundleOnly: boolean;
}

/**
 * Walks an offer's m= sections in order and gives each audio or video section
 * going the protocol's way (the client sends on WHIP, receives on WHEP) to
 * `take`, which returns what it takes of it, a reason to reject it, or
 * nothing to leave it out. Sections disabled by the offer (port 0 without
 * bundle-only), of another media type or going the other way are rejected
 * here. A mid seen twice is malformed (400).
 */
export function takeSections<A extends { accepted: true }>(
  session: SessionDescription,
  protocol: OfferProtocol,
  take: (section: OfferedSection, taken: readonly A[]) => A | string | undefined,
): (A | RejectedMedia)[] {
  const clientSends = protocol === 'WHIP';
  const mids = new Set<string>();
  const media: (A | RejectedMedia)[] = [];
  const taken: A[] = [];
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
    // Port 0 disables a section, unless it is bundle-only: then it is to be taken within the BUNDLE group (RFC 8843 §7.2).
    const bundleOnly = m.port === 0 && m.bundleOnly !== undefined;
    if (m.port === 0 && !bundleOnly) return reject('rejected by the offer (port 0)');
    if (m.type !== 'audio' && m.type !== 'video') return reject(`${m.type} is not ${clientSends ? 'taken' : 'served'}; only audio and video are`);
    const direction = m.direction ?? session.direction ?? 'sendrecv';
    if (direction !== (clientSends ? 'sendonly' : 'recvonly') && direction !== 'sendrecv') {
      return reject(clientSends ? `${where} does not send (${direction}); a WHIP session only receives` : `${where} does not receive (${direction}); a WHEP session only sends`);
    }
    const result = take({ m, where, mid, kind: m.type, bundleOnly }, taken);
    if (typeof result === 'string') return reject(result);
    if (result === undefined) return;
    media.push(result);
    taken.push(result);
  });
  return media;
}

/**
 * Checks that a section is WebRTC media that can share the session's
 * transport: an RTP/SAVPF profile (422), a mid (400), rtcp-mux unless it is
 * bundle-only and inherits it (422). Returns the mid.
 */
export function checkRtpSection(s: OfferedSection): string {
  const { m, where } = s;
  if (!rtpProtocols.has(String(m.protocol))) throw unsupported(`${where}: protocol ${m.protocol} is not WebRTC (UDP/TLS/RTP/SAVPF)`);
  if (s.mid === undefined) throw malformed(`${where}: a=mid is missing`);
  // A bundle-only section may leave out the transport attributes: it takes the offerer-tagged section's.
  if (m.rtcpMux !== 'rtcp-mux' && !s.bundleOnly) throw unsupported(`${where}: a=rtcp-mux is required`);
  return s.mid;
}

/** The client must be the DTLS client (`a=setup:actpass` or `active`; a bundle-only section may leave it out): 422 otherwise. */
export function checkSetup(s: OfferedSection, session: SessionDescription, protocol: OfferProtocol): void {
  const setup = s.m.setup ?? session.setup;
  if (setup !== 'actpass' && setup !== 'active' && !(s.bundleOnly && setup === undefined)) {
    throw unsupported(`${s.where}: a=setup:${setup ?? '(missing)'}; the ${protocol} client must be the DTLS client (actpass or active)`);
  }
}

/** More than one accepted section must all be in the BUNDLE group: one transport per session (422). */
export function checkOneTransport(accepted: readonly { mid: string }[], bundled: readonly string[]): void {
  if (accepted.length > 1 && !accepted.every((m) => bundled.includes(m.mid))) {
    throw unsupported('every media section must be in one a=group:BUNDLE (one transport per session)');
  }
}

/** The offer, once its sections are taken: the tagged section's transport, `extmapAllowMixed` from any level. */
export function offerOf<A>(session: SessionDescription, tagged: MediaDescription, bundleTag: string, media: (A | RejectedMedia)[]): SdpOffer<A> {
  return {
    ...offerTransport(session, tagged),
    extmapAllowMixed: session.extmapAllowMixed !== undefined || session.media.some((m) => m.extmapAllowMixed !== undefined),
    bundleTag,
    media,
  };
}

/**
 * The ICE credentials and DTLS fingerprint of the section whose transport the
 * session uses (session-level values where the section has none), checked.
 */
export function offerTransport(session: SessionDescription, section: MediaDescription): { iceUfrag: string; icePwd: string; fingerprints: ms.DtlsFingerprint[] } {
  const iceUfrag = String(section.iceUfrag ?? session.iceUfrag);
  const icePwd = String(section.icePwd ?? session.icePwd);
  const fp = section.fingerprint ?? session.fingerprint;
  if (!fp) throw malformed('a=fingerprint is required (DTLS-SRTP)');
  const algorithm = String(fp.type).toLowerCase();
  const value = String(fp.hash);
  if (!fingerprintAlgorithms.has(algorithm)) throw malformed(`fingerprint algorithm ${fp.type} is not one of ${[...fingerprintAlgorithms].join(', ')}`);
  if (!/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){15,63}$/.test(value)) throw malformed('the fingerprint is not colon-separated hex');
  if (!/^[A-Za-z0-9+/]{4,256}$/.test(iceUfrag) || !/^[A-Za-z0-9+/]{22,256}$/.test(icePwd)) {
    throw malformed('a=ice-ufrag must be 4-256 and a=ice-pwd 22-256 ice-chars (RFC 8839)');
  }
  return { iceUfrag, icePwd, fingerprints: [{ algorithm: algorithm as ms.FingerprintAlgorithm, value: value.toUpperCase() }] };
}

import type { types as ms } from 'mediasoup';
import type { MediaDescription } from 'sdp-transform';
import type { MediaKind } from '../types.ts';
import { chooseCodec, codecParameters, feedbackFor, fmtpOf, type ChosenCodec } from '../webrtcHttp/codec.ts';
import { bundleGroup, checkOneTransport, checkRtpSection, checkSetup, defaultOfferLimits, malformed, offerOf, parseOffer, takeSections, unsupported, type OfferLimits, type RejectedMedia, type SdpOffer } from '../webrtcHttp/offer.ts';

/** A media section of the offer the server receives: what `transport.produce()` gets. */
export interface AcceptedMedia {
  accepted: true;
  mid: string;
  kind: MediaKind;
  /** The m-line's transport protocol, echoed in the answer. */
  protocol: string;
  /**
   * Offered "bundle-only" (RFC 8843 §6: port 0 with `a=bundle-only`, as
   * max-bundle clients such as GStreamer's webrtcbin send every m-line after
   * the first): taken only inside the BUNDLE group, on its transport.
   */
  bundleOnly: boolean;
  rtpParameters: ms.RtpParameters;
  /**
   * RFC 8853 simulcast: the rids the client sends, in the offer's order (the
   * answer's `a=simulcast:recv` mirrors it). `rtpParameters.encodings` holds the
   * same rids lowest quality first, as mediasoup numbers spatial layers.
   */
  simulcast?: { rids: string[] };
}

export type OfferedMedia = AcceptedMedia | RejectedMedia;

/** A validated WHIP offer, translated for mediasoup. */
export type WhipOffer = SdpOffer<AcceptedMedia>;

/**
 * Validates a WHIP offer and translates each m= section the client sends into
 * mediasoup RTP parameters for `transport.produce()`, choosing per section the
 * first codec (in the client's order of preference) the stage's router takes.
 * Pure: no I/O. Throws only InputError: 413 too large, 400 malformed, 422 not
 * usable (no supported codec, legacy SSRC-group simulcast, no BUNDLE/rtcp-mux,
 * passive DTLS, or a track the client sends that the session could not take).
 *
 * Simulcast (RFC 8853 `a=simulcast:send` with `a=rid`, RFC 8851, as OBS 30+
 * and browsers send it) is taken for video: one encoding per rid. The list's
 * order is the client's preference, most preferred first (RFC 8853 §5.1),
 * which clients use for the best layer (OBS sends `0;1;2`, full size first);
 * mediasoup wants the lowest first, so the list is reversed, unless every rid
 * states `max-height` (or `max-width`), which orders them outright.
 *
 * A section with port 0 is disabled by the offerer and rejected, except one
 * with `a=bundle-only` whose mid is in the BUNDLE group (RFC 8843 §6, §7.2):
 * that one is taken like any other, within the group, on the transport of the
 * offerer-tagged section, from which it inherits the transport attributes it
 * may leave out (ICE credentials, fingerprint, setup, rtcp-mux, rtcp-rsize;
 * JSEP §5.2.1). Nothing the client sends is dropped quietly: an audio or video
 * section it sends that cannot be taken refuses the whole offer (422).
 */
export function translateOffer(sdp: unknown, caps: ms.RtpCapabilities, limits: OfferLimits = defaultOfferLimits): WhipOffer {
  const session = parseOffer(sdp, limits);
  const bundleOrder = bundleGroup(session);
  const bundled = new Set(bundleOrder);
  /** The m= section each accepted entry of `media` came from. */
  const sectionOf = new Map<AcceptedMedia, MediaDescription>();
  const problems: string[] = [];

  const media = takeSections<AcceptedMedia>(session, 'WHIP', (s, taken) => {
    const { m, where, kind, bundleOnly } = s;
    const mid = checkRtpSection(s);
    if (bundleOnly && !bundled.has(mid)) {
      throw unsupported(`${where}: a=bundle-only (port 0), but mid ${mid} is not in the a=group:BUNDLE; such a section can only be taken within that group (RFC 8843)`);
    }
    if (m.ssrcGroups?.some((g) => g.semantics === 'SIM')) {
      throw unsupported(`${where}: simulcast by a=ssrc-group:SIM is not supported; send RFC 8853 simulcast (a=rid, a=simulcast:send)`);
    }
    if (m.simulcast_03) throw unsupported(`${where}: draft-03 simulcast ("a=simulcast: send rid=…") is not supported; send RFC 8853 a=simulcast:send`);
    const simulcast = simulcastOf(m, kind, where);
    if (taken.some((o) => o.kind === kind)) throw unsupported(`${where}: a WHIP session sends at most one ${kind} track`);
    const ufrag = m.iceUfrag ?? session.iceUfrag;
    const pwd = m.icePwd ?? session.icePwd;
    if ((!ufrag || !pwd) && !(bundleOnly && !ufrag && !pwd)) throw malformed(`${where}: a=ice-ufrag and a=ice-pwd are required`);
    if (!(m.fingerprint ?? session.fingerprint) && !bundleOnly) throw malformed(`${where}: a=fingerprint is required (DTLS-SRTP)`);
    checkSetup(s, session, 'WHIP');

    const chosen = chooseCodec(m, kind, caps);
    if (typeof chosen === 'string') {
      problems.push(`${where}: ${chosen}`);
      return undefined;
    }
    const rtpParameters = buildRtpParameters(m, kind, mid, chosen, caps, where, simulcast);
    const accepted: AcceptedMedia = {
      accepted: true,
      mid,
      kind,
      protocol: String(m.protocol),
      bundleOnly,
      rtpParameters,
      ...(simulcast ? { simulcast: { rids: simulcast.offered } } : {}),
    };
    sectionOf.set(accepted, m);
    return accepted;
  });

  if (problems.length) throw unsupported(`no usable codec: ${problems.join('; ')}`);
  const accepted = media.filter((m): m is AcceptedMedia => m.accepted);
  if (accepted.length === 0) throw unsupported('the offer sends no audio or video this server can receive');
  checkOneTransport(accepted, bundleOrder);

  // The offerer-tagged section (RFC 8843 §7.3.1): the first mid of the BUNDLE group we take that has a port of its
  // own (a bundle-only section never is); a lone section outside any BUNDLE group is its own.
  const tagged =
    bundleOrder.map((id) => accepted.find((a) => a.mid === id)).find((a) => a !== undefined && !a.bundleOnly) ??
    accepted.find((a) => !a.bundleOnly && !bundled.has(a.mid));
  if (!tagged) {
    // Only bundle-only sections are left to take, and they cannot be moved out of the group (§7.3.2): refuse the offer
    // rather than answer without the tracks the client sends.
    const carrier = media.find((o) => o.mid !== undefined && o.mid === bundleOrder[0]);
    const why = carrier && !carrier.accepted ? `the section that carries it (mid ${carrier.mid}) is not taken: ${carrier.reason}` : 'no section of the group has a port of its own';
    throw unsupported(
      `the bundle-only sections (mid ${accepted.map((a) => a.mid).join(', ')}) need the BUNDLE group's transport, and ${why}; the offer cannot be taken whole (RFC 8843 §7.3.1)`,
    );
  }

  // All accepted sections share one transport, the tagged section's: one set of ICE credentials and fingerprints.
  const first = sectionOf.get(tagged)!;
  for (const a of accepted) {
    // rtcp-rsize is a transport attribute too: a bundle-only section that leaves it out follows the tagged one.
    if (a.bundleOnly && sectionOf.get(a)!.rtcpRsize === undefined) a.rtpParameters.rtcp = { ...a.rtpParameters.rtcp, reducedSize: first.rtcpRsize === 'rtcp-rsize' };
  }
  return offerOf(session, first, tagged.mid, media);
}

/** Most simulcast layers one track may send (OBS offers 1–4). */
const MAX_SIMULCAST_LAYERS = 4;
const RID_EXTENSION = 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id';

interface SimulcastOffer {
  /** The rids as the offer lists them (the answer mirrors this order). */
  offered: string[];
  /** The same rids, lowest quality first (mediasoup's spatial layer order). */
  layers: string[];
  /** Each rid's payload-type restriction (`pt=`), if any. */
  payloadTypes: Map<string, number[]>;
}

/**
 * The simulcast a section sends (RFC 8853 §5.1: `a=simulcast:send` lists
 * streams separated by `;`, alternatives by `,`, a paused stream prefixed
 * `~`), or undefined when it sends one encoding. Of a stream's alternatives
 * the first is taken; every rid must be declared `a=rid:<id> send`.
 */
function simulcastOf(m: MediaDescription, kind: MediaKind, where: string): SimulcastOffer | undefined {
  const sc = m.simulcast;
  const rids = (m.rids ?? []).filter((r) => String(r.direction) === 'send');
  if (!sc) {
    if (rids.length > 1) throw unsupported(`${where}: ${rids.length} a=rid send lines without a=simulcast:send; which of them are sent is not said`);
    return undefined;
  }
  const send = sc.dir1 === 'send' ? sc.list1 : sc.dir2 === 'send' ? sc.list2 : undefined;
  if (send === undefined) throw unsupported(`${where}: a=simulcast has no send direction; a WHIP session only receives`);
  if (kind !== 'video') throw unsupported(`${where}: simulcast is taken for video only`);
  const offered = String(send)
    .split(';')
    .map((stream) => stream.split(',')[0]!.replace(/^~/, ''));
  for (const id of offered) {
    if (!/^[A-Za-z0-9_-]{1,16}$/.test(id)) throw malformed(`${where}: simulcast rid ${JSON.stringify(id)} is not 1-16 letters, digits, "-" or "_" (RFC 8851)`);
    if (!rids.some((r) => String(r.id) === id)) throw malformed(`${where}: simulcast rid ${id} has no a=rid:${id} send line`);
  }
  if (new Set(offered).size !== offered.length) throw malformed(`${where}: a rid appears twice in a=simulcast`);
  if (offered.length > MAX_SIMULCAST_LAYERS) throw unsupported(`${where}: ${offered.length} simulcast layers; at most ${MAX_SIMULCAST_LAYERS} are taken`);
  if (!(m.ext ?? []).some((e) => e.uri === RID_EXTENSION)) {
    throw unsupported(`${where}: simulcast needs the a=extmap ${RID_EXTENSION} header extension, which tells the layers apart`);
  }
  // Each rid's restrictions (RFC 8851 §4: `key=value` separated by `;`), read once.
  const restrictions = new Map(
    offered.map((id) => {
      const params = String(rids.find((r) => String(r.id) === id)?.params ?? '');
      const pairs = params.split(';').flatMap((p) => {
        const at = p.indexOf('=');
        return at > 0 ? [[p.slice(0, at).trim(), p.slice(at + 1).trim()] as const] : [];
      });
      return [id, new Map(pairs)] as const;
    }),
  );
  const restriction = (id: string, key: string): number | undefined => {
    const v = Number(restrictions.get(id)?.get(key) ?? NaN);
    return Number.isFinite(v) ? v : undefined;
  };
  const payloadTypes = new Map<string, number[]>();
  for (const [id, r] of restrictions) {
    const pt = r.get('pt');
    if (pt !== undefined) payloadTypes.set(id, pt.split(',').map(Number));
  }
  const sizeKey = offered.every((id) => restriction(id, 'max-height') !== undefined) ? 'max-height' : offered.every((id) => restriction(id, 'max-width') !== undefined) ? 'max-width' : undefined;
  const layers = sizeKey ? [...offered].sort((a, b) => restriction(a, sizeKey)! - restriction(b, sizeKey)!) : [...offered].reverse();
  return { offered, layers, payloadTypes };
}

function buildRtpParameters(
  m: MediaDescription,
  kind: MediaKind,
  mid: string,
  chosen: ChosenCodec,
  caps: ms.RtpCapabilities,
  where: string,
  simulcast: SimulcastOffer | undefined,
): ms.RtpParameters {
  const offered = feedbackFor(m, chosen);
  // Each once: an offer may give one twice (under `*` and under the payload type).
  const feedback = offered.filter((f, i) => offered.findIndex((g) => g.type === f.type && g.parameter === f.parameter) === i);
  const codecs: ms.RtpCodecParameters[] = [codecParameters(chosen, feedback)];

  // Retransmission (RFC 4588) for the chosen codec, when the router does rtx for this kind.
  const routerRtx = (caps.codecs ?? []).some((c) => c.kind === kind && /\/rtx$/i.test(c.mimeType));
  const rtxPt = routerRtx
    ? (m.rtp ?? []).find((r) => /^rtx$/i.test(String(r.codec)) && Number(fmtpOf(m, Number(r.payload)).apt) === chosen.payloadType)
    : undefined;

  const rtxCodec: ms.RtpCodecParameters | undefined = rtxPt
    ? { mimeType: `${kind}/rtx`, payloadType: Number(rtxPt.payload), clockRate: Number(rtxPt.rate), parameters: { apt: chosen.payloadType }, rtcpFeedback: [] }
    : undefined;

  if (simulcast) {
    for (const [rid, pts] of simulcast.payloadTypes) {
      if (!pts.includes(chosen.payloadType)) throw unsupported(`${where}: rid ${rid} may only send payload types ${pts.join(',')}, not the chosen ${chosen.payloadType}`);
    }
    // RTX of a rid stream is told apart by its repaired-rtp-stream-id, not by a declared SSRC.
    if (rtxCodec) codecs.push(rtxCodec);
    return finishParameters(m, kind, mid, codecs, caps, where, simulcast.layers.map((rid) => ({ rid })), undefined);
  }
  const ssrcGroups = m.ssrcGroups ?? [];
  const fid = ssrcGroups.find((g) => g.semantics === 'FID');
  const fidSsrcs = fid ? String(fid.ssrcs).split(' ').map(Number) : [];
  const declared = [...new Set((m.ssrcs ?? []).map((s) => Number(s.id)))];
  const ssrc = fidSsrcs[0] ?? declared[0];
  if (ssrc === undefined || !Number.isInteger(ssrc) || ssrc <= 0 || ssrc > 0xffffffff) {
    throw unsupported(`${where}: the offer must declare its SSRC (a=ssrc)`);
  }
  const rtxSsrc = fidSsrcs[1];
  const encoding: ms.RtpEncodingParameters = { ssrc };
  if (rtxCodec && rtxSsrc !== undefined && Number.isInteger(rtxSsrc) && rtxSsrc > 0 && rtxSsrc <= 0xffffffff && rtxSsrc !== ssrc) {
    codecs.push(rtxCodec);
    encoding.rtx = { ssrc: rtxSsrc };
  }
  return finishParameters(m, kind, mid, codecs, caps, where, [encoding], ssrc);
}

/** Header extensions, encodings and RTCP of the parameters: what the router takes of the offer's extmaps. */
function finishParameters(
  m: MediaDescription,
  kind: MediaKind,
  mid: string,
  codecs: ms.RtpCodecParameters[],
  caps: ms.RtpCapabilities,
  where: string,
  encodings: ms.RtpEncodingParameters[],
  ssrc: number | undefined,
): ms.RtpParameters {
  const headerExtensions: ms.RtpHeaderExtensionParameters[] = [];
  for (const ext of m.ext ?? []) {
    const uri = String(ext.uri);
    const id = Number(ext.value);
    if (!Number.isInteger(id) || id < 1 || id > 255) throw malformed(`${where}: a=extmap id ${ext.value} is out of range`);
    if (ext.direction === 'recvonly' || ext.direction === 'inactive') continue;
    const cap = (caps.headerExtensions ?? []).find((h) => h.kind === kind && h.uri === uri && h.direction !== 'sendonly' && h.direction !== 'inactive');
    if (!cap || headerExtensions.some((h) => h.id === id || h.uri === uri)) continue;
    headerExtensions.push({ uri: uri as ms.RtpHeaderExtensionUri, id, encrypt: false, parameters: {} });
  }

  const cname = (m.ssrcs ?? []).find((s) => (ssrc === undefined || Number(s.id) === ssrc) && s.attribute === 'cname')?.value;
  return {
    mid,
    codecs,
    headerExtensions,
    encodings,
    rtcp: { ...(cname ? { cname: String(cname).slice(0, 255) } : {}), reducedSize: m.rtcpRsize === 'rtcp-rsize' },
  };
}

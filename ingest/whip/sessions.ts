import type { types as ms } from 'mediasoup';
import { InputError, type Logger } from '../../common/index.ts';
import type { HostTokenClaims } from '../hostToken.ts';
import type { Sfu } from '../sfu.ts';
import type { Host, Stage } from '../stage.ts';
import type { ProducerInfo } from '../types.ts';
import { newSdpSessionId } from '../webrtcHttp/answer.ts';
import type { OfferLimits } from '../webrtcHttp/offer.ts';
import { asOfferError, SdpSession, SdpSessions, digestToken, withOfferParameters, type SdpSessionEndReason, type SdpSessionsEvents } from '../webrtcHttp/sessions.ts';
import { buildAnswer } from './answer.ts';
import { translateOffer, type WhipOffer } from './offer.ts';

/** Why a WHIP session ended. */
export type WhipSessionEndReason = SdpSessionEndReason;

export type WhipSessionsEvents = SdpSessionsEvents<WhipSession, WhipSessionEndReason>;

export interface WhipSessionsOptions {
  limits: OfferLimits;
  /** A session not connected (DTLS up) by then is ended, freeing its host slot. */
  connectTimeoutMs: number;
}

/**
 * One WHIP publisher: a Host on the stage with one WebRtcTransport and a
 * producer per offered track. It ends when deleted, when its transport's
 * ICE/DTLS fails or closes, or when it never connects.
 */
export class WhipSession extends SdpSession {
  constructor(
    stage: Stage,
    readonly host: Host,
    readonly producers: ProducerInfo[],
    answer: string,
    tokenDigest: Buffer,
    onEnd: (s: SdpSession, reason: WhipSessionEndReason) => void,
  ) {
    super(stage, answer, tokenDigest, onEnd);
  }

  /** The host leaves the stage and its producers close. */
  protected override release(): void {
    this.host.close();
  }
}

/**
 * The WHIP sessions of this SFU (RFC 9725): an offer from a client holding a
 * host token becomes a Host on the stage, so the broadcast pipeline sees its
 * producers exactly like a browser host's. Sessions are tracked here and all
 * ended on close().
 */
export class WhipSessions extends SdpSessions<WhipSession> {
  readonly #sfu: Sfu;
  readonly #opts: WhipSessionsOptions;

  constructor(sfu: Sfu, opts: WhipSessionsOptions, logger: Logger) {
    super({ protocol: 'WHIP', service: 'WHIP ingest', tokenHolder: 'host', connectTimeoutMs: opts.connectTimeoutMs }, logger);
    this.#sfu = sfu;
    this.#opts = opts;
  }

  /** Checks the bearer token for the stage: 401 bad/expired, 403 another stage's, 404 no such stage. */
  authorize(stageId: string, token: string | undefined): { stage: Stage; claims: HostTokenClaims } {
    if (!token) throw new InputError('unauthorized', 'a host token is required: Authorization: Bearer <token>', 401);
    return this.#sfu.authorize(stageId, token);
  }

  /**
   * Creates a session from an offer: validates and translates it (nothing is
   * allocated for a bad one), joins the stage as a host (409 when full), opens
   * the transport and produces each track. Any failure leaves nothing behind.
   */
  async create(auth: { stage: Stage; claims: HostTokenClaims }, token: string, sdp: unknown, remote?: string): Promise<WhipSession> {
    this.checkOpen();
    const { stage, claims } = auth;
    const offer = translateOffer(sdp, stage.rtpCapabilities, this.#opts.limits);
    if (claims.role === 'host-audio' && offer.media.some((m) => m.accepted && m.kind === 'video')) {
      throw new InputError('forbidden', 'this host token allows audio only, and the offer sends video', 403);
    }
    const host = stage.addHost(claims.role, claims.name ?? 'WHIP');
    const log = this.log.child({ stage: stage.id, host: host.id, remote });
    try {
      return await this.#open(stage, host, offer, token, log);
    } catch (err) {
      host.close();
      throw asOfferError(err, false);
    }
  }

  async #open(stage: Stage, host: Host, offer: WhipOffer, token: string, log: Logger): Promise<WhipSession> {
    const transport = await host.createTransport();
    // The offer's fingerprints and RTP parameters: what mediasoup refuses of them is the offer's fault.
    await withOfferParameters(() => host.connectTransport(transport.id, { role: 'client', fingerprints: offer.fingerprints }));
    const producers: ProducerInfo[] = [];
    for (const m of offer.media) {
      if (m.accepted) producers.push(await withOfferParameters(() => host.produce(transport.id, m.kind, m.rtpParameters)));
    }
    const answer = buildAnswer(
      offer,
      {
        iceParameters: transport.iceParameters as ms.IceParameters,
        iceCandidates: transport.iceCandidates as ms.IceCandidate[],
        dtlsParameters: transport.dtlsParameters as ms.DtlsParameters,
      },
      { sessionId: newSdpSessionId() },
    );
    this.checkOpen(true);
    const session = new WhipSession(stage, host, producers, answer, digestToken(token), this.onSessionEnd(log));
    return this.track(session, (listener) => host.watchTransport(transport.id, listener), log, () => ({
      producers: producers.map((p) => ({ id: p.id, kind: p.kind, mimeType: p.mimeType })),
    }));
  }
}

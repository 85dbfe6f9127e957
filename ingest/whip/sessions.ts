import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { types as ms } from 'mediasoup';
import { InputError, InvalidStateError, TypedEmitter, type Logger } from '../../common/index.ts';
import type { HostTokenClaims } from '../hostToken.ts';
import type { Sfu } from '../sfu.ts';
import type { Host, Stage, TransportLiveness } from '../stage.ts';
import type { ProducerInfo } from '../types.ts';
import { buildAnswer } from './answer.ts';
import { translateOffer, type WhipOffer, type WhipOfferLimits } from './offer.ts';

/** Why a WHIP session ended. */
export type WhipSessionEndReason = 'deleted' | 'ice-disconnected' | 'dtls-failed' | 'transport-closed' | 'connect-timeout' | 'shutdown';

export interface WhipSessionsEvents {
  sessioncreate: [session: WhipSession];
  sessionclose: [session: WhipSession, reason: WhipSessionEndReason];
}

export interface WhipSessionsOptions {
  limits: WhipOfferLimits;
  /** A session not connected (DTLS up) by then is ended, freeing its host slot. */
  connectTimeoutMs: number;
}

const digest = (token: string): Buffer => createHash('sha256').update(token).digest();

/**
 * One WHIP publisher: a Host on the stage with one WebRtcTransport and a
 * producer per offered track. It ends when deleted, when its transport's
 * ICE/DTLS fails or closes, or when it never connects.
 */
export class WhipSession {
  readonly id = randomUUID();
  /** Identifies the ICE session for the ETag header (RFC 9725 §4.3). */
  readonly etag = `"${randomBytes(12).toString('base64url')}"`;
  readonly createdAt = new Date();
  #ended: WhipSessionEndReason | undefined;
  #connected = false;
  #cleanups: (() => void)[] = [];

  constructor(
    readonly stage: Stage,
    readonly host: Host,
    readonly producers: ProducerInfo[],
    readonly answer: string,
    readonly tokenDigest: Buffer,
    private readonly onEnd: (s: WhipSession, reason: WhipSessionEndReason) => void,
  ) {}

  get ended(): WhipSessionEndReason | undefined {
    return this.#ended;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** Whether `token` is the one this session was created with (DELETE must present it). */
  heldBy(token: string): boolean {
    return timingSafeEqual(digest(token), this.tokenDigest);
  }

  /** @internal */
  onLiveness(state: TransportLiveness): void {
    if (state === 'connected') {
      this.#connected = true;
      return;
    }
    this.end(state === 'disconnected' ? 'ice-disconnected' : state === 'failed' ? 'dtls-failed' : 'transport-closed');
  }

  /** @internal */
  addCleanup(fn: () => void): void {
    this.#cleanups.push(fn);
  }

  /** Ends the session: the host leaves the stage and its producers close. Safe twice. */
  end(reason: WhipSessionEndReason): void {
    if (this.#ended) return;
    this.#ended = reason;
    for (const c of this.#cleanups.splice(0)) c();
    this.host.close();
    this.onEnd(this, reason);
  }
}

/**
 * The WHIP sessions of this SFU (RFC 9725): an offer from a client holding a
 * host token becomes a Host on the stage, so the broadcast pipeline sees its
 * producers exactly like a browser host's. Sessions are tracked here and all
 * ended on close().
 */
export class WhipSessions extends TypedEmitter<WhipSessionsEvents> {
  readonly #sfu: Sfu;
  readonly #opts: WhipSessionsOptions;
  readonly #log: Logger;
  readonly #sessions = new Map<string, WhipSession>();
  #closed = false;

  constructor(sfu: Sfu, opts: WhipSessionsOptions, logger: Logger) {
    super();
    this.#sfu = sfu;
    this.#opts = opts;
    this.#log = logger.child({ component: 'whip' });
    this.onListenerError((event, err) => this.#log.error({ err, event }, 'WHIP listener threw'));
  }

  get sessions(): WhipSession[] {
    return [...this.#sessions.values()];
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
    if (this.#closed) throw new InvalidStateError('WHIP ingest is closed');
    const { stage, claims } = auth;
    const offer = translateOffer(sdp, stage.rtpCapabilities, this.#opts.limits);
    if (claims.role === 'host-audio' && offer.media.some((m) => m.accepted && m.kind === 'video')) {
      throw new InputError('forbidden', 'this host token allows audio only, and the offer sends video', 403);
    }
    const host = stage.addHost(claims.role, claims.name ?? 'WHIP');
    const log = this.#log.child({ stage: stage.id, host: host.id, remote });
    try {
      return await this.#open(stage, host, offer, token, log);
    } catch (err) {
      host.close();
      throw asClientError(err);
    }
  }

  async #open(stage: Stage, host: Host, offer: WhipOffer, token: string, log: Logger): Promise<WhipSession> {
    const transport = await host.createTransport();
    await host.connectTransport(transport.id, { role: 'client', fingerprints: offer.fingerprints });
    const producers: ProducerInfo[] = [];
    for (const m of offer.media) {
      if (m.accepted) producers.push(await host.produce(transport.id, m.kind, m.rtpParameters));
    }
    const answer = buildAnswer(
      offer,
      {
        iceParameters: transport.iceParameters as ms.IceParameters,
        iceCandidates: transport.iceCandidates as ms.IceCandidate[],
        dtlsParameters: transport.dtlsParameters as ms.DtlsParameters,
      },
      { sessionId: String(randomBytes(6).readUIntBE(0, 6)) },
    );
    if (this.#closed) throw new InvalidStateError('WHIP ingest closed while the session was being created');
    const session = new WhipSession(stage, host, producers, answer, digest(token), (s, reason) => {
      this.#sessions.delete(s.id);
      log.info({ session: s.id, reason }, 'WHIP session ended');
      this.emit('sessionclose', s, reason);
    });
    session.addCleanup(host.watchTransport(transport.id, (state) => session.onLiveness(state)));
    const timer = setTimeout(() => {
      if (!session.connected) session.end('connect-timeout');
    }, this.#opts.connectTimeoutMs);
    session.addCleanup(() => clearTimeout(timer));
    this.#sessions.set(session.id, session);
    log.info({ session: session.id, producers: producers.map((p) => ({ id: p.id, kind: p.kind, mimeType: p.mimeType })) }, 'WHIP session created');
    this.emit('sessioncreate', session);
    return session;
  }

  /** The session `id` on `stageId`, if it is live. */
  get(stageId: string, id: string): WhipSession | undefined {
    const s = this.#sessions.get(id);
    return s && s.stage.id === stageId ? s : undefined;
  }

  /** Ends a session on DELETE: 404 unknown, 401 when the token is not the one that created it. */
  delete(stageId: string, id: string, token: string | undefined): void {
    const s = this.get(stageId, id);
    if (!s) throw new InputError('unknown-session', `no WHIP session ${id} on stage ${stageId}`, 404);
    if (!token || !s.heldBy(token)) throw new InputError('unauthorized', 'DELETE needs the host token the session was created with', 401);
    s.end('deleted');
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of [...this.#sessions.values()]) s.end('shutdown');
  }
}

/** mediasoup refuses parameters with TypeError/UnsupportedError: the offer is to blame (422). */
function asClientError(err: unknown): unknown {
  if (err instanceof TypeError || (err instanceof Error && err.name === 'UnsupportedError')) {
    return new InputError('unsupported-offer', `the SFU refused the offered parameters: ${err.message}`, 422);
  }
  return err;
}

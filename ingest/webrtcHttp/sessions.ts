import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { InputError, InvalidStateError, TypedEmitter, type Logger } from '../../common/index.ts';
import type { Stage, TransportLiveness } from '../stage.ts';
import type { OfferProtocol } from './offer.ts';

/** Why a WHIP or WHEP session ended (WHEP adds its own). */
export type SdpSessionEndReason = 'deleted' | 'ice-disconnected' | 'dtls-failed' | 'transport-closed' | 'connect-timeout' | 'shutdown';

/** A session's creator's token, kept only as a digest. */
export const digestToken = (token: string): Buffer => createHash('sha256').update(token).digest();

/**
 * One session of an offer/answer exchange over HTTP (a WHIP publisher, a WHEP
 * viewer): its resource id and ETag, the token it was created with, its
 * transport's liveness. It ends when deleted, when its transport's ICE/DTLS
 * fails or closes, or when it never connects; `X` are the further reasons a
 * protocol has.
 */
export abstract class SdpSession<X extends string = never> {
  readonly id = randomUUID();
  /** Identifies the ICE session for the ETag header (RFC 9725 §4.3). */
  readonly etag = `"${randomBytes(12).toString('base64url')}"`;
  readonly createdAt = new Date();
  #ended: SdpSessionEndReason | X | undefined;
  #connected = false;
  readonly #cleanups: (() => void)[] = [];

  constructor(
    readonly stage: Stage,
    readonly answer: string,
    readonly tokenDigest: Buffer,
    private readonly onEnd: (s: SdpSession<X>, reason: SdpSessionEndReason | X) => void,
  ) {}

  get ended(): SdpSessionEndReason | X | undefined {
    return this.#ended;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** Whether `token` is the one this session was created with (DELETE must present it). */
  heldBy(token: string): boolean {
    return timingSafeEqual(digestToken(token), this.tokenDigest);
  }

  /** @internal */
  onLiveness(state: TransportLiveness): void {
    if (state === 'connected') {
      this.#connected = true;
      this.onConnected();
      return;
    }
    this.end(state === 'disconnected' ? 'ice-disconnected' : state === 'failed' ? 'dtls-failed' : 'transport-closed');
  }

  /** @internal */
  addCleanup(fn: () => void): void {
    this.#cleanups.push(fn);
  }

  /** Ends the session: its cleanups run, then what it holds on the SFU is released. Safe twice. */
  end(reason: SdpSessionEndReason | X): void {
    if (this.#ended) return;
    this.#ended = reason;
    for (const c of this.#cleanups.splice(0)) c();
    this.release();
    this.onEnd(this, reason);
  }

  /** Once DTLS is up. */
  protected onConnected(): void {}

  /** Closes what the session holds on the SFU (a host, a transport). */
  protected abstract release(): void;
}

export interface SdpSessionsEvents<S, R> {
  sessioncreate: [session: S];
  sessionclose: [session: S, reason: R];
}

/** Who a registry serves: its protocol, what it calls itself when closed, whose token creates a session. */
export interface SdpSessionsSpec {
  protocol: OfferProtocol;
  /** As in "WHIP ingest is closed". */
  service: string;
  /** As in "DELETE needs the host token the session was created with". */
  tokenHolder: 'host' | 'viewer';
  /** A session not connected (DTLS up) by then is ended. */
  connectTimeoutMs: number;
}

/**
 * The live sessions of one protocol, by resource id: found per stage, deleted
 * with their creator's token, all ended on close(). A protocol's registry adds
 * how a session is authorized and created, and hands each new one to track().
 */
export abstract class SdpSessions<S extends SdpSession<X>, X extends string = never> extends TypedEmitter<SdpSessionsEvents<S, SdpSessionEndReason | X>> {
  protected readonly log: Logger;
  readonly #spec: SdpSessionsSpec;
  readonly #sessions = new Map<string, S>();
  #closed = false;

  constructor(spec: SdpSessionsSpec, logger: Logger) {
    super();
    this.#spec = spec;
    this.log = logger.child({ component: spec.protocol.toLowerCase() });
    this.onListenerError((event, err) => this.log.error({ err, event }, `${spec.protocol} listener threw`));
  }

  get sessions(): S[] {
    return [...this.#sessions.values()];
  }

  /** Sessions on a stage. */
  countOn(stageId: string): number {
    let n = 0;
    for (const s of this.#sessions.values()) if (s.stage.id === stageId) n++;
    return n;
  }

  /** The session `id` on `stageId`, if it is live. */
  get(stageId: string, id: string): S | undefined {
    const s = this.#sessions.get(id);
    return s && s.stage.id === stageId ? s : undefined;
  }

  /** Ends a session on DELETE: 404 unknown, 401 when the token is not the one that created it. */
  delete(stageId: string, id: string, token: string | undefined): void {
    const s = this.get(stageId, id);
    if (!s) throw new InputError('unknown-session', `no ${this.#spec.protocol} session ${id} on stage ${stageId}`, 404);
    if (!token || !s.heldBy(token)) throw new InputError('unauthorized', `DELETE needs the ${this.#spec.tokenHolder} token the session was created with`, 401);
    s.end('deleted');
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of [...this.#sessions.values()]) s.end('shutdown');
  }

  /** Throws once closed: `creating` while a session was being created. */
  protected checkOpen(creating = false): void {
    if (!this.#closed) return;
    throw new InvalidStateError(creating ? `${this.#spec.service} closed while the session was being created` : `${this.#spec.service} is closed`);
  }

  /** What a new session calls when it ends: it leaves the registry, is logged (with `fields`) and `sessionclose` is emitted. */
  protected onSessionEnd(log: Logger, fields: () => object = () => ({})): (s: SdpSession<X>, reason: SdpSessionEndReason | X) => void {
    return (s, reason) => {
      this.#sessions.delete(s.id);
      log.info({ session: s.id, reason, ...fields() }, `${this.#spec.protocol} session ended`);
      this.emit('sessionclose', s as S, reason);
    };
  }

  /**
   * Takes a new session in: its transport watched (`watch` subscribes and
   * returns the unsubscribe), ended if not connected in time, registered,
   * logged (with `fields`) and announced by `sessioncreate`.
   */
  protected track(session: S, watch: (listener: (state: TransportLiveness) => void) => () => void, log: Logger, fields: () => object): S {
    session.addCleanup(watch((state) => session.onLiveness(state)));
    const timer = setTimeout(() => {
      if (!session.connected) session.end('connect-timeout');
    }, this.#spec.connectTimeoutMs);
    session.addCleanup(() => clearTimeout(timer));
    this.#sessions.set(session.id, session);
    log.info({ session: session.id, ...fields() }, `${this.#spec.protocol} session created`);
    this.emit('sessioncreate', session);
    return session;
  }
}

/**
 * mediasoup refuses parameters with UnsupportedError (and, for the offer's own
 * parameters, TypeError): the offer is to blame (422). A TypeError from anything
 * else (our answer writer, the transport) stays what it is, a fault of ours (500).
 */
export function asOfferError(err: unknown, typeErrorToo: boolean): unknown {
  if ((typeErrorToo && err instanceof TypeError) || (err instanceof Error && err.name === 'UnsupportedError')) {
    return new InputError('unsupported-offer', `the SFU refused the offered parameters: ${err.message}`, 422);
  }
  return err;
}

/** Runs a call that hands mediasoup the offer's own parameters: what it refuses, TypeError included, is the offer's fault (422). */
export async function withOfferParameters<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw asOfferError(err, true);
  }
}

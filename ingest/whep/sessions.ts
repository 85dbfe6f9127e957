import type { types as ms } from 'mediasoup';
import { InputError, InvalidStateError, type Logger } from '../../common/index.ts';
import type { ProgramSource } from '../programSource.ts';
import type { Sfu } from '../sfu.ts';
import { watchLiveness, type Stage } from '../stage.ts';
import type { MediaKind } from '../types.ts';
import { newSdpSessionId, writeAnswer, type AnswerSection } from '../webrtcHttp/answer.ts';
import type { OfferLimits } from '../webrtcHttp/offer.ts';
import { asOfferError, SdpSession, SdpSessions, digestToken, type SdpSessionEndReason, type SdpSessionsEvents } from '../webrtcHttp/sessions.ts';
import { verifyWhepToken, type WhepTokenClaims } from './token.ts';
import { translateWhepOffer, type WhepOffer, type WhepReceivingMedia } from './offer.ts';

export type WhepSessionEndReason = SdpSessionEndReason | 'program-ended';

export type WhepSessionsEvents = SdpSessionsEvents<WhepSession, WhepSessionEndReason>;

export interface WhepSessionsOptions {
  limits: OfferLimits;
  /** A session not connected (DTLS up) by then is ended, freeing its seat. */
  connectTimeoutMs: number;
  /** WebRTC seats per stage (503 beyond). */
  maxViewersPerStage: number;
}

/** One WHEP viewer: a WebRtcTransport on a viewer router and a consumer per program track it receives. */
export class WhepSession extends SdpSession<'program-ended'> {
  constructor(
    stage: Stage,
    readonly transport: ms.WebRtcTransport,
    readonly consumers: readonly ms.Consumer[],
    answer: string,
    tokenDigest: Buffer,
    onEnd: (s: SdpSession<'program-ended'>, reason: WhepSessionEndReason) => void,
  ) {
    super(stage, answer, tokenDigest, onEnd);
  }

  /** A viewer that joins mid-GOP sees a picture at the program's next keyframe (FFmpeg cannot answer a PLI). */
  protected override onConnected(): void {
    for (const c of this.consumers) if (c.kind === 'video' && !c.closed) c.requestKeyFrame().catch(() => {});
  }

  /** Its transport (and so its consumers) closes. */
  protected override release(): void {
    this.transport.close();
  }
}

/**
 * A Router whose payload types are a group of viewers' own: mediasoup sends a
 * consumer's RTP under the router's payload type, and a WHEP answer must use
 * the viewer's offered numbers (the viewer decodes by them), so viewers whose
 * offers number Opus and H.264 alike share one router, into which the
 * program's producers are piped.
 */
interface ViewerRouter {
  readonly router: ms.Router;
  /** The program piped in, per program source (a new broadcast pipes again). */
  piped?: { source: ProgramSource; producers: Promise<Record<MediaKind, ms.Producer>> };
}

/**
 * The WHEP viewers of this SFU (draft-ietf-wish-whep): a viewer token and an
 * offer become a WebRTC session receiving the stage's program, the very
 * picture and mix HLS viewers get (ingest/programSource.ts).
 */
export class WhepSessions extends SdpSessions<WhepSession, 'program-ended'> {
  readonly #sfu: Sfu;
  readonly #opts: WhepSessionsOptions;
  /** Per stage, per payload-type signature. */
  readonly #routers = new WeakMap<Stage, Map<string, Promise<ViewerRouter>>>();

  constructor(sfu: Sfu, opts: WhepSessionsOptions, logger: Logger) {
    super({ protocol: 'WHEP', service: 'WHEP', tokenHolder: 'viewer', connectTimeoutMs: opts.connectTimeoutMs }, logger);
    this.#sfu = sfu;
    this.#opts = opts;
  }

  /** Checks the viewer token: 401 missing/bad/expired, 403 another stage's, 404 no such stage. */
  authorize(stageId: string, token: string | undefined): { stage: Stage; claims: WhepTokenClaims } {
    const claims = verifyWhepToken(token, this.#sfu.config.hostTokenSecret, { stageId, nowSeconds: Math.floor(Date.now() / 1000) });
    const stage = this.#sfu.getStage(stageId);
    if (!stage) throw new InputError('unknown-stage', `no stage ${stageId}`, 404);
    return { stage, claims };
  }

  /**
   * A session from an offer: validated first (nothing is allocated for a bad
   * one), then 409 when the stage is not live (no program), 503 when its seats
   * are taken. Any failure leaves nothing behind.
   */
  async create(auth: { stage: Stage }, token: string, sdp: unknown, remote?: string): Promise<WhepSession> {
    this.checkOpen();
    const { stage } = auth;
    const offer = translateWhepOffer(sdp, this.#opts.limits);
    const program = stage.program;
    if (!program) throw new InputError('not-live', `stage ${stage.id} is not live: there is no program to watch yet`, 409);
    if (this.countOn(stage.id) >= this.#opts.maxViewersPerStage) {
      throw new InputError('whep-full', `stage ${stage.id} has all its ${this.#opts.maxViewersPerStage} WebRTC seats taken; watch over HLS`, 503);
    }
    const log = this.log.child({ stage: stage.id, remote });
    const producers = await this.#pipedProgram(stage, program, offer);
    const viewer = await this.#viewerRouter(stage, offer);
    const transport = await stage.createWebRtcTransport(viewer.router);
    try {
      return await this.#open(stage, transport, producers, offer, token, log);
    } catch (err) {
      transport.close();
      throw asOfferError(err, false);
    }
  }

  async #open(stage: Stage, transport: ms.WebRtcTransport, producers: Record<MediaKind, ms.Producer>, offer: WhepOffer, token: string, log: Logger): Promise<WhepSession> {
    await transport.connect({ dtlsParameters: { role: 'client', fingerprints: offer.fingerprints } });
    const consumers: ms.Consumer[] = [];
    const sections: AnswerSection[] = [];
    for (const m of offer.media) {
      if (!m.accepted) {
        sections.push(m);
        continue;
      }
      const consumer = await transport.consume({ producerId: producers[m.kind].id, rtpCapabilities: viewerCapabilities(m) });
      consumers.push(consumer);
      const p = consumer.rtpParameters;
      sections.push({
        accepted: true,
        kind: m.kind,
        mid: m.mid,
        protocol: m.protocol,
        direction: 'sendonly',
        rtpParameters: p,
        send: { ssrc: p.encodings![0]!.ssrc!, cname: p.rtcp?.cname ?? 'stagecast', streamId: 'stagecast-program', trackId: `${m.kind}-${stage.id}` },
      });
    }
    const answer = writeAnswer(
      sections,
      { bundleTag: offer.bundleTag, extmapAllowMixed: offer.extmapAllowMixed },
      { iceParameters: transport.iceParameters, iceCandidates: transport.iceCandidates, dtlsParameters: transport.dtlsParameters },
      { sessionId: newSdpSessionId() },
    );
    this.checkOpen(true);
    const session = new WhepSession(stage, transport, consumers, answer, digestToken(token), this.onSessionEnd(log, () => ({ viewers: this.countOn(stage.id) })));
    // The program ended (the broadcast stopped): the pipe producer closes, and so the consumer.
    for (const c of consumers) c.once('producerclose', () => session.end('program-ended'));
    return this.track(session, (listener) => watchLiveness(transport, listener), log, () => ({
      tracks: consumers.map((c) => ({ kind: c.kind, payloadType: c.rtpParameters.codecs[0]?.payloadType })),
      viewers: this.countOn(stage.id),
    }));
  }

  /** The viewer router for this offer's payload-type numbering, created once per stage and numbering. */
  #viewerRouter(stage: Stage, offer: WhepOffer): Promise<ViewerRouter> {
    const pt = (kind: MediaKind) => offer.media.find((m): m is WhepReceivingMedia => m.accepted && m.kind === kind)?.codec.payloadType;
    const audio = pt('audio') ?? (pt('video') === 111 ? 110 : 111);
    const video = pt('video') ?? (audio === 96 ? 97 : 96);
    const key = `${audio}/${video}`;
    let byKey = this.#routers.get(stage);
    if (!byKey) this.#routers.set(stage, (byKey = new Map()));
    let entry = byKey.get(key);
    if (!entry) {
      entry = stage
        .createRouter([
          { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: audio },
          { kind: 'video', mimeType: 'video/H264', clockRate: 90000, preferredPayloadType: video, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 } },
        ])
        .then((router) => {
          router.observer.once('close', () => byKey.delete(key));
          this.log.info({ stage: stage.id, payloadTypes: { audio, video } }, 'WHEP viewer router created');
          return { router };
        });
      entry.catch(() => byKey.delete(key));
      byKey.set(key, entry);
    }
    return entry;
  }

  /** The program piped into the offer's viewer router (once per program source and router). */
  async #pipedProgram(stage: Stage, program: ProgramSource, offer: WhepOffer): Promise<Record<MediaKind, ms.Producer>> {
    const viewer = await this.#viewerRouter(stage, offer);
    if (viewer.piped?.source !== program) {
      const producers = (async () => {
        const pipe = async (kind: MediaKind) => {
          const { pipeProducer } = await stage.router.pipeToRouter({ producerId: program.producers[kind].id, router: viewer.router, keepId: false }); // same worker: a kept id would collide
          if (!pipeProducer) throw new InvalidStateError(`the program's ${kind} could not be piped to the viewer router`);
          return pipeProducer;
        };
        return { video: await pipe('video'), audio: await pipe('audio') };
      })();
      viewer.piped = { source: program, producers };
      producers.catch(() => {
        if (viewer.piped?.producers === producers) viewer.piped = undefined;
      });
    }
    return viewer.piped!.producers;
  }
}

/** What the viewer receives on a section, as mediasoup capabilities: its codec under its payload type, its extmap ids. */
function viewerCapabilities(m: WhepReceivingMedia): ms.RtpCapabilities {
  const c = m.codec;
  return {
    codecs: [
      {
        kind: m.kind,
        mimeType: c.mimeType,
        preferredPayloadType: c.payloadType,
        clockRate: c.clockRate,
        ...(c.channels !== undefined ? { channels: c.channels } : {}),
        parameters: c.parameters ?? {},
        rtcpFeedback: c.rtcpFeedback ?? [],
      },
    ],
    // mediasoup keeps the ones whose id is the router's for that URI.
    headerExtensions: m.headerExtensions.map((h) => ({ kind: m.kind, uri: h.uri as ms.RtpHeaderExtensionUri, preferredId: h.id, direction: 'sendrecv' as const })),
  };
}

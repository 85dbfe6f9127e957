import { randomUUID } from 'node:crypto';
import type { types as ms } from 'mediasoup';
import { InputError, InvalidStateError, TypedEmitter, type Logger, type PortAllocator } from '../common/index.ts';
import { stageMediaCodecs, supportedMimeTypes } from './codecs.ts';
import type { IngestConfig } from './config.ts';
import type { HostRole } from './hostToken.ts';
import { ProgramSource, type ProgramStreamSpec } from './programSource.ts';
import { RtpOutput, type RtpOutputSource, type RtpTargetHook } from './rtpOutput.ts';
import type { MediaKind, ProducerInfo, StageCloseReason, StageEvents, WebRtcTransportInfo } from './types.ts';

/** What `Host.watchTransport` reports. */
export type TransportLiveness = 'connected' | 'disconnected' | 'failed' | 'closed';

/** One host on a stage: their send transports and producers. */
/**
 * Reports a transport's liveness: `connected` once DTLS is up; `disconnected`
 * when ICE consent is lost, `failed`/`closed` when ICE or DTLS ends. Returns a
 * function that stops the reports.
 */
export function watchLiveness(t: ms.WebRtcTransport, listener: (state: TransportLiveness) => void): () => void {
  const onIce = (state: ms.IceState): void => {
    if (state === 'disconnected' || state === 'closed') listener(state);
  };
  const onDtls = (state: ms.DtlsState): void => {
    if (state === 'connected' || state === 'failed' || state === 'closed') listener(state);
  };
  const onClose = (): void => listener('closed');
  t.on('icestatechange', onIce);
  t.on('dtlsstatechange', onDtls);
  t.observer.on('close', onClose);
  return () => {
    t.off('icestatechange', onIce);
    t.off('dtlsstatechange', onDtls);
    t.observer.off('close', onClose);
  };
}

export class Host {
  readonly id = randomUUID();
  readonly #transports = new Map<string, ms.WebRtcTransport>();
  readonly #producers = new Map<string, ms.Producer>();
  readonly #onRemoved: ((reason: string) => void)[] = [];
  /** Muted by the stage owner: a producer of a muted kind is paused, now and when (re)created. */
  readonly muted = { audio: false, video: false };
  readonly joinedAt = Date.now();
  #closed = false;

  constructor(
    private readonly stage: Stage,
    readonly role: HostRole,
    readonly name: string | undefined,
  ) {}

  get closed(): boolean {
    return this.#closed;
  }

  get producerIds(): string[] {
    return [...this.#producers.keys()];
  }

  /** The host's tracks, with whether each is paused (muted). */
  get producers(): { id: string; kind: MediaKind; paused: boolean }[] {
    return [...this.#producers.values()].map((p) => ({ id: p.id, kind: p.kind, paused: p.paused }));
  }

  /** The stage owner mutes or unmutes a kind: its producer is paused (no media leaves the SFU) or resumed. */
  async setMuted(kind: MediaKind, muted: boolean): Promise<void> {
    this.#assertOpen();
    this.muted[kind] = muted;
    for (const p of this.#producers.values()) {
      if (p.kind !== kind || p.paused === muted) continue;
      if (muted) await p.pause();
      else await p.resume();
      this.stage.onProducerPaused(p.id, muted);
    }
  }

  /** Called with the reason when the stage owner removes this host (the signalling closes its socket). */
  onRemoved(listener: (reason: string) => void): void {
    this.#onRemoved.push(listener);
  }

  /** The stage owner removes the host: its connection is told why and closed, its tracks leave. */
  remove(reason: string): void {
    if (this.#closed) return;
    for (const l of this.#onRemoved.splice(0)) {
      try {
        l(reason);
      } catch {
        // A listener's failure must not keep the host on the stage.
      }
    }
    this.close();
  }

  async createTransport(): Promise<WebRtcTransportInfo> {
    this.#assertOpen();
    if (this.#transports.size >= 2) throw new InputError('too-many-transports', 'a host may open at most 2 transports', 429);
    const transport = await this.stage.createWebRtcTransport();
    if (this.#closed) {
      transport.close();
      throw new InvalidStateError('host left while its transport was being created');
    }
    this.#transports.set(transport.id, transport);
    transport.observer.once('close', () => this.#transports.delete(transport.id));
    return {
      id: transport.id,
      iceParameters: transport.iceParameters,
      iceCandidates: transport.iceCandidates,
      dtlsParameters: transport.dtlsParameters,
    };
  }

  /**
   * Reports a transport's liveness: `connected` once DTLS is up; `disconnected`
   * when ICE consent is lost, `failed`/`closed` when ICE or DTLS ends. For hosts
   * without a signalling socket (WHIP), whose session lives as long as this.
   * Returns a function that stops the reports.
   */
  watchTransport(transportId: string, listener: (state: TransportLiveness) => void): () => void {
    return watchLiveness(this.#transport(transportId), listener);
  }

  async connectTransport(transportId: string, dtlsParameters: ms.DtlsParameters): Promise<void> {
    await this.#transport(transportId).connect({ dtlsParameters });
  }

  async produce(
    transportId: string,
    kind: MediaKind,
    rtpParameters: ms.RtpParameters,
    source?: { width: number; height: number },
  ): Promise<ProducerInfo> {
    const transport = this.#transport(transportId);
    if (kind === 'video' && this.role === 'host-audio') {
      throw new InputError('forbidden', 'this host token allows audio only', 403);
    }
    const mimeType = rtpParameters.codecs[0]?.mimeType ?? '';
    if (!supportedMimeTypes.has(mimeType.toLowerCase()) || !mimeType.toLowerCase().startsWith(`${kind}/`)) {
      const offered = [...supportedMimeTypes].filter((m) => m.startsWith(`${kind}/`)).join(', ');
      throw new InputError('unsupported-codec', `codec ${mimeType || '(none)'} is not supported for ${kind}; use ${offered}`, 415);
    }
    if ([...this.#producers.values()].some((p) => p.kind === kind)) {
      throw new InputError('already-producing', `this host already publishes ${kind}`, 409);
    }
    const producer = await transport.produce({ kind, rtpParameters, paused: this.muted[kind] });
    if (this.#closed) {
      producer.close();
      throw new InvalidStateError('host left while producing');
    }
    this.#producers.set(producer.id, producer);
    const layers = kind === 'video' ? simulcastLayers(rtpParameters, source) : undefined;
    const info: ProducerInfo = {
      id: producer.id,
      hostId: this.id,
      kind,
      mimeType: producer.rtpParameters.codecs[0]!.mimeType,
      ...(kind === 'video' && source ? { source } : {}),
      ...(layers ? { layers } : {}),
    };
    producer.observer.once('close', () => {
      this.#producers.delete(producer.id);
      this.stage.onProducerClosed(info);
    });
    this.stage.onProducer(info, producer);
    return info;
  }

  closeProducer(producerId: string): void {
    const producer = this.#producers.get(producerId);
    if (!producer) throw new InputError('not-found', `no producer ${producerId} of this host`, 404);
    producer.close();
  }

  /** Bytes per second this host sends, per producer, from the SFU's view. */
  async stats(): Promise<{ producerId: string; kind: string; bitrate: number }[]> {
    const out = [];
    for (const p of this.#producers.values()) {
      const stats = await p.getStats();
      out.push({ producerId: p.id, kind: p.kind, bitrate: stats.reduce((sum, s) => sum + (s.bitrate ?? 0), 0) });
    }
    return out;
  }

  /** Leaves the stage: closes the host's transports, and so its producers. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#transports.values()) t.close();
    this.#transports.clear();
    this.stage.onHostClosed(this);
  }

  #transport(id: string): ms.WebRtcTransport {
    this.#assertOpen();
    const t = this.#transports.get(id);
    if (!t) throw new InputError('not-found', `no transport ${id} of this host`, 404);
    return t;
  }

  #assertOpen(): void {
    if (this.#closed) throw new InvalidStateError('host has left the stage');
  }
}

/**
 * A simulcast producer's layers, lowest first (mediasoup's spatial layer
 * order); undefined for one encoding. A layer's height is known when the
 * publisher said its capture size and the encoding its `scaleResolutionDownBy`
 * (mediasoup-client sends both; a WHIP client neither).
 */
function simulcastLayers(rtp: ms.RtpParameters, source: { width: number; height: number } | undefined): { height?: number }[] | undefined {
  const encodings = rtp.encodings ?? [];
  if (encodings.length < 2) return undefined;
  return encodings.map((e) => {
    const scale = (e as { scaleResolutionDownBy?: unknown }).scaleResolutionDownBy;
    if (!source || typeof scale !== 'number' || !Number.isFinite(scale) || scale < 1) return {};
    const height = Math.round(source.height / scale);
    return { height: height - (height % 2) };
  });
}

export interface StageDeps {
  router: ms.Router;
  config: IngestConfig;
  logger: Logger;
  /** Called once the stage is closed, whatever the reason. */
  onClosed: (stage: Stage) => void;
  /** Another Router on the stage's worker (WHEP viewers' codec mappings); closed with the stage. */
  createRouter?: (mediaCodecs: ms.RouterRtpCodecCapability[]) => Promise<ms.Router>;
}

/**
 * A stage: one mediasoup Router and the hosts publishing into it. Closing the
 * stage closes every host, transport, producer and RTP output (the Router's close
 * cascades); a dead worker closes it with reason `worker-died`.
 */
export class Stage extends TypedEmitter<StageEvents> {
  readonly #router: ms.Router;
  readonly #config: IngestConfig;
  readonly #log: Logger;
  readonly #onClosed: (stage: Stage) => void;
  readonly #hosts = new Map<string, Host>();
  readonly #producers = new Map<string, { info: ProducerInfo; producer: ms.Producer }>();
  readonly #outputs = new Set<RtpOutput>();
  #levels: Promise<ms.AudioLevelObserver> | undefined;
  #closeReason: StageCloseReason | undefined;
  readonly #createRouter: StageDeps['createRouter'];
  readonly #extraRouters = new Set<ms.Router>();
  #program: ProgramSource | undefined;

  constructor(
    readonly id: string,
    deps: StageDeps,
  ) {
    super();
    this.#router = deps.router;
    this.#config = deps.config;
    this.#log = deps.logger.child({ stage: id });
    this.#onClosed = deps.onClosed;
    this.#createRouter = deps.createRouter;
    this.onListenerError((event, err) => this.#log.error({ err, event }, 'stage listener threw'));
    this.#router.on('workerclose', () => this.close('worker-died'));
  }

  get closed(): boolean {
    return this.#closeReason !== undefined;
  }

  get closeReason(): StageCloseReason | undefined {
    return this.#closeReason;
  }

  get rtpCapabilities(): ms.RtpCapabilities {
    return this.#router.rtpCapabilities;
  }

  get hostCount(): number {
    return this.#hosts.size;
  }

  get producers(): ProducerInfo[] {
    return [...this.#producers.values()].map((p) => ({ ...p.info, paused: p.producer.paused }));
  }

  /**
   * The codec an RTP output's consumer of this producer sends (payload type as
   * the router maps it): what an RTP switch fed by several such outputs must
   * expect. Undefined for an unknown producer.
   */
  rtpOutputCodec(producerId: string): { mimeType: string; payloadType: number; parameters: Record<string, unknown> } | undefined {
    const entry = this.#producers.get(producerId);
    const codec = entry?.producer.consumableRtpParameters.codecs.find((c) => !/\/rtx$/i.test(c.mimeType));
    return codec ? { mimeType: codec.mimeType, payloadType: codec.payloadType, parameters: { ...(codec.parameters ?? {}) } } : undefined;
  }

  /** The hosts on the stage, in join order. */
  get hosts(): Host[] {
    return [...this.#hosts.values()];
  }

  getHost(id: string): Host | undefined {
    return this.#hosts.get(id);
  }

  /**
   * Starts reporting audio levels (mediasoup's AudioLevelObserver on the stage's
   * Router, every audio producer now and to come): `audiolevels` events with the
   * hosts above `threshold` dBov, loudest first, or an empty list on silence.
   * Idempotent; it ends with the stage.
   */
  async watchAudioLevels(opts: { intervalMs: number; threshold: number }): Promise<void> {
    this.#assertOpen();
    this.#levels ??= (async () => {
      const observer = await this.#router.createAudioLevelObserver({ maxEntries: 9, threshold: opts.threshold, interval: opts.intervalMs });
      const add = (info: ProducerInfo) => {
        if (info.kind === 'audio') observer.addProducer({ producerId: info.id }).catch(() => {}); // closed meanwhile
      };
      for (const p of this.producers) add(p);
      this.on('producer', add);
      observer.on('volumes', (volumes) => {
        const levels = volumes.flatMap(({ producer, volume }) => {
          const info = this.#producers.get(producer.id)?.info;
          return info ? [{ hostId: info.hostId, producerId: producer.id, volume }] : [];
        });
        this.emit('audiolevels', levels);
      });
      observer.on('silence', () => this.emit('audiolevels', []));
      observer.observer.once('close', () => this.off('producer', add));
      return observer;
    })();
    await this.#levels;
  }

  addHost(role: HostRole, name?: string): Host {
    this.#assertOpen();
    if (this.#hosts.size >= this.#config.maxHostsPerStage) {
      throw new InputError('stage-full', `stage ${this.id} already has ${this.#config.maxHostsPerStage} hosts`, 409);
    }
    const host = new Host(this, role, name);
    this.#hosts.set(host.id, host);
    this.#log.info({ host: host.id, hostRole: role, hostName: name }, 'host joined');
    this.emit('hostjoin', host.id);
    return host;
  }

  /**
   * Opens RTP toward a transcoder: a PlainTransport and a paused consumer per
   * track, to port pairs from `portPool` on `remoteIp`, described as data
   * (`descriptor`). Call `resume()` once the receiver listens.
   */
  async createRtpOutput(opts: { producerIds: RtpOutputSource[]; remoteIp: string; portPool: PortAllocator; target?: RtpTargetHook }): Promise<RtpOutput> {
    this.#assertOpen();
    const tracks = opts.producerIds.map((source) => {
      const id = typeof source === 'string' ? source : source.producerId;
      const p = this.#producers.get(id);
      if (!p) throw new InputError('not-found', `no producer ${id} on stage ${this.id}`, 404);
      const layer = typeof source === 'string' ? undefined : source.spatialLayer;
      if (layer !== undefined && !(Number.isInteger(layer) && layer >= 0 && layer < (p.info.layers?.length ?? 1))) {
        throw new InputError('bad-layer', `producer ${id} has no spatial layer ${layer}`, 400);
      }
      return { producer: p.producer, ...(layer !== undefined ? { spatialLayer: layer } : {}) };
    });
    const output = await RtpOutput.create({
      router: this.#router,
      sources: tracks,
      listenIp: this.#config.rtpOutListenIp,
      remoteIp: opts.remoteIp,
      portPool: opts.portPool,
      sessionName: `stagecast stage ${this.id}`,
      logger: this.#log,
      ...(opts.target ? { target: opts.target } : {}),
    });
    if (this.closed) {
      output.close();
      throw new InvalidStateError(`stage ${this.id} closed while its RTP output was being created`);
    }
    this.#outputs.add(output);
    output.onClose(() => this.#outputs.delete(output));
    return output;
  }

  /** The broadcast's program as RTP in this SFU (WHEP viewers consume it), while a broadcast sends it. */
  get program(): ProgramSource | undefined {
    return this.#program;
  }

  /**
   * Opens the program's way back into the SFU: the transcoder's RTP copy of
   * what HLS viewers see, for WHEP viewers. One at a time (409 while one is
   * open); `programopen` / `programclose` tell the WHEP sessions.
   */
  async openProgramInput(spec: Record<MediaKind, ProgramStreamSpec>): Promise<ProgramSource> {
    this.#assertOpen();
    if (this.#program) throw new InputError('program-open', `stage ${this.id} already has a program input`, 409);
    const source = await ProgramSource.open(this.#router, this.#config.rtpOutListenIp, spec, this.#log);
    if (this.closed || this.#program) {
      source.close();
      throw this.closed ? new InvalidStateError(`stage ${this.id} closed while its program input was being opened`) : new InputError('program-open', `stage ${this.id} already has a program input`, 409);
    }
    this.#program = source;
    source.onClose(() => {
      if (this.#program !== source) return;
      this.#program = undefined;
      this.emit('programclose');
    });
    this.emit('programopen', source);
    return source;
  }

  /** The stage's Router, for piping the program to a viewer router. @internal */
  get router(): ms.Router {
    return this.#router;
  }

  /** A Router beside the stage's, on its worker; it closes with the stage. @internal */
  async createRouter(mediaCodecs: ms.RouterRtpCodecCapability[]): Promise<ms.Router> {
    this.#assertOpen();
    if (!this.#createRouter) throw new InvalidStateError('this stage cannot create routers');
    const router = await this.#createRouter(mediaCodecs);
    if (this.closed) {
      router.close();
      throw new InvalidStateError(`stage ${this.id} closed while a router was being created`);
    }
    this.#extraRouters.add(router);
    router.observer.once('close', () => this.#extraRouters.delete(router));
    return router;
  }

  close(reason: StageCloseReason = 'closed'): void {
    if (this.#closeReason) return;
    this.#closeReason = reason;
    this.#program?.close();
    for (const r of [...this.#extraRouters]) r.close();
    for (const o of this.#outputs) o.close();
    for (const h of [...this.#hosts.values()]) h.close();
    this.#router.close();
    const log = reason === 'worker-died' ? this.#log.error.bind(this.#log) : this.#log.info.bind(this.#log);
    log({ reason }, 'stage closed');
    this.emit('close', reason);
    this.#onClosed(this);
  }

  /** @internal used by Host (on the stage's Router) and WHEP (on a viewer router). */
  async createWebRtcTransport(router: ms.Router = this.#router): Promise<ms.WebRtcTransport> {
    this.#assertOpen();
    const { listenIp, announcedAddress, rtcPorts } = this.#config;
    const listen = (protocol: 'udp' | 'tcp'): ms.TransportListenInfo => ({
      protocol,
      ip: listenIp,
      ...(announcedAddress ? { announcedAddress } : {}),
      portRange: { min: rtcPorts.min, max: rtcPorts.max },
    });
    return router.createWebRtcTransport({
      listenInfos: [listen('udp'), listen('tcp')],
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      initialAvailableOutgoingBitrate: this.#config.initialAvailableOutgoingBitrate,
    });
  }

  /** @internal */
  onProducer(info: ProducerInfo, producer: ms.Producer): void {
    this.#producers.set(info.id, { info, producer });
    this.#log.info({ host: info.hostId, producer: info.id, kind: info.kind, mimeType: info.mimeType }, 'producer added');
    this.emit('producer', info);
  }

  /** @internal */
  onProducerPaused(producerId: string, paused: boolean): void {
    const p = this.#producers.get(producerId);
    if (!p) return;
    this.#log.info({ host: p.info.hostId, producer: producerId, paused }, paused ? 'producer muted' : 'producer unmuted');
    this.emit('producerpause', { ...p.info, paused }, paused);
  }

  /** @internal */
  onProducerClosed(info: ProducerInfo): void {
    if (!this.#producers.delete(info.id)) return;
    this.#log.info({ host: info.hostId, producer: info.id }, 'producer closed');
    this.emit('producerclose', info);
  }

  /** @internal */
  onHostClosed(host: Host): void {
    if (!this.#hosts.delete(host.id)) return;
    this.#log.info({ host: host.id }, 'host left');
    this.emit('hostleave', host.id);
  }

  #assertOpen(): void {
    if (this.#closeReason) throw new InvalidStateError(`stage ${this.id} is closed (${this.#closeReason})`);
  }
}

export { stageMediaCodecs };

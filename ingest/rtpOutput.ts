import type { types as ms } from 'mediasoup';
import type { Logger, PortAllocator, PortPair, RtpSessionDescriptor, RtpTrackDescription } from '../common/index.ts';
import type { MediaKind } from './types.ts';

/**
 * A track of an RTP output: a producer, or one spatial layer of a simulcast
 * producer (its consumer pinned to that layer; mediasoup falls back to a lower
 * one only while the pinned layer does not arrive).
 */
export type RtpOutputSource = string | { producerId: string; spatialLayer?: number };

export interface RtpOutputTrack {
  kind: MediaKind;
  producerId: string;
  /** The simulcast layer this track carries, when pinned to one. */
  spatialLayer?: number;
  mimeType: string;
  /** The receiver's RTP port; RTCP is on `rtp + 1`. */
  ports: PortPair;
}

interface Leg {
  transport: ms.PlainTransport;
  consumer: ms.Consumer;
  ports: PortPair;
  producerId: string;
  spatialLayer?: number;
  /** Releases what the target hook set up for this leg. */
  releaseTarget?: () => Promise<void> | void;
}

/**
 * Where a PlainTransport sends a track's RTP/RTCP instead of straight to the
 * receiver's ports: something in between (a relay, or a UDP impairment proxy in
 * the fault tests) that forwards to `receiver`. The descriptor still names the
 * receiver's own ports. `release` runs when the output closes.
 */
export type RtpTargetHook = (track: { kind: MediaKind; receiver: { ip: string; ports: PortPair } }) => Promise<{
  ip: string;
  port: number;
  rtcpPort: number;
  release?: () => Promise<void> | void;
}>;

interface CreateOptions {
  router: ms.Router;
  sources: { producer: ms.Producer; spatialLayer?: number }[];
  listenIp: string;
  remoteIp: string;
  portPool: PortAllocator;
  sessionName: string;
  logger: Logger;
  /** Sends through something else on the way to the receiver (see RtpTargetHook). */
  target?: RtpTargetHook;
}

/**
 * Plain RTP from a stage toward a transcoder. One PlainTransport per track
 * (RTCP not muxed, on RTP + 1, as FFmpeg expects; comedia off, connected to the
 * receiver's ports) and one consumer per producer, created paused: the receiver
 * must be listening before media flows, and FFmpeg needs a keyframe first, so
 * `resume()` starts the media and asks the publisher for a keyframe.
 * `descriptor` says what arrives on which port, as data (transcode writes the
 * SDP FFmpeg reads from it).
 */
export class RtpOutput {
  readonly descriptor: RtpSessionDescriptor;
  readonly tracks: readonly RtpOutputTrack[];
  readonly #legs: Leg[];
  readonly #pool: PortAllocator;
  readonly #log: Logger;
  readonly #onClose: (() => void)[] = [];
  #closed = false;

  private constructor(legs: Leg[], descriptor: RtpSessionDescriptor, pool: PortAllocator, log: Logger) {
    this.#legs = legs;
    this.descriptor = descriptor;
    this.#pool = pool;
    this.#log = log;
    this.tracks = legs.map((l) => ({
      kind: l.consumer.kind,
      producerId: l.producerId,
      ...(l.spatialLayer !== undefined ? { spatialLayer: l.spatialLayer } : {}),
      mimeType: l.consumer.rtpParameters.codecs[0]!.mimeType,
      ports: l.ports,
    }));
    for (const leg of legs) {
      // A producer that goes away, or a router that closes, ends this output.
      leg.consumer.observer.once('close', () => this.close());
      if (leg.spatialLayer !== undefined) this.#watchPinnedLayer(leg, leg.spatialLayer);
    }
  }

  static async create(opts: CreateOptions): Promise<RtpOutput> {
    const log = opts.logger.child({ component: 'rtp-output' });
    const legs: Leg[] = [];
    try {
      for (const { producer, spatialLayer } of opts.sources) {
        const ports = await opts.portPool.allocate();
        let transport: ms.PlainTransport | undefined;
        let target: Awaited<ReturnType<RtpTargetHook>> | undefined;
        try {
          transport = await opts.router.createPlainTransport({
            listenInfo: { protocol: 'udp', ip: opts.listenIp },
            rtcpMux: false,
            comedia: false,
          });
          target = opts.target
            ? await opts.target({ kind: producer.kind, receiver: { ip: opts.remoteIp, ports } })
            : { ip: opts.remoteIp, port: ports.rtp, rtcpPort: ports.rtcp };
          await transport.connect({ ip: target.ip, port: target.port, rtcpPort: target.rtcpPort });
          const consumer = await transport.consume({
            producerId: producer.id,
            rtpCapabilities: receiverCapabilities(opts.router.rtpCapabilities, producer),
            paused: true,
            // A PlainTransport has no bandwidth estimate: the consumer sends the layer it prefers.
            ...(spatialLayer !== undefined ? { preferredLayers: { spatialLayer } } : {}),
          });
          legs.push({ transport, consumer, ports, producerId: producer.id, ...(spatialLayer !== undefined ? { spatialLayer } : {}), ...(target.release ? { releaseTarget: target.release } : {}) });
        } catch (err) {
          transport?.close();
          await target?.release?.();
          opts.portPool.release(ports);
          throw err;
        }
      }
    } catch (err) {
      for (const leg of legs) {
        leg.transport.close();
        await leg.releaseTarget?.();
        opts.portPool.release(leg.ports);
      }
      throw err;
    }
    const descriptor: RtpSessionDescriptor = {
      address: opts.remoteIp,
      sessionName: opts.sessionName,
      tracks: legs.map((l): RtpTrackDescription => {
        const codec = l.consumer.rtpParameters.codecs[0]!;
        return {
          kind: l.consumer.kind,
          port: l.ports.rtp,
          payloadType: codec.payloadType,
          mimeType: codec.mimeType,
          clockRate: codec.clockRate,
          ...(codec.channels !== undefined ? { channels: codec.channels } : {}),
          parameters: codec.parameters ?? {},
          ...(l.consumer.rtpParameters.encodings?.[0]?.ssrc !== undefined
            ? { ssrc: l.consumer.rtpParameters.encodings[0].ssrc }
            : {}),
          label: l.spatialLayer !== undefined ? `${l.producerId}/${l.spatialLayer}` : l.producerId,
        };
      }),
    };
    log.info({ tracks: legs.map((l) => ({ kind: l.consumer.kind, port: l.ports.rtp })) }, 'RTP output opened');
    return new RtpOutput(legs, descriptor, opts.portPool, log);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * While a pinned layer does not arrive (the host's encoder dropped it, short
   * of bandwidth or CPU), its consumer forwards a lower one, and a rendition
   * copied from it carries that size under the pinned layer's name: say so,
   * and say when the pinned layer is back.
   */
  #watchPinnedLayer(leg: Leg, pinned: number): void {
    let lower = false;
    leg.consumer.on('layerschange', (layers) => {
      // Nothing forwarded (paused, or no layer at all) is not a fallback.
      if (layers === undefined || (layers.spatialLayer < pinned) === lower) return;
      lower = !lower;
      const fields = { producerId: leg.producerId, pinned, forwarded: layers.spatialLayer };
      if (lower) this.#log.warn(fields, 'pinned simulcast layer not arriving: its consumer forwards a lower one');
      else this.#log.info(fields, 'pinned simulcast layer arriving again');
    });
  }

  /** Starts the media and requests a keyframe from each video publisher. */
  async resume(): Promise<void> {
    for (const leg of this.#legs) if (!leg.consumer.closed) await leg.consumer.resume();
    await this.requestKeyFrame();
  }

  /** Asks the publishers for a keyframe (FFmpeg sends no PLI for H.264). */
  async requestKeyFrame(): Promise<void> {
    for (const leg of this.#legs) {
      if (leg.consumer.kind === 'video' && !leg.consumer.closed) await leg.consumer.requestKeyFrame();
    }
  }

  /** Bytes sent per track, from the SFU's view. */
  async stats(): Promise<{ producerId: string; kind: MediaKind; bitrate: number; packetCount: number }[]> {
    const out = [];
    for (const leg of this.#legs) {
      if (leg.consumer.closed) continue;
      const s = (await leg.consumer.getStats()).find((x) => x.type === 'outbound-rtp');
      out.push({ producerId: leg.producerId, kind: leg.consumer.kind, bitrate: s?.bitrate ?? 0, packetCount: s?.packetCount ?? 0 });
    }
    return out;
  }

  onClose(listener: () => void): void {
    if (this.#closed) listener();
    else this.#onClose.push(listener);
  }

  /** Closes the transports and gives the ports back. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const leg of this.#legs) {
      leg.transport.close();
      this.#pool.release(leg.ports);
      if (leg.releaseTarget) {
        Promise.resolve()
          .then(leg.releaseTarget)
          .catch((err: unknown) => this.#log.error({ err }, 'releasing the RTP target failed'));
      }
    }
    this.#log.info('RTP output closed');
    for (const l of this.#onClose.splice(0)) {
      try {
        l();
      } catch (err) {
        this.#log.error({ err }, 'RTP output close listener threw');
      }
    }
  }
}

/**
 * What the receiver (FFmpeg) accepts: only the producer's codec, without RTX
 * (FFmpeg cannot use it) and without header extensions.
 */
function receiverCapabilities(router: ms.RtpCapabilities, producer: ms.Producer): ms.RtpCapabilities {
  const mime = producer.rtpParameters.codecs[0]!.mimeType.toLowerCase();
  const codecs = (router.codecs ?? []).filter((c) => c.mimeType.toLowerCase() === mime);
  return { codecs, headerExtensions: [] };
}

import { InvalidStateError, type Logger, type PortPair, type UdpPortPool } from '../common/index.ts';
import { RtpSwitch, videoCodecKey, type SwitchedVideoLane } from '../transcode/index.ts';
import type { StageFeed, StageRtpOutput } from './stageFeed.ts';
import { layersKey, type LaneLayer, type SwitchCodecSpec } from './switchPlan.ts';

/** One RTP switch of the speaker layout: FFmpeg's video input on `ports`. */
export interface SwitchLane {
  readonly rtpSwitch: RtpSwitch;
  readonly ports: PortPair;
  /** The layer every source sends this lane (its outputs are pinned to it); undefined for an encoded program's one lane. */
  readonly layer: LaneLayer | undefined;
}

export interface SwitchedVideoOptions {
  /** The codec every source sends (app/switchPlan.ts `switchCodec`). */
  codec: SwitchCodecSpec;
  /** One lane per layer, highest first; undefined for one lane of each host's best layer. */
  layers: readonly LaneLayer[] | undefined;
  stage: Pick<StageFeed, 'createRtpOutput'>;
  portPool: UdpPortPool;
  /** Where FFmpeg receives RTP, and where the switches listen. */
  rtpAddress: string;
  logger: Logger;
}

/**
 * The speaker layout behind RTP switches: each host video is a source, fed by
 * one RTP output per lane whose PlainTransport sends to that lane's switch
 * (keyed by producer id, so a host that republishes is a new source, never a
 * duplicate). With copied simulcast layers every lane switches to the new
 * speaker at that layer's keyframe, so each rendition keeps its own continuous
 * stream and FFmpeg never restarts.
 */
export class SwitchedVideo {
  readonly #lanes: SwitchLane[] = [];
  readonly codecKey: string;
  /** `layersKey(layers)` of the lanes: a stage whose layers differ needs a program change. */
  readonly layersKey: string;
  /** Per source: its host and its outputs, one per lane in the lanes' order. */
  readonly sources = new Map<string, { hostId: string; outputs: StageRtpOutput[] }>();
  /** The video codec as the first source's output describes it: every source's must match (a check of `codecKey`). */
  #videoKey: string | undefined;
  #closed = false;
  readonly #opts: SwitchedVideoOptions;

  /** Opens the lanes' switches (no sources yet); on a failure the lanes opened so far are closed. */
  static async open(opts: SwitchedVideoOptions): Promise<SwitchedVideo> {
    const switched = new SwitchedVideo(opts);
    try {
      for (const [lane, layer] of (opts.layers ?? [undefined]).entries()) await switched.#openLane(lane, layer);
    } catch (err) {
      await switched.close();
      throw err;
    }
    return switched;
  }

  private constructor(opts: SwitchedVideoOptions) {
    this.#opts = opts;
    this.codecKey = opts.codec.key;
    this.layersKey = layersKey(opts.layers);
  }

  get lanes(): readonly SwitchLane[] {
    return this.#lanes;
  }

  /** The source on air (or selected and waiting for its keyframe): the first lane's, which every lane follows. */
  get onAir(): string | undefined {
    return this.#lanes[0]!.rtpSwitch.pending ?? this.#lanes[0]!.rtpSwitch.active;
  }

  /** Every source's outputs (for the SFU's input stats). */
  get outputs(): StageRtpOutput[] {
    return [...this.sources.values()].flatMap((s) => s.outputs);
  }

  async #openLane(lane: number, layer: LaneLayer | undefined): Promise<void> {
    const { codec, portPool, rtpAddress, logger } = this.#opts;
    const ports = await portPool.allocate();
    try {
      const rtpSwitch = await RtpSwitch.create({
        codec: codec.codec,
        payloadType: codec.payloadType,
        target: { address: rtpAddress, port: ports.rtp },
        bindAddress: rtpAddress,
        portPool,
        requestKeyFrame: (producerId) => {
          this.sources.get(producerId)?.outputs[lane]?.requestKeyFrame().catch((err: unknown) => logger.warn({ err, producerId, lane }, 'keyframe request failed'));
        },
        logger: layer ? logger.child({ lane }) : logger,
      });
      this.#lanes.push({ rtpSwitch, ports, layer });
    } catch (err) {
      portPool.release(ports);
      throw err;
    }
  }

  /**
   * One host video into the switches: an RTP output per lane (pinned to the
   * lane's layer when there is one), whose PlainTransport sends to that lane's
   * switch at the source's port.
   */
  async addSource(source: { hostId: string; producerId: string }): Promise<void> {
    const { stage, rtpAddress, portPool } = this.#opts;
    const outputs: StageRtpOutput[] = [];
    try {
      for (const { rtpSwitch, layer } of this.#lanes) {
        const output = await stage.createRtpOutput({
          producerIds: [layer ? { producerId: source.producerId, spatialLayer: layer.spatialLayer } : source.producerId],
          remoteIp: rtpAddress,
          portPool,
          target: async () => {
            const a = await rtpSwitch.addSource(source.producerId);
            return { ip: a.address, port: a.port, rtcpPort: a.rtcpPort ?? a.port + 1, release: () => rtpSwitch.removeSource(source.producerId) };
          },
        });
        outputs.push(output);
        if (rtpSwitch.closed) throw new InvalidStateError('the RTP switch closed while a source was being added');
        const video = output.descriptor.tracks.find((t) => t.kind === 'video');
        const key = video && videoCodecKey(video);
        this.#videoKey ??= key;
        if (key !== this.#videoKey) throw new InvalidStateError(`host ${source.hostId}'s video is not the switch's codec (${key} ≠ ${this.#videoKey})`);
      }
    } catch (err) {
      for (const o of outputs) o.close();
      throw err;
    }
    this.sources.set(source.producerId, { hostId: source.hostId, outputs });
    // The switches listen already: media flows now, and only the source on air reaches FFmpeg.
    for (const o of outputs) await o.resume();
  }

  /** Drops the sources not wanted any more, and those whose outputs closed (their producer went away). */
  dropSources(wanted: ReadonlySet<string>): void {
    for (const [producerId, { outputs }] of this.sources) {
      if (!wanted.has(producerId) || outputs.some((o) => o.closed)) {
        for (const o of outputs) o.close(); // their target releases remove the switch source
        this.sources.delete(producerId);
      }
    }
  }

  /** The program's video tracks: one per lane, as the source's outputs describe them, at the lane's port and SSRC. */
  videoLanes(producerId: string): SwitchedVideoLane[] {
    const source = this.sources.get(producerId);
    if (!source) throw new InvalidStateError(`the speaker's video ${producerId} is not a switch source`);
    return this.#lanes.map((l, i) => ({ source: source.outputs[i]!.descriptor, port: l.ports.rtp, ssrc: l.rtpSwitch.ssrc }));
  }

  /** Puts a source on air on every lane (at its next keyframe). */
  select(producerId: string): void {
    for (const l of this.#lanes) l.rtpSwitch.select(producerId);
  }

  /** Puts a source on air on every open lane not already on it (or waiting for it). */
  follow(producerId: string): void {
    for (const { rtpSwitch } of this.#lanes) {
      if (rtpSwitch.closed) continue;
      if ((rtpSwitch.pending ?? rtpSwitch.active) !== producerId) rtpSwitch.select(producerId);
    }
  }

  /** Asks every layer of the source on air for a keyframe at once: copied layers then share their segment boundaries. */
  async requestKeyFrameOnAir(): Promise<void> {
    const onAir = this.onAir;
    if (onAir) for (const output of this.sources.get(onAir)?.outputs ?? []) await output.requestKeyFrame();
  }

  /** Closes the sources' outputs and the switches, and gives the lanes' ports back. Safe twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const { outputs } of this.sources.values()) for (const o of outputs) o.close();
    this.sources.clear();
    for (const lane of this.#lanes) {
      await lane.rtpSwitch.close();
      this.#opts.portPool.release(lane.ports);
    }
  }
}

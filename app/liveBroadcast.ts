import { InputError, InvalidStateError, TypedEmitter, errorMessage, type Logger, type PortPair, type UdpPortPool } from '../common/index.ts';
import type { AudioLevel, RtpOutputSource, RtpTargetHook } from '../ingest/index.ts';
import type { Broadcast, Cue, CueInput, Packager, TimelineEvent, TimelineKind } from '../packager/index.ts';
import {
  RtpReturnRelay, RtpSwitch, createTranscoder, streamCmafSink, switchedProgramSdp, videoCodecKey,
  type ProgramInput, type SwitchCodec, type TranscodeConfig, type Transcoder,
} from '../transcode/index.ts';
import { composeProgram, sameAudios, sameProgram, speakerSources, type CompositionHost, type LayoutMode, type ProgramSpec } from './composition.ts';
import type { ComposeConfig } from './config.ts';
import { SpeakerSelector, loudestOf } from './speaker.ts';
import type { StageFeed, StageProgramInput, StageRtpOutput } from './stageFeed.ts';
import { broadcastStatus, type BroadcastState, type BroadcastStatus } from './broadcastStatus.ts';

export interface LiveBroadcastEvents {
  state: [state: BroadcastState];
}

export interface LiveBroadcastDeps {
  /** This go-live's broadcast id (`broadcastIdFor`): its media's name, never reused. */
  id: string;
  /** The stage's producers and RTP: the in-process Stage (role `all`) or a remote feed (role `broadcast`). */
  stage: StageFeed;
  packager: Packager;
  transcode: TranscodeConfig;
  compose: ComposeConfig;
  portPool: UdpPortPool;
  /** Where FFmpeg receives RTP (it runs in this process's machine). */
  rtpAddress: string;
  /** Send the program back into the SFU as RTP, for WHEP viewers (a remote feed's SFU asks for it itself: `wantsProgram`). */
  whep?: boolean;
  /** Something between the SFU and FFmpeg (the RTP fault tests' impairment proxy); unset in production. */
  rtpTarget?: RtpTargetHook;
  logger: Logger;
}

/**
 * The seam where the program video is picked in speaker mode. Today a speaker
 * change is a program change like any other (an FFmpeg restart); a relay that
 * switches the RTP source at a keyframe can take over `select()` without
 * touching the rest.
 */
export interface ProgramVideo {
  select(hostId: string | undefined): void;
}

/** What a stage feed offers when it can point one producer's RTP at a switch (the in-process Stage). */
interface SwitchableFeed {
  rtpOutputCodec(producerId: string): { mimeType: string; payloadType: number; parameters: Record<string, unknown> } | undefined;
}

/**
 * What one switch carries: the best layer of each host video (an encoded
 * program: one lane), or one simulcast layer of each (copied layers: one lane
 * per layer, highest first, every host sending the same layers).
 */
interface LaneLayer {
  readonly spatialLayer: number;
  readonly height: number | undefined;
}

/** One RTP switch of the speaker layout: FFmpeg's video input on `ports`. */
interface SwitchLane {
  readonly rtpSwitch: RtpSwitch;
  readonly ports: PortPair;
  /** The layer every source sends this lane (its outputs are pinned to it); undefined for an encoded program's one lane. */
  readonly layer: LaneLayer | undefined;
}

/**
 * The speaker layout behind RTP switches: each host video is a source, fed by
 * one RTP output per lane whose PlainTransport sends to that lane's switch
 * (keyed by producer id, so a host that republishes is a new source, never a
 * duplicate). With copied simulcast layers every lane switches to the new
 * speaker at that layer's keyframe, so each rendition keeps its own continuous
 * stream and FFmpeg never restarts.
 */
interface SwitchedVideo {
  readonly lanes: readonly SwitchLane[];
  readonly codecKey: string;
  /** `layersKey(layers)` of the lanes: a stage whose layers differ needs a program change. */
  readonly layersKey: string;
  /** Per source: its host and its outputs, one per lane in the lanes' order. */
  readonly sources: Map<string, { hostId: string; outputs: StageRtpOutput[] }>;
  /** The video m-line's codec as the first source's SDP has it: every source's must match (a check of `codecKey`). */
  sdpKey?: string | undefined;
}

const layersKey = (layers: readonly LaneLayer[] | undefined): string => JSON.stringify(layers ?? null);

/** The source on air (or selected and waiting for its keyframe): the first lane's, which every lane follows. */
const onAirOf = (switched: SwitchedVideo): string | undefined => switched.lanes[0]!.rtpSwitch.pending ?? switched.lanes[0]!.rtpSwitch.active;

/** The RTP that feeds the running FFmpeg: the program's output and, in the switched speaker layout, the switch. */
interface ProgramFeed {
  output: StageRtpOutput | undefined;
  switched: SwitchedVideo | undefined;
  sdp: string | undefined;
  /** The output carries the one video's simulcast layers (highest first, with their heights when known). */
  layers?: (number | undefined)[] | undefined;
}

/**
 * One stage's broadcast: RTP out of the SFU into a supervised FFmpeg, its CMAF
 * into the packager, until it is stopped and becomes a VOD. Data flows one way;
 * this object only wires the stages and reports on them.
 */
export class LiveBroadcast extends TypedEmitter<LiveBroadcastEvents> {
  readonly id: string;
  readonly stageId: string;
  readonly #deps: LiveBroadcastDeps;
  readonly #log: Logger;
  #state: BroadcastState = 'starting';
  #error: string | undefined;
  #broadcast: Broadcast | undefined;
  /** The program's RTP output (its audios only when the video comes through the switch). */
  #output: StageRtpOutput | undefined;
  /** WHEP: the relay of FFmpeg's program RTP, and the SFU's program input it sends to. */
  #rtpReturn: RtpReturnRelay | undefined;
  #programIn: StageProgramInput | undefined;
  #switched: SwitchedVideo | undefined;
  #transcoder: Transcoder | undefined;
  #restarts = 0;
  #lastPartAt: number | undefined;
  #startedAt: Date | undefined;
  #endedAt: Date | undefined;
  #stopping: Promise<void> | undefined;
  #mode: LayoutMode;
  readonly #speakers: SpeakerSelector;
  /** The program FFmpeg runs now, and the RTP output that feeds it. */
  #program: ProgramSpec | undefined;
  #changes = 0;
  #debounce: NodeJS.Timeout | undefined;
  #applying: Promise<void> = Promise.resolve();
  #graceTimer: NodeJS.Timeout | undefined;
  #graceEndsAt: number | undefined;
  #timelineEvents = 0;
  /** Host names seen on the stage (a leaving host is gone from it when its event comes). */
  readonly #hostNames = new Map<string, string>();
  readonly #onStageChange = (): void => this.#changed();
  readonly #onHostJoin = (hostId: string): void => {
    this.#mark('host', Date.now(), { ...this.#hostAttributes(hostId), action: 'join' });
  };
  readonly #onHostLeave = (hostId: string): void => {
    this.#mark('host', Date.now(), { ...this.#hostAttributes(hostId), action: 'leave' });
    this.#speakers.remove(hostId);
    this.#changed();
  };
  readonly #onLevels = (levels: AudioLevel[]): void => {
    const before = this.#speakers.current;
    const now = this.#speakers.update(loudestOf(levels), Date.now());
    if (now !== before) {
      // The turn began when its speaker became the loudest, before the hysteresis decided.
      if (now !== undefined) this.#mark('speaker', this.#speakers.currentFrom, this.#hostAttributes(now));
      this.programVideo.select(now);
    }
  };
  readonly #onStageClose = (): void => void this.stop('stage closed');
  readonly programVideo: ProgramVideo = {
    select: (hostId) => {
      this.#log.info({ speaker: hostId }, 'active speaker');
      if (this.#mode !== 'speaker') return;
      // Behind the switch a speaker change is a switch at the speaker's next keyframe, not a program change.
      if (this.#state === 'live' && this.#switchInPlace()) return;
      this.#changed();
    },
  };

  constructor(deps: LiveBroadcastDeps & { layout?: LayoutMode }) {
    super();
    this.id = deps.id;
    this.stageId = deps.stage.id;
    this.#deps = deps;
    this.#log = deps.logger.child({ stage: deps.stage.id, broadcast: deps.id });
    this.onListenerError((event, err) => this.#log.error({ err, event }, 'broadcast listener threw'));
    this.#mode = deps.layout ?? deps.compose.layout;
    this.#speakers = new SpeakerSelector(deps.compose.speaker);
  }

  get layout(): LayoutMode {
    return this.#mode;
  }

  /** The active speaker (whatever the layout), if anyone has spoken. */
  get speaker(): string | undefined {
    return this.#speakers.current;
  }

  /** Changes the layout live (an FFmpeg restart with the new program, if it differs). */
  setLayout(mode: LayoutMode): void {
    if (this.#state !== 'live' && this.#state !== 'starting') throw new InvalidStateError(`broadcast ${this.id} is ${this.#state}`);
    this.#log.info({ mode }, 'layout');
    if (mode !== this.#mode) this.#mark('layout', Date.now(), { layout: mode });
    this.#mode = mode;
    this.#changed();
  }

  get state(): BroadcastState {
    return this.#state;
  }

  /** Starts RTP, FFmpeg and packaging; resolves once media flows into the packager. */
  async start(): Promise<void> {
    const { stage, packager } = this.#deps;
    if (stage.producers.length === 0) throw new InputError('no-publisher', `no host is publishing on stage ${stage.id}`, 409);
    if (packager.getBroadcast(this.id)) throw new InputError('broadcast-exists', `broadcast ${this.id} exists already`, 409);
    stage.on('producer', this.#onStageChange);
    stage.on('producerclose', this.#onStageChange);
    stage.on('producerpause', this.#onStageChange);
    stage.on('hostjoin', this.#onHostJoin);
    stage.on('hostleave', this.#onHostLeave);
    stage.on('audiolevels', this.#onLevels);
    stage.once('close', this.#onStageClose);
    try {
      const { speaker } = this.#deps.compose;
      await stage.watchAudioLevels({ intervalMs: speaker.levelIntervalMs, threshold: speaker.levelThreshold });
      const { spec, sources } = this.#compose();
      const feed = await this.#openFeed(spec, sources);
      this.#output = feed.output;
      this.#switched = feed.switched;
      this.#program = spec;
      const rtpReturn = await this.#openProgramReturn();
      this.#transcoder = createTranscoder({
        config: this.#deps.transcode,
        program: this.#programInput(spec, feed),
        sink: streamCmafSink(
          (trackId, session) => {
            if (!this.#broadcast) throw new InvalidStateError(`broadcast ${this.id} has no packager broadcast`);
            return this.#broadcast.openTrack(trackId, session);
          },
          // One thumbnail per segment: the index-th shows media time index × segment.
          (session, index, jpeg) => {
            const b = this.#broadcast;
            if (b && !b.ended) b.addThumbnail({ session, index, mediaMs: index * this.#deps.transcode.segmentDurationMs }, jpeg);
          },
        ),
        // The consumers start paused; the transcoder asks for a keyframe once FFmpeg
        // listens, which is the moment to let the media flow (of the current output:
        // a program change brings a new one).
        keyframes: { requestKeyFrame: () => this.#resumeProgram() },
        logger: this.#deps.logger.child({ stage: this.stageId }), // the transcoder adds role and broadcast
        id: this.id,
        ...(rtpReturn ? { rtpReturn } : {}),
      });
      // The packager serves no multivariant playlist or MPD until every track has media.
      this.#broadcast = packager.createBroadcast(this.id, { expectedTracks: this.#transcoder.tracks.map((t) => t.trackId) });
      this.#broadcast.on('part', () => {
        this.#lastPartAt = Date.now();
      });
      // The timeline starts with the stage as it is: the layout, who is on it, who speaks.
      const at = Date.now();
      this.#mark('layout', at, { layout: this.#mode });
      for (const h of stage.hosts) this.#mark('host', at, { ...this.#hostAttributes(h.id), action: 'on-stage' });
      if (this.#speakers.current) this.#mark('speaker', this.#speakers.currentFrom, this.#hostAttributes(this.#speakers.current));
      this.#transcoder.on('restart', (info) => {
        // Program changes are counted in `program.changes`; `restarts` are the supervisor's.
        if (info.reason === 'reconfigured') return;
        this.#restarts++;
        this.#log.warn(info, 'transcoder restarting');
      });
      this.#transcoder.on('died', (err) => this.#fail(err));
      await this.#transcoder.start();
      if (this.#state !== 'starting') throw new InvalidStateError(`broadcast ${this.id} was stopped while starting`);
      this.#startedAt = new Date();
      this.#setState('live');
      this.#changed(); // anything that changed while starting
    } catch (err) {
      this.#error = errorMessage(err);
      await this.#teardown();
      this.#setState('failed');
      throw err;
    }
  }

  /**
   * With WHEP on: the relay FFmpeg's RTP copy of the program goes to, connected
   * to the program input the SFU opens for it. Undefined when WHEP is off.
   */
  async #openProgramReturn() {
    const { stage, whep, rtpAddress } = this.#deps;
    if (!whep && stage.wantsProgram !== true) return undefined;
    if (typeof stage.openProgramInput !== 'function') {
      this.#log.warn('WHEP is on, but this stage feed cannot take the program back: WHEP viewers get nothing');
      return undefined;
    }
    const relay = await RtpReturnRelay.create({ bindAddress: rtpAddress, logger: this.#log });
    this.#rtpReturn = relay;
    this.#programIn = await stage.openProgramInput({
      video: { ssrc: relay.ssrcs.video, payloadType: relay.payloadTypes.video },
      audio: { ssrc: relay.ssrcs.audio, payloadType: relay.payloadTypes.audio },
    });
    relay.connect(this.#programIn.addresses);
    return relay.target;
  }

  #compose(): { spec: ProgramSpec; sources: { hostId: string; producerId: string }[] } {
    const hosts = this.#deps.stage.hosts.map((h): CompositionHost => {
      const video = h.producers.find((p) => p.kind === 'video');
      const audio = h.producers.find((p) => p.kind === 'audio');
      return {
        id: h.id,
        ...(video ? { video: { producerId: video.id, paused: video.paused } } : {}),
        ...(audio ? { audio: { producerId: audio.id, paused: audio.paused } } : {}),
      };
    });
    return { spec: composeProgram({ hosts, mode: this.#mode, speaker: this.#speakers.current }), sources: speakerSources(hosts) };
  }

  /** Media starts once FFmpeg listens: the output's consumers resume, and the switch's source on air sends a keyframe. */
  async #resumeProgram(): Promise<void> {
    await this.#output?.resume();
    const sw = this.#switched;
    const onAir = sw && onAirOf(sw);
    // Every layer of the source on air at once: copied layers then share their segment boundaries.
    if (sw && onAir) for (const output of sw.sources.get(onAir)?.outputs ?? []) await output.requestKeyFrame();
  }

  /**
   * The switch's codec for these sources, or why there can be none: all host
   * videos must have the same codec (and payload type and parameters) for one
   * continuous stream, the codec must be one the switch understands, and the
   * feed must be in-process (a remote feed cannot point RTP at a local switch).
   */
  #switchCodec(sources: readonly { producerId: string }[]): { key: string; codec: SwitchCodec; payloadType: number } | { reason: string } {
    const feed = this.#deps.stage as Partial<SwitchableFeed>;
    if (typeof feed.rtpOutputCodec !== 'function') return { reason: 'the stage feed is remote' };
    const codecs = sources.map((s) => feed.rtpOutputCodec!(s.producerId));
    if (codecs.some((c) => !c)) return { reason: 'a video producer is gone' };
    const keys = new Set(codecs.map((c) => JSON.stringify([c!.mimeType.toLowerCase(), c!.payloadType, Object.entries(c!.parameters).sort()])));
    if (keys.size !== 1) return { reason: `the host videos differ in codec: ${codecs.map((c) => `${c!.mimeType}/${c!.payloadType}`).join(', ')}` };
    const first = codecs[0]!;
    const name = first.mimeType.split('/')[1]?.toUpperCase();
    if (name !== 'VP8' && name !== 'H264') return { reason: `the switch does not handle ${first.mimeType}` };
    return { key: [...keys][0]!, codec: name, payloadType: first.payloadType };
  }

  /** The RTP for a program: through the switch in the speaker layout when the host videos allow, else one output. */
  async #openFeed(spec: ProgramSpec, sources: readonly { hostId: string; producerId: string }[]): Promise<ProgramFeed> {
    // A copied video track cannot go through the switch: each host's H.264 has its own
    // parameter sets (size, profile), which a copy would mix under one init segment.
    // Copied simulcast layers can, one switch per layer, when every host sends the same
    // layers (see #switchLayers).
    if (spec.mode === 'speaker' && !spec.slate && !this.#singleVideoTrack(spec)) {
      const codec = this.#switchCodec(sources);
      const layers = 'reason' in codec ? undefined : this.#switchLayers(spec, sources);
      if ('reason' in codec || typeof layers === 'string') {
        this.#log.warn({ reason: 'reason' in codec ? codec.reason : layers }, 'speaker layout without the RTP switch: speaker changes restart FFmpeg');
      } else {
        try {
          return await this.#openSwitched(spec, sources, codec, layers);
        } catch (err) {
          this.#log.warn({ err }, 'RTP switch failed to open: speaker changes restart FFmpeg');
        }
      }
    }
    const layers = this.#programLayers(spec);
    const output = await this.#openOutput(spec, layers);
    return { output, switched: undefined, sdp: output?.sdp, layers: layers?.map((l) => l.height) };
  }

  /**
   * Whether the broadcast's video tracks are simulcast layers copied as they
   * come: known from the transcoder once it exists, foreseen before from the
   * config and the first program (modes `simulcast` and `auto` take them when
   * it is one H.264 simulcast host full frame).
   */
  #copiesLayers(spec: ProgramSpec): boolean {
    if (this.#transcoder) return this.#transcoder.layout.kind === 'simulcast';
    const { mode } = this.#deps.transcode;
    return (mode === 'simulcast' || mode === 'auto') && this.#layeredVideo(spec) !== undefined;
  }

  /**
   * The lanes' layers for the speaker layout's switches: undefined when the
   * video is encoded (one lane, each host's best layer); the layers, highest
   * first, when the broadcast copies them (then every host video must be H.264
   * simulcast with the same layer heights, and as many as the renditions); or
   * why there can be no switch.
   */
  #switchLayers(spec: ProgramSpec, sources: readonly { producerId: string }[]): LaneLayer[] | undefined | string {
    if (!this.#copiesLayers(spec)) return undefined;
    const layers = this.#programLayers(spec);
    if (!layers) return 'the speaker video is not the copied layers';
    const key = layersKey(layers);
    for (const s of sources) {
      const video = this.#layeredVideo({ ...spec, videos: [{ ...spec.videos[0]!, producerId: s.producerId }] });
      const theirs = video?.layers.map((l, i) => ({ spatialLayer: i, height: l.height })).reverse();
      if (layersKey(theirs) !== key) return `the host videos differ in simulcast layers (${key} ≠ ${layersKey(theirs)})`;
    }
    return layers;
  }

  /** The program's one video when it is a simulcast H.264 producer filling the frame. */
  #layeredVideo(spec: ProgramSpec): { producerId: string; layers: { height?: number }[] } | undefined {
    if (spec.videos.length !== 1 || spec.slate) return undefined;
    const { cell, producerId } = spec.videos[0]!;
    if (cell.x !== 0 || cell.y !== 0 || cell.width !== 1 || cell.height !== 1) return undefined;
    const video = this.#deps.stage.producers.find((p) => p.id === producerId);
    if (!video || video.mimeType.toLowerCase() !== 'video/h264' || !video.layers || video.layers.length < 2) return undefined;
    return { producerId, layers: video.layers };
  }

  /**
   * The layers to send FFmpeg for a program, highest first (spatial layer and
   * height), when it shows one simulcast H.264 host full frame and the
   * broadcast copies layers (a running simulcast layout wants as many layers as
   * it has renditions); undefined otherwise (then the best layer comes, as to
   * anyone).
   */
  #programLayers(spec: ProgramSpec): { spatialLayer: number; height: number | undefined }[] | undefined {
    const video = this.#layeredVideo(spec);
    if (!video || !this.#copiesLayers(spec)) return undefined;
    const layout = this.#transcoder?.layout;
    if (layout?.kind === 'simulcast' && layout.rungs.length !== video.layers.length) return undefined;
    return video.layers.map((l, i) => ({ spatialLayer: i, height: l.height })).reverse();
  }

  async #openSwitched(
    spec: ProgramSpec,
    sources: readonly { hostId: string; producerId: string }[],
    codec: { key: string; codec: SwitchCodec; payloadType: number },
    layers: readonly LaneLayer[] | undefined,
  ): Promise<ProgramFeed> {
    const { portPool, rtpAddress } = this.#deps;
    const lanes: SwitchLane[] = [];
    const switched: SwitchedVideo = { lanes, codecKey: codec.key, layersKey: layersKey(layers), sources: new Map() };
    let audio: StageRtpOutput | undefined;
    try {
      for (const [lane, layer] of (layers ?? [undefined]).entries()) {
        const ports = await portPool.allocate();
        try {
          const rtpSwitch = await RtpSwitch.create({
            codec: codec.codec,
            payloadType: codec.payloadType,
            target: { address: rtpAddress, port: ports.rtp },
            bindAddress: rtpAddress,
            portPool,
            requestKeyFrame: (producerId) => {
              switched.sources.get(producerId)?.outputs[lane]?.requestKeyFrame().catch((err: unknown) => this.#log.warn({ err, producerId, lane }, 'keyframe request failed'));
            },
            logger: layer ? this.#log.child({ lane }) : this.#log,
          });
          lanes.push({ rtpSwitch, ports, layer });
        } catch (err) {
          portPool.release(ports);
          throw err;
        }
      }
      for (const s of sources) await this.#addSwitchSource(switched, s);
      audio = await this.#openOutput({ ...spec, videos: [] });
      const speaker = switched.sources.get(spec.videos[0]!.producerId);
      if (!speaker) throw new InvalidStateError(`the speaker's video ${spec.videos[0]!.producerId} is not a switch source`);
      const sdp = switchedProgramSdp({
        videos: lanes.map((l, i) => ({ source: speaker.outputs[i]!.sdp, port: l.ports.rtp, ssrc: l.rtpSwitch.ssrc })),
        audio: audio?.sdp,
      });
      for (const l of lanes) l.rtpSwitch.select(spec.videos[0]!.producerId);
      this.#log.info(
        { codec: codec.codec, sources: sources.map((s) => s.hostId), ports: lanes.map((l) => l.ports.rtp), ...(layers ? { layers: layers.map((l) => l.height) } : {}) },
        layers ? 'speaker layout through one RTP switch per simulcast layer' : 'speaker layout through the RTP switch',
      );
      return { output: audio, switched, sdp, ...(layers ? { layers: layers.map((l) => l.height) } : {}) };
    } catch (err) {
      audio?.close();
      await this.#closeSwitched(switched);
      throw err;
    }
  }

  /**
   * One host video into the switches: an RTP output per lane (pinned to the
   * lane's layer when there is one), whose PlainTransport sends to that lane's
   * switch at the source's port.
   */
  async #addSwitchSource(switched: SwitchedVideo, source: { hostId: string; producerId: string }): Promise<void> {
    const outputs: StageRtpOutput[] = [];
    try {
      for (const { rtpSwitch, layer } of switched.lanes) {
        const output = await this.#deps.stage.createRtpOutput({
          producerIds: [layer ? { producerId: source.producerId, spatialLayer: layer.spatialLayer } : source.producerId],
          remoteIp: this.#deps.rtpAddress,
          portPool: this.#deps.portPool,
          target: async () => {
            const a = await rtpSwitch.addSource(source.producerId);
            return { ip: a.address, port: a.port, rtcpPort: a.rtcpPort ?? a.port + 1, release: () => rtpSwitch.removeSource(source.producerId) };
          },
        });
        outputs.push(output);
        if (rtpSwitch.closed) throw new InvalidStateError('the RTP switch closed while a source was being added');
        const key = videoCodecKey(output.sdp);
        switched.sdpKey ??= key;
        if (key !== switched.sdpKey) throw new InvalidStateError(`host ${source.hostId}'s video is not the switch's codec (${key} ≠ ${switched.sdpKey})`);
      }
    } catch (err) {
      for (const o of outputs) o.close();
      throw err;
    }
    switched.sources.set(source.producerId, { hostId: source.hostId, outputs });
    // The switches listen already: media flows now, and only the source on air reaches FFmpeg.
    for (const o of outputs) await o.resume();
  }

  async #closeSwitched(switched: SwitchedVideo): Promise<void> {
    for (const { outputs } of switched.sources.values()) for (const o of outputs) o.close();
    switched.sources.clear();
    for (const lane of switched.lanes) {
      await lane.rtpSwitch.close();
      this.#deps.portPool.release(lane.ports);
    }
  }

  /**
   * Applies the current stage to the running switch when only the speaker or
   * the set of host videos changed (same audio mix, still the speaker layout,
   * same codec): sources are added and removed and the speaker selected, with
   * no FFmpeg restart. Returns false when the program needs a restart instead.
   */
  #switchInPlace(): boolean {
    const switched = this.#switched;
    const { spec, sources } = this.#compose();
    if (!switched || !this.#program || spec.mode !== 'speaker' || spec.slate || !sameAudios(spec, this.#program)) return false;
    if (this.#output?.closed) return false;
    const codec = this.#switchCodec(sources);
    if ('reason' in codec || codec.key !== switched.codecKey) return false;
    const layers = this.#switchLayers(spec, sources);
    if (typeof layers === 'string' || layersKey(layers) !== switched.layersKey) return false;
    const wanted = new Map(sources.map((s) => [s.producerId, s]));
    for (const [producerId, { outputs }] of switched.sources) {
      if (!wanted.has(producerId) || outputs.some((o) => o.closed)) {
        for (const o of outputs) o.close(); // their target releases remove the switch source
        switched.sources.delete(producerId);
      }
    }
    const speaker = spec.videos[0]!;
    const adding = sources.filter((s) => !switched.sources.has(s.producerId));
    this.#program = spec;
    const select = (): void => {
      if (this.#switched !== switched || !switched.sources.has(speaker.producerId)) return;
      for (const { rtpSwitch } of switched.lanes) {
        if (rtpSwitch.closed) continue;
        if ((rtpSwitch.pending ?? rtpSwitch.active) !== speaker.producerId) rtpSwitch.select(speaker.producerId);
      }
    };
    if (adding.length === 0) {
      select();
      return true;
    }
    this.#log.info({ adding: adding.map((s) => s.hostId) }, 'switch sources');
    this.#applying = this.#applying
      .then(async () => {
        for (const s of adding) {
          if (this.#switched !== switched || switched.sources.has(s.producerId)) continue;
          try {
            await this.#addSwitchSource(switched, s);
          } catch (err) {
            // The producer went away meanwhile: the change event that follows recomposes.
            this.#log.warn({ err, host: s.hostId }, 'switch source failed');
          }
        }
        select();
      })
      .catch((err: unknown) => this.#log.error({ err }, 'switch sources failed'));
    return true;
  }

  /** RTP toward FFmpeg for a program's tracks: videos (or the one video's layers, highest first) first, then audios (the SDP's order). */
  async #openOutput(spec: ProgramSpec, layers?: readonly { spatialLayer: number }[]): Promise<StageRtpOutput | undefined> {
    const videos: RtpOutputSource[] = layers
      ? layers.map((l) => ({ producerId: spec.videos[0]!.producerId, spatialLayer: l.spatialLayer }))
      : spec.videos.map((v) => v.producerId);
    const producerIds = [...videos, ...spec.audios.map((a) => a.producerId)];
    if (producerIds.length === 0) return undefined;
    return this.#deps.stage.createRtpOutput({
      producerIds,
      remoteIp: this.#deps.rtpAddress,
      portPool: this.#deps.portPool,
      ...(this.#deps.rtpTarget ? { target: this.#deps.rtpTarget } : {}),
    });
  }

  #programInput(spec: ProgramSpec, feed: ProgramFeed): ProgramInput {
    const producers = new Map(this.#deps.stage.producers.map((p) => [p.id, p]));
    const { sdp, layers } = feed;
    return {
      ...(sdp ? { sdp } : {}),
      ...(layers ? { simulcast: { heights: layers } } : {}),
      compose: {
        videos: spec.videos.map((v) => {
          const source = producers.get(v.producerId)?.source;
          return { cell: v.cell, ...(source ? { source } : {}) };
        }),
        audios: spec.audios.length,
        slateImage: this.#deps.compose.slateImage,
      },
    };
  }

  /**
   * Whether the broadcast has one video track that may be copied (modes
   * `passthrough`, and `auto` when its first program is one H.264 host): known
   * from the transcoder once it exists, foreseen from the config before.
   */
  #singleVideoTrack(spec: ProgramSpec): boolean {
    if (this.#transcoder) return this.#transcoder.layout.kind === 'single';
    const { mode } = this.#deps.transcode;
    if (mode !== 'auto') return mode === 'passthrough';
    const video = spec.videos.length === 1 ? this.#deps.stage.producers.find((p) => p.id === spec.videos[0]!.producerId) : undefined;
    return video?.mimeType.toLowerCase() === 'video/h264';
  }

  /**
   * A caption cue for the broadcast (packager `Broadcast.addCaption`): placed
   * on its clock, in the captions rendition. InputError 409 unless live; the
   * cue rules' 4xx otherwise.
   */
  addCaption(input: CueInput): Cue {
    const b = this.#broadcast;
    if (!b || (this.#state !== 'live' && this.#state !== 'starting')) throw new InputError('not-live', `broadcast ${this.id} is ${this.#state}`, 409);
    const cue = b.addCaption(input);
    this.#log.debug({ cue: cue.id, start: cue.start, end: cue.end, shiftedMs: cue.shiftedMs }, 'caption');
    return cue;
  }

  /** The broadcast's timeline so far (speaker turns, hosts joining and leaving, layouts), in time order. */
  get timeline(): readonly TimelineEvent[] {
    return this.#broadcast?.timeline ?? [];
  }

  /** A host's timeline attributes: its id, and its name where the stage knows it (remembered for its leave). */
  #hostAttributes(hostId: string): Record<string, string> {
    const name = this.#deps.stage.hosts.find((h) => h.id === hostId)?.name ?? this.#hostNames.get(hostId);
    if (name) this.#hostNames.set(hostId, name);
    return { 'host-id': hostId, ...(name ? { 'host-name': name } : {}) };
  }

  /** Adds a timeline event to the packager's broadcast (from its creation until it ends). */
  #mark(kind: TimelineKind, at: number, attributes: Record<string, string>): void {
    const b = this.#broadcast;
    if (!b || b.ended) return;
    try {
      b.addTimelineEvent({ id: `${kind}-${++this.#timelineEvents}`, kind, at, attributes });
      this.#log.debug({ kind, at, ...attributes }, 'timeline');
    } catch (err) {
      this.#log.warn({ err, kind }, 'timeline event refused');
    }
  }

  /** Something on the stage changed: check the grace period, and apply the program after the debounce. */
  #changed(): void {
    if (this.#state !== 'live') return;
    this.#checkGrace();
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#applying = this.#applying.then(() => this.#apply()).catch((err: unknown) => this.#log.error({ err }, 'program change failed'));
    }, this.#deps.compose.changeDebounceMs);
  }

  /** Restarts FFmpeg with the current program when it differs from the one running. Serialized. */
  async #apply(): Promise<void> {
    const transcoder = this.#transcoder;
    if (this.#state !== 'live' || !transcoder) return;
    if (this.#switchInPlace()) return;
    const { spec, sources } = this.#compose();
    const outputGone = this.#output?.closed ?? false;
    if (!this.#switched && this.#program && sameProgram(spec, this.#program) && !outputGone) return;
    let feed: ProgramFeed;
    try {
      feed = await this.#openFeed(spec, sources);
    } catch (err) {
      // A producer went away while we opened its RTP: the next change event recomposes.
      this.#log.warn({ err }, 'program RTP output failed; recomposing');
      this.#changed();
      return;
    }
    if (this.#state !== 'live') {
      feed.output?.close();
      if (feed.switched) await this.#closeSwitched(feed.switched);
      return;
    }
    const previous = this.#output;
    const previousSwitch = this.#switched;
    const closePrevious = (): void => {
      previous?.close();
      if (previousSwitch) this.#closeSwitched(previousSwitch).catch((err: unknown) => this.#log.error({ err }, 'closing the RTP switch failed'));
    };
    this.#output = feed.output;
    this.#switched = feed.switched;
    this.#program = spec;
    this.#changes++;
    this.#log.info(
      { mode: spec.mode, videos: spec.videos.map((v) => v.hostId), audios: spec.audios.map((a) => a.hostId), slate: spec.slate },
      'program change',
    );
    // Not awaited: a change that comes while this program's FFmpeg is still starting must
    // not wait for it (the transcoder stops that start and goes on with the newer program).
    transcoder.reconfigure(this.#programInput(spec, feed)).then(closePrevious, (err: unknown) => {
      // The supervisor retries the session with the newest program; the broadcast goes on.
      this.#log.warn({ err }, 'FFmpeg did not start with the new program');
      closePrevious();
    },
    );
  }

  /** No host publishes anything: the slate goes out for `hostGraceMs`, then the broadcast ends. */
  #checkGrace(): void {
    const nobody = this.#deps.stage.producers.length === 0;
    if (nobody && !this.#graceTimer) {
      const graceMs = this.#deps.compose.hostGraceMs;
      this.#graceEndsAt = Date.now() + graceMs;
      this.#log.info({ graceMs }, 'no host publishes: slate until a host returns');
      this.#graceTimer = setTimeout(() => void this.stop('no host returned within the grace period'), graceMs);
    } else if (!nobody && this.#graceTimer) {
      clearTimeout(this.#graceTimer);
      this.#graceTimer = undefined;
      this.#graceEndsAt = undefined;
      this.#log.info('a host is back');
    }
  }

  /** Ends the broadcast: FFmpeg stopped, playlists end with ENDLIST, the MPD turns static. */
  stop(reason = 'stopped'): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.#state === 'ended' || this.#state === 'failed') return;
      this.#log.info({ reason }, 'stopping broadcast');
      this.#setState('stopping');
      await this.#teardown();
      this.#endedAt = new Date();
      this.#setState('ended');
    })();
    return this.#stopping;
  }

  async status(): Promise<BroadcastStatus> {
    const input = await this.#inputStats();
    return broadcastStatus({
      id: this.id,
      stageId: this.stageId,
      state: this.#state,
      error: this.#error,
      startedAt: this.#startedAt,
      endedAt: this.#endedAt,
      transcoder: this.#transcoder,
      restarts: this.#restarts,
      packaged: this.#broadcast?.tracks ?? [],
      input,
      lastPartAt: this.#lastPartAt,
      program: this.#program
        ? { mode: this.#mode, speaker: this.#speakers.current, spec: this.#program, changes: this.#changes, switched: this.#switched, graceEndsAt: this.#graceEndsAt }
        : undefined,
      now: Date.now(),
    });
  }

  /** Bytes per program input, from the SFU's view (every switch source included). */
  async #inputStats(): Promise<BroadcastStatus['input']> {
    const outputs = [this.#output, ...(this.#switched ? [...this.#switched.sources.values()].flatMap((s) => s.outputs) : [])];
    const out: BroadcastStatus['input'] = [];
    for (const o of outputs) if (o && !o.closed) for (const { producerId, kind, bitrate } of await o.stats()) out.push({ producerId, kind, bitrate });
    return out;
  }

  #fail(err: Error): void {
    this.#log.error({ err }, 'transcoder died; ending the broadcast');
    this.#error = err.message;
    void this.stop('transcoder died');
  }

  async #teardown(): Promise<void> {
    const { stage } = this.#deps;
    clearTimeout(this.#debounce);
    clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    this.#graceEndsAt = undefined;
    stage.off('producer', this.#onStageChange);
    stage.off('producerclose', this.#onStageChange);
    stage.off('producerpause', this.#onStageChange);
    stage.off('hostjoin', this.#onHostJoin);
    stage.off('hostleave', this.#onHostLeave);
    stage.off('audiolevels', this.#onLevels);
    stage.off('close', this.#onStageClose);
    try {
      await this.#transcoder?.close();
    } catch (err) {
      this.#log.error({ err }, 'transcoder close failed');
    }
    await this.#applying;
    this.#output?.close();
    if (this.#switched) await this.#closeSwitched(this.#switched);
    this.#switched = undefined;
    this.#programIn?.close();
    this.#rtpReturn?.close();
    this.#broadcast?.end();
  }

  #setState(state: BroadcastState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#log.info({ state }, 'broadcast state');
    this.emit('state', state);
  }
}

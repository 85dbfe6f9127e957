import { InvalidStateError, TypedEmitter, type Logger, type RtpSessionDescriptor, type UdpPortPool } from '../common/index.ts';
import type { AudioLevel, RtpOutputSource, RtpTargetHook } from '../ingest/index.ts';
import { switchedProgramSession, type ProgramInput, type TranscodeConfig, type Transcoder } from '../transcode/index.ts';
import type { BroadcastStatus, ProgramView } from './broadcastStatus.ts';
import { composeProgram, sameProgram, speakerSources, type CompositionHost, type LayoutMode, type ProgramSpec } from './composition.ts';
import type { ComposeConfig } from './config.ts';
import { SpeakerSelector, loudestOf } from './speaker.ts';
import type { StageFeed, StageRtpOutput } from './stageFeed.ts';
import { SwitchedVideo } from './switchedVideo.ts';
import { planSwitch, programLayers, switchCodec, switchLayers, switchesInPlace, type LaneLayer, type OutputCodec, type SwitchCodecSpec, type SwitchContext } from './switchPlan.ts';

/**
 * The seam where the program video is picked in speaker mode: behind the RTP
 * switch a speaker change is a switch at the speaker's next keyframe; without
 * it, a program change like any other (an FFmpeg restart).
 */
export interface ProgramVideo {
  select(hostId: string | undefined): void;
}

export interface ProgramEvents {
  /** A new active speaker, and when its turn began: when it became the loudest, before the hysteresis decided. */
  speaker: [hostId: string, from: number];
  /** No host came back within the grace period: the broadcast ends. */
  graceexpired: [];
}

export interface ProgramDeps {
  stage: StageFeed;
  transcode: TranscodeConfig;
  compose: ComposeConfig;
  /** The layout the program starts with. */
  layout: LayoutMode;
  portPool: UdpPortPool;
  /** Where FFmpeg receives RTP (it runs in this process's machine). */
  rtpAddress: string;
  /** Something between the SFU and FFmpeg (the RTP fault tests' impairment proxy); unset in production. */
  rtpTarget?: RtpTargetHook | undefined;
  /** Whether the broadcast is live: stage changes are applied only then. */
  live(): boolean;
  /** The broadcast's logger. */
  logger: Logger;
}

/** What a stage feed offers when it can point one producer's RTP at a switch (the in-process Stage). */
interface SwitchableFeed {
  rtpOutputCodec(producerId: string): OutputCodec | undefined;
}

/** The RTP that feeds the running FFmpeg: the program's output and, in the switched speaker layout, the switch. */
interface ProgramFeed {
  /** The program's RTP output (its audios only when the video comes through the switch). */
  output: StageRtpOutput | undefined;
  switched: SwitchedVideo | undefined;
  /** What FFmpeg receives: the output's session, or the switches' videos and the output's audios. */
  rtp: RtpSessionDescriptor | undefined;
  /** The output carries the one video's simulcast layers (highest first, with their heights when known). */
  layers?: (number | undefined)[] | undefined;
}

/**
 * One broadcast's program: which hosts' videos and audios are on air and how
 * (the layout, the active speaker), and the RTP that carries them to FFmpeg.
 * A stage change is applied after a debounce, serialized: in the speaker
 * layout behind the RTP switch(es) a speaker change is a switch in place;
 * anything else that changes the program reconfigures the transcoder (an
 * FFmpeg restart with a discontinuity). With no host publishing, the slate
 * goes out for the grace period.
 */
export class Program extends TypedEmitter<ProgramEvents> implements ProgramVideo {
  readonly #deps: ProgramDeps;
  readonly #log: Logger;
  #mode: LayoutMode;
  readonly #speakers: SpeakerSelector;
  /** The program FFmpeg runs now, and the RTP that feeds it. */
  #spec: ProgramSpec | undefined;
  #feed: ProgramFeed | undefined;
  #transcoder: Transcoder | undefined;
  #changes = 0;
  #debounce: NodeJS.Timeout | undefined;
  #applying: Promise<void> = Promise.resolve();
  #graceTimer: NodeJS.Timeout | undefined;
  #graceEndsAt: number | undefined;

  constructor(deps: ProgramDeps) {
    super();
    this.#deps = deps;
    this.#log = deps.logger;
    this.onListenerError((event, err) => this.#log.error({ err, event }, 'program listener threw'));
    this.#mode = deps.layout;
    this.#speakers = new SpeakerSelector(deps.compose.speaker);
  }

  get mode(): LayoutMode {
    return this.#mode;
  }

  /** Changes the layout (a program change, if the program differs). */
  setMode(mode: LayoutMode): void {
    this.#mode = mode;
    this.changed();
  }

  /** The active speaker (whatever the layout), if anyone has spoken. */
  get speaker(): string | undefined {
    return this.#speakers.current;
  }

  /** When the active speaker's turn began (see `SpeakerSelector.currentFrom`). */
  get speakerFrom(): number {
    return this.#speakers.currentFrom;
  }

  /** One audio-level report: the loudest host may become the speaker. */
  levels(levels: AudioLevel[]): void {
    const before = this.#speakers.current;
    const now = this.#speakers.update(loudestOf(levels), Date.now());
    if (now !== before) {
      if (now !== undefined) this.emit('speaker', now, this.#speakers.currentFrom);
      this.select(now);
    }
  }

  /** A host left the stage: it can no longer be the speaker, and the program changes. */
  hostLeft(hostId: string): void {
    this.#speakers.remove(hostId);
    this.changed();
  }

  select(hostId: string | undefined): void {
    this.#log.info({ speaker: hostId }, 'active speaker');
    if (this.#mode !== 'speaker') return;
    // Behind the switch a speaker change is a switch at the speaker's next keyframe, not a program change.
    if (this.#deps.live() && this.#switchInPlace()) return;
    this.changed();
  }

  /** Opens the RTP of the stage's program as it is now, for the transcoder's first run (`input()`). */
  async open(): Promise<void> {
    const { spec, sources } = this.#compose();
    this.#feed = await this.#openFeed(spec, sources);
    this.#spec = spec;
  }

  /** The transcoder's program: the composition on air and the RTP that feeds it. */
  input(): ProgramInput {
    const spec = this.#spec;
    const feed = this.#feed;
    if (!spec || !feed) throw new InvalidStateError('the program is not open');
    return this.#programInput(spec, feed);
  }

  /** The transcoder that runs the program: program changes reconfigure it. */
  run(transcoder: Transcoder): void {
    this.#transcoder = transcoder;
  }

  /** Media starts once FFmpeg listens: the output's consumers resume, and the switch's source on air sends a keyframe. */
  async resume(): Promise<void> {
    await this.#feed?.output?.resume();
    await this.#feed?.switched?.requestKeyFrameOnAir();
  }

  /** What the status report shows of the program, once there is one. */
  get view(): ProgramView | undefined {
    if (!this.#spec) return undefined;
    return { mode: this.#mode, speaker: this.#speakers.current, spec: this.#spec, changes: this.#changes, switched: this.#feed?.switched, graceEndsAt: this.#graceEndsAt };
  }

  /** Bytes per program input, from the SFU's view (every switch source included). */
  async inputStats(): Promise<BroadcastStatus['input']> {
    const outputs = [this.#feed?.output, ...(this.#feed?.switched?.outputs ?? [])];
    const out: BroadcastStatus['input'] = [];
    for (const o of outputs) if (o && !o.closed) for (const { producerId, kind, bitrate } of await o.stats()) out.push({ producerId, kind, bitrate });
    return out;
  }

  /** Something on the stage changed: check the grace period, and apply the program after the debounce. */
  changed(): void {
    if (!this.#deps.live()) return;
    this.#checkGrace();
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#applying = this.#applying.then(() => this.#apply()).catch((err: unknown) => this.#log.error({ err }, 'program change failed'));
    }, this.#deps.compose.changeDebounceMs);
  }

  /** No more changes: the pending one and the grace period are cancelled (the broadcast is ending). */
  halt(): void {
    clearTimeout(this.#debounce);
    clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    this.#graceEndsAt = undefined;
  }

  /** Once FFmpeg has stopped: waits for the change being applied, then closes the program's RTP and switch. */
  async close(): Promise<void> {
    await this.#applying;
    this.#feed?.output?.close();
    const switched = this.#feed?.switched;
    if (switched) await switched.close();
    if (this.#feed) this.#feed = { ...this.#feed, switched: undefined };
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

  /** What the switch decisions know now: the producers, the transcode mode, the running transcoder's tracks. */
  #context(): SwitchContext {
    return { producers: this.#deps.stage.producers, mode: this.#deps.transcode.mode, layout: this.#transcoder?.layout };
  }

  /** The producers' codecs toward a switch, when the feed is in-process. */
  #codecOf(): ((producerId: string) => OutputCodec | undefined) | undefined {
    const feed = this.#deps.stage as Partial<SwitchableFeed>;
    return typeof feed.rtpOutputCodec === 'function' ? (producerId) => feed.rtpOutputCodec!(producerId) : undefined;
  }

  /** The RTP for a program: through the switch in the speaker layout when the host videos allow, else one output. */
  async #openFeed(spec: ProgramSpec, sources: readonly { hostId: string; producerId: string }[]): Promise<ProgramFeed> {
    const plan = planSwitch(spec, sources, this.#context(), this.#codecOf());
    if (plan && 'reason' in plan) {
      this.#log.warn({ reason: plan.reason }, 'speaker layout without the RTP switch: speaker changes restart FFmpeg');
    } else if (plan) {
      try {
        return await this.#openSwitched(spec, sources, plan.codec, plan.layers);
      } catch (err) {
        this.#log.warn({ err }, 'RTP switch failed to open: speaker changes restart FFmpeg');
      }
    }
    const layers = programLayers(spec, this.#context());
    const output = await this.#openOutput(spec, layers);
    return { output, switched: undefined, rtp: output?.descriptor, layers: layers?.map((l) => l.height) };
  }

  async #openSwitched(
    spec: ProgramSpec,
    sources: readonly { hostId: string; producerId: string }[],
    codec: SwitchCodecSpec,
    layers: readonly LaneLayer[] | undefined,
  ): Promise<ProgramFeed> {
    const { stage, portPool, rtpAddress } = this.#deps;
    const switched = await SwitchedVideo.open({ codec, layers, stage, portPool, rtpAddress, logger: this.#log });
    let audio: StageRtpOutput | undefined;
    try {
      for (const s of sources) await switched.addSource(s);
      audio = await this.#openOutput({ ...spec, videos: [] });
      const rtp = switchedProgramSession({ videos: switched.videoLanes(spec.videos[0]!.producerId), audio: audio?.descriptor });
      switched.select(spec.videos[0]!.producerId);
      this.#log.info(
        { codec: codec.codec, sources: sources.map((s) => s.hostId), ports: switched.lanes.map((l) => l.ports.rtp), ...(layers ? { layers: layers.map((l) => l.height) } : {}) },
        layers ? 'speaker layout through one RTP switch per simulcast layer' : 'speaker layout through the RTP switch',
      );
      return { output: audio, switched, rtp, ...(layers ? { layers: layers.map((l) => l.height) } : {}) };
    } catch (err) {
      audio?.close();
      await switched.close();
      throw err;
    }
  }

  /** RTP toward FFmpeg for a program's tracks: videos (or the one video's layers, highest first) first, then audios (the order FFmpeg maps them in). */
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
    const { rtp, layers } = feed;
    return {
      ...(rtp ? { rtp } : {}),
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

  /** Restarts FFmpeg with the current program when it differs from the one running. Serialized. */
  async #apply(): Promise<void> {
    const transcoder = this.#transcoder;
    if (!this.#deps.live() || !transcoder) return;
    if (this.#switchInPlace()) return;
    const { spec, sources } = this.#compose();
    const outputGone = this.#feed?.output?.closed ?? false;
    if (!this.#feed?.switched && this.#spec && sameProgram(spec, this.#spec) && !outputGone) return;
    let feed: ProgramFeed;
    try {
      feed = await this.#openFeed(spec, sources);
    } catch (err) {
      // A producer went away while we opened its RTP: the next change event recomposes.
      this.#log.warn({ err }, 'program RTP output failed; recomposing');
      this.changed();
      return;
    }
    if (!this.#deps.live()) {
      feed.output?.close();
      if (feed.switched) await feed.switched.close();
      return;
    }
    const previous = this.#feed;
    const closePrevious = (): void => {
      previous?.output?.close();
      previous?.switched?.close().catch((err: unknown) => this.#log.error({ err }, 'closing the RTP switch failed'));
    };
    this.#feed = feed;
    this.#spec = spec;
    this.#changes++;
    this.#log.info(
      { mode: spec.mode, videos: spec.videos.map((v) => v.hostId), audios: spec.audios.map((a) => a.hostId), slate: spec.slate },
      'program change',
    );
    // Not awaited: a change that comes while this program's FFmpeg is still starting must
    // not wait for it (the transcoder stops that start and goes on with the newer program).
    transcoder.reconfigure(this.#programInput(spec, feed)).then(closePrevious, (err: unknown) => {
      // The supervisor retries the run with the newest program; the broadcast goes on.
      this.#log.warn({ err }, 'FFmpeg did not start with the new program');
      closePrevious();
    },
    );
  }

  /**
   * Applies the current stage to the running switch when only the speaker or
   * the set of host videos changed (`switchesInPlace`): sources are added and
   * removed and the speaker selected, with no FFmpeg restart. Returns false
   * when the program needs a restart instead.
   */
  #switchInPlace(): boolean {
    const switched = this.#feed?.switched;
    const { spec, sources } = this.#compose();
    if (!switched || !this.#spec) return false;
    const running = { spec: this.#spec, codecKey: switched.codecKey, layersKey: switched.layersKey, outputClosed: this.#feed?.output?.closed ?? false };
    const ctx = this.#context();
    if (!switchesInPlace(running, { spec, codec: switchCodec(this.#codecOf(), sources), layers: switchLayers(spec, sources, ctx) })) return false;
    switched.dropSources(new Set(sources.map((s) => s.producerId)));
    const speaker = spec.videos[0]!;
    const adding = sources.filter((s) => !switched.sources.has(s.producerId));
    this.#spec = spec;
    const select = (): void => {
      if (this.#feed?.switched !== switched || !switched.sources.has(speaker.producerId)) return;
      switched.follow(speaker.producerId);
    };
    if (adding.length === 0) {
      select();
      return true;
    }
    this.#log.info({ adding: adding.map((s) => s.hostId) }, 'switch sources');
    this.#applying = this.#applying
      .then(async () => {
        for (const s of adding) {
          if (this.#feed?.switched !== switched || switched.sources.has(s.producerId)) continue;
          try {
            await switched.addSource(s);
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

  /** No host publishes anything: the slate goes out for `hostGraceMs`, then the broadcast ends. */
  #checkGrace(): void {
    const nobody = this.#deps.stage.producers.length === 0;
    if (nobody && !this.#graceTimer) {
      const graceMs = this.#deps.compose.hostGraceMs;
      this.#graceEndsAt = Date.now() + graceMs;
      this.#log.info({ graceMs }, 'no host publishes: slate until a host returns');
      this.#graceTimer = setTimeout(() => this.emit('graceexpired'), graceMs);
    } else if (!nobody && this.#graceTimer) {
      clearTimeout(this.#graceTimer);
      this.#graceTimer = undefined;
      this.#graceEndsAt = undefined;
      this.#log.info('a host is back');
    }
  }
}

import { InputError, InvalidStateError, TypedEmitter, errorMessage, type Logger, type UdpPortPool } from '../common/index.ts';
import type { AudioLevel, RtpTargetHook } from '../ingest/index.ts';
import type { Broadcast, Cue, CueInput, Packager, TimelineEvent, TimelineKind } from '../packager/index.ts';
import { RtpReturnRelay, createTranscoder, promisedHeight, streamCmafSink, type TranscodeConfig, type Transcoder } from '../transcode/index.ts';
import { broadcastStatus, type BroadcastState, type BroadcastStatus } from './broadcastStatus.ts';
import type { LayoutMode } from './composition.ts';
import type { ComposeConfig } from './config.ts';
import { Program, type ProgramVideo } from './program.ts';
import type { StageFeed, StageProgramInput } from './stageFeed.ts';

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
 * One stage's broadcast: RTP out of the SFU into a supervised FFmpeg, its CMAF
 * into the packager, until it is stopped and becomes a VOD. Data flows one way;
 * this object only wires the stages and reports on them: the stage's events
 * go to the program (app/program.ts: what is on air, and the RTP that carries
 * it) and to the broadcast's timeline; the report is app/broadcastStatus.ts.
 */
export class LiveBroadcast extends TypedEmitter<LiveBroadcastEvents> {
  readonly id: string;
  readonly stageId: string;
  readonly #deps: LiveBroadcastDeps;
  readonly #log: Logger;
  #state: BroadcastState = 'starting';
  #error: string | undefined;
  #broadcast: Broadcast | undefined;
  /** WHEP: the relay of FFmpeg's program RTP, and the SFU's program input it sends to. */
  #rtpReturn: RtpReturnRelay | undefined;
  #programIn: StageProgramInput | undefined;
  #transcoder: Transcoder | undefined;
  #restarts = 0;
  #lastPartAt: number | undefined;
  #startedAt: Date | undefined;
  #endedAt: Date | undefined;
  #stopping: Promise<void> | undefined;
  readonly #program: Program;
  #timelineEvents = 0;
  /** Host names seen on the stage (a leaving host is gone from it when its event comes). */
  readonly #hostNames = new Map<string, string>();
  readonly #onStageChange = (): void => this.#program.changed();
  readonly #onHostJoin = (hostId: string): void => {
    this.#mark('host', Date.now(), { ...this.#hostAttributes(hostId), action: 'join' });
  };
  readonly #onHostLeave = (hostId: string): void => {
    this.#mark('host', Date.now(), { ...this.#hostAttributes(hostId), action: 'leave' });
    this.#program.hostLeft(hostId);
  };
  readonly #onLevels = (levels: AudioLevel[]): void => this.#program.levels(levels);
  readonly #onStageClose = (): void => void this.stop('stage closed');

  constructor(deps: LiveBroadcastDeps & { layout?: LayoutMode }) {
    super();
    this.id = deps.id;
    this.stageId = deps.stage.id;
    this.#deps = deps;
    this.#log = deps.logger.child({ stage: deps.stage.id, broadcast: deps.id });
    this.onListenerError((event, err) => this.#log.error({ err, event }, 'broadcast listener threw'));
    this.#program = new Program({
      stage: deps.stage,
      transcode: deps.transcode,
      compose: deps.compose,
      layout: deps.layout ?? deps.compose.layout,
      portPool: deps.portPool,
      rtpAddress: deps.rtpAddress,
      rtpTarget: deps.rtpTarget,
      live: () => this.#state === 'live',
      logger: this.#log,
    });
    // The turn began when its speaker became the loudest, before the hysteresis decided.
    this.#program.on('speaker', (hostId, from) => this.#mark('speaker', from, this.#hostAttributes(hostId)));
    this.#program.on('graceexpired', () => void this.stop('no host returned within the grace period'));
  }

  /** The seam where the program video is picked in speaker mode (the program's). */
  get programVideo(): ProgramVideo {
    return this.#program;
  }

  get layout(): LayoutMode {
    return this.#program.mode;
  }

  /** The active speaker (whatever the layout), if anyone has spoken. */
  get speaker(): string | undefined {
    return this.#program.speaker;
  }

  /** Changes the layout live (an FFmpeg restart with the new program, if it differs). */
  setLayout(mode: LayoutMode): void {
    if (this.#state !== 'live' && this.#state !== 'starting') throw new InvalidStateError(`broadcast ${this.id} is ${this.#state}`);
    this.#log.info({ mode }, 'layout');
    if (mode !== this.#program.mode) this.#mark('layout', Date.now(), { layout: mode });
    this.#program.setMode(mode);
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
      await this.#program.open();
      const rtpReturn = await this.#openProgramReturn();
      this.#transcoder = createTranscoder({
        config: this.#deps.transcode,
        program: this.#program.input(),
        sink: streamCmafSink(
          (trackId, run) => {
            if (!this.#broadcast) throw new InvalidStateError(`broadcast ${this.id} has no packager broadcast`);
            return this.#broadcast.openTrack(trackId, run);
          },
          // One thumbnail per segment: the index-th shows media time index × segment.
          (run, index, jpeg) => {
            const b = this.#broadcast;
            if (b && !b.ended) b.addThumbnail({ run, index, mediaMs: index * this.#deps.transcode.segmentDurationMs }, jpeg);
          },
        ),
        // The consumers start paused; the transcoder asks for a keyframe once FFmpeg
        // listens, which is the moment to let the media flow (of the current output:
        // a program change brings a new one).
        keyframes: { requestKeyFrame: () => this.#program.resume() },
        logger: this.#deps.logger.child({ stage: this.stageId }), // the transcoder adds role and broadcast
        id: this.id,
        ...(rtpReturn ? { rtpReturn } : {}),
      });
      this.#program.run(this.#transcoder);
      // The packager serves no multivariant playlist or MPD until every track has media.
      this.#broadcast = packager.createBroadcast(this.id, { expectedTracks: this.#transcoder.tracks.map((t) => t.trackId) });
      // The packager judges when a new FFmpeg run is on air; the transcoder stops the previous run then.
      this.#broadcast.on('sourceSwitched', (run) => this.#transcoder?.sourceSwitched(run));
      this.#broadcast.on('part', () => {
        this.#lastPartAt = Date.now();
      });
      // A copied simulcast layer is the size the host's encoder sent when FFmpeg started; RESOLUTION says that
      // size, the rendition's name the layer's: an operator learns here why video-720p plays 360p.
      this.#broadcast.on('init', (trackId, init) => {
        const planned = this.#transcoder?.tracks.find((t) => t.trackId === trackId);
        const promised = planned && promisedHeight(planned);
        if (promised === undefined || init.info.height === promised) return;
        const { width, height } = init.info;
        this.#log.warn({ rendition: trackId, period: init.period, width, height, promised }, 'copied layer is not the size its rendition is named for: the host scaled it down');
      });
      // The timeline starts with the stage as it is: the layout, who is on it, who speaks.
      const at = Date.now();
      this.#mark('layout', at, { layout: this.#program.mode });
      for (const h of stage.hosts) this.#mark('host', at, { ...this.#hostAttributes(h.id), action: 'on-stage' });
      if (this.#program.speaker) this.#mark('speaker', this.#program.speakerFrom, this.#hostAttributes(this.#program.speaker));
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
      this.#program.changed(); // anything that changed while starting
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
    const input = await this.#program.inputStats();
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
      program: this.#program.view,
      now: Date.now(),
    });
  }

  #fail(err: Error): void {
    this.#log.error({ err }, 'transcoder died; ending the broadcast');
    this.#error = err.message;
    void this.stop('transcoder died');
  }

  async #teardown(): Promise<void> {
    const { stage } = this.#deps;
    this.#program.halt();
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
    await this.#program.close();
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

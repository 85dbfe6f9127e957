import { InputError, InvalidStateError, TypedEmitter, errorMessage, type Logger, type UdpPortPool } from '../common/index.ts';
import type { ProducerInfo, RtpTargetHook } from '../ingest/index.ts';
import type { Broadcast, Packager } from '../packager/index.ts';
import type { StageFeed, StageRtpOutput } from './stageFeed.ts';
import { createTranscoder, streamCmafSink, type TranscodeConfig, type TranscodeProgress, type Transcoder } from '../transcode/index.ts';

export type BroadcastState = 'starting' | 'live' | 'stopping' | 'ended' | 'failed';

export interface LiveBroadcastEvents {
  state: [state: BroadcastState];
}

export interface LiveBroadcastDeps {
  /** The stage's producers and RTP: the in-process Stage (role `all`) or a remote feed (role `broadcast`). */
  stage: StageFeed;
  packager: Packager;
  transcode: TranscodeConfig;
  portPool: UdpPortPool;
  /** Where FFmpeg receives RTP (it runs in this process's machine). */
  rtpAddress: string;
  /** Something between the SFU and FFmpeg (the RTP fault tests' impairment proxy); unset in production. */
  rtpTarget?: RtpTargetHook;
  logger: Logger;
}

export interface BroadcastStatus {
  id: string;
  state: BroadcastState;
  error?: string;
  startedAt?: string;
  endedAt?: string;
  renditions: { trackId: string; kind: string; height?: number; bitrateKbps?: number; measuredBandwidth?: number }[];
  input: { producerId: string; kind: string; bitrate: number }[];
  transcoder?: {
    state: string;
    session: number;
    pid?: number;
    speed?: number;
    fps?: number;
    restarts: number;
    /** Damaged pictures FFmpeg reported (lost/reordered RTP) and the keyframe requests they led to. */
    decodeErrors: number;
    keyframeRequests: number;
  };
  /** Age of the newest part at the live edge, ms: how fresh the origin's edge is. */
  lastPartAgeMs?: number;
}

/**
 * One stage's broadcast: RTP out of the SFU into a supervised FFmpeg, its CMAF
 * into the packager, until it is stopped and becomes a VOD. Data flows one way;
 * this object only wires the stages and reports on them.
 */
export class LiveBroadcast extends TypedEmitter<LiveBroadcastEvents> {
  readonly id: string;
  readonly #deps: LiveBroadcastDeps;
  readonly #log: Logger;
  #state: BroadcastState = 'starting';
  #error: string | undefined;
  #broadcast: Broadcast | undefined;
  #output: StageRtpOutput | undefined;
  #transcoder: Transcoder | undefined;
  #restarts = 0;
  #lastPartAt: number | undefined;
  #startedAt: Date | undefined;
  #endedAt: Date | undefined;
  #stopping: Promise<void> | undefined;
  readonly #onProducerClose = (info: ProducerInfo): void => {
    if (this.#output?.tracks.some((t) => t.producerId === info.id)) {
      // Until hosts can reconnect into a running broadcast, a publisher that leaves ends it.
      void this.stop('publisher left');
    }
  };
  readonly #onStageClose = (): void => void this.stop('stage closed');

  constructor(deps: LiveBroadcastDeps) {
    super();
    this.id = deps.stage.id;
    this.#deps = deps;
    this.#log = deps.logger.child({ stage: deps.stage.id, broadcast: deps.stage.id });
    this.onListenerError((event, err) => this.#log.error({ err, event }, 'broadcast listener threw'));
  }

  get state(): BroadcastState {
    return this.#state;
  }

  /** Starts RTP, FFmpeg and packaging; resolves once media flows into the packager. */
  async start(): Promise<void> {
    const { stage, packager } = this.#deps;
    const audio = stage.producers.find((p) => p.kind === 'audio');
    const video = stage.producers.find((p) => p.kind === 'video');
    if (!video) throw new InputError('no-publisher', `no host is publishing video on stage ${stage.id}`, 409);
    if (packager.getBroadcast(this.id)) throw new InputError('broadcast-exists', `stage ${stage.id} already has a broadcast`, 409);
    stage.on('producerclose', this.#onProducerClose);
    stage.once('close', this.#onStageClose);
    try {
      const producerIds = [video.id, ...(audio ? [audio.id] : [])];
      this.#output = await stage.createRtpOutput({
        producerIds,
        remoteIp: this.#deps.rtpAddress,
        portPool: this.#deps.portPool,
        ...(this.#deps.rtpTarget ? { target: this.#deps.rtpTarget } : {}),
      });
      const output = this.#output;
      this.#transcoder = createTranscoder({
        config: this.#deps.transcode,
        sdp: output.sdp,
        sink: streamCmafSink((trackId) => {
          if (!this.#broadcast) throw new InvalidStateError(`broadcast ${this.id} has no packager broadcast`);
          return this.#broadcast.openTrack(trackId);
        }),
        // The consumers start paused; the transcoder asks for a keyframe once FFmpeg
        // listens, which is the moment to let the media flow.
        keyframes: { requestKeyFrame: () => output.resume() },
        logger: this.#deps.logger.child({ stage: this.id }), // the transcoder adds role and broadcast
        id: this.id,
        ...(video.source ? { sourceHeight: video.source.height } : {}),
      });
      // The packager serves no multivariant playlist or MPD until every track has media.
      this.#broadcast = packager.createBroadcast(this.id, { expectedTracks: this.#transcoder.tracks.map((t) => t.trackId) });
      this.#broadcast.on('part', () => {
        this.#lastPartAt = Date.now();
      });
      this.#transcoder.on('restart', (info) => {
        this.#restarts++;
        this.#log.warn(info, 'transcoder restarting');
      });
      this.#transcoder.on('died', (err) => this.#fail(err));
      await this.#transcoder.start();
      if (this.#state !== 'starting') throw new InvalidStateError(`broadcast ${this.id} was stopped while starting`);
      this.#startedAt = new Date();
      this.#setState('live');
    } catch (err) {
      this.#error = errorMessage(err);
      await this.#teardown();
      this.#setState('failed');
      throw err;
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
    const progress: TranscodeProgress | undefined = this.#transcoder?.lastProgress;
    const bandwidth = new Map(this.#broadcast?.tracks.map((t) => [t.id, t.bandwidth]) ?? []);
    return {
      id: this.id,
      state: this.#state,
      ...(this.#error ? { error: this.#error } : {}),
      ...(this.#startedAt ? { startedAt: this.#startedAt.toISOString() } : {}),
      ...(this.#endedAt ? { endedAt: this.#endedAt.toISOString() } : {}),
      renditions: (this.#transcoder?.tracks ?? []).map((t) => ({
        trackId: t.trackId,
        kind: t.kind,
        ...(t.height !== undefined ? { height: t.height } : {}),
        ...(t.bitrateKbps !== undefined ? { bitrateKbps: t.bitrateKbps } : {}),
        ...(bandwidth.get(t.trackId) ? { measuredBandwidth: bandwidth.get(t.trackId) } : {}),
      })),
      input: this.#output && !this.#output.closed ? (await this.#output.stats()).map(({ producerId, kind, bitrate }) => ({ producerId, kind, bitrate })) : [],
      ...(this.#transcoder
        ? {
            transcoder: {
              state: this.#transcoder.state,
              session: this.#transcoder.session,
              ...(this.#transcoder.pid !== undefined ? { pid: this.#transcoder.pid } : {}),
              restarts: this.#restarts,
              ...this.#transcoder.decodeStats,
              ...(progress?.speed !== undefined ? { speed: progress.speed } : {}),
              ...(progress?.fps !== undefined ? { fps: progress.fps } : {}),
            },
          }
        : {}),
      ...(this.#lastPartAt && this.#state === 'live' ? { lastPartAgeMs: Date.now() - this.#lastPartAt } : {}),
    };
  }

  #fail(err: Error): void {
    this.#log.error({ err }, 'transcoder died; ending the broadcast');
    this.#error = err.message;
    void this.stop('transcoder died');
  }

  async #teardown(): Promise<void> {
    this.#deps.stage.off('producerclose', this.#onProducerClose);
    this.#deps.stage.off('close', this.#onStageClose);
    try {
      await this.#transcoder?.close();
    } catch (err) {
      this.#log.error({ err }, 'transcoder close failed');
    }
    this.#output?.close();
    this.#broadcast?.end();
  }

  #setState(state: BroadcastState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#log.info({ state }, 'broadcast state');
    this.emit('state', state);
  }
}

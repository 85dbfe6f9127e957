// One stream played with hls.js into a video element, as our viewer page and the
// <stagecast-player> element play it: our hls.js settings and latency controller,
// a wait for a broadcast that is not live yet, recovery from errors, and the
// viewer-facing state (live, VOD, ended...). The page or element draws the UI.
import Hls, { type ErrorData, type HlsConfig, type LevelLoadedData } from 'hls.js';
import { stagecastHlsConfig } from './hlsSettings.ts';
import { attachLatencyController, type LatencyController, type LatencyControllerOptions } from './latencyController.ts';

export type PlaybackState = 'loading' | 'not-live' | 'playing' | 'buffering' | 'reconnecting' | 'ended' | 'vod' | 'failed';

/** What a viewer is told in each state; undefined: nothing to say over the picture. */
export const STATE_MESSAGES: Readonly<Record<PlaybackState, string | undefined>> = {
  loading: 'Loading…',
  'not-live': 'Not live yet — this page starts playing when the broadcast begins.',
  playing: undefined,
  buffering: undefined,
  reconnecting: 'Reconnecting…',
  ended: 'The broadcast has ended.',
  vod: undefined,
  failed: 'Playback failed.',
};

export interface LivePlaybackOptions {
  /** Laid over stagecastHlsConfig(). */
  hlsConfig?: Partial<HlsConfig>;
  /** Our latency controller's settings; `false` leaves catch-up to hls.js (for comparisons). */
  latencyController?: LatencyControllerOptions | false;
  onState?(state: PlaybackState, detail?: string): void;
  /** Each new hls.js instance: a restart after a fatal error makes a new one. */
  onHls?(hls: Hls): void;
}

const NOT_LIVE_RETRY_MS = 2000;
const MAX_MEDIA_RECOVERIES = 3;

export class LivePlayback {
  private current: Hls | undefined;
  private controller: LatencyController | undefined;
  private playbackState: PlaybackState = 'loading';
  private isLive = true;
  private mediaErrorRecoveries = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly endWatch: ReturnType<typeof setInterval>;
  private readonly listeners: [string, () => void][];

  constructor(
    readonly video: HTMLVideoElement,
    readonly url: string,
    private readonly options: LivePlaybackOptions = {},
  ) {
    this.listeners = [
      ['playing', () => this.setState(this.isLive ? 'playing' : 'vod')],
      ['waiting', () => this.playbackState === 'playing' && this.setState('buffering')],
      ['ended', () => this.setState('ended')],
    ];
    for (const [event, fn] of this.listeners) video.addEventListener(event, fn);
    this.endWatch = this.watchForSilentEnd();
    if (!Hls.isSupported()) this.setState('failed', 'This browser cannot play HLS with Media Source Extensions.');
    else this.start();
  }

  get hls(): Hls | undefined {
    return this.current;
  }

  get state(): PlaybackState {
    return this.playbackState;
  }

  /** False once the playlist says the stream is a recording (or has ended). */
  get live(): boolean {
    return this.isLive;
  }

  destroy(): void {
    clearTimeout(this.retryTimer);
    clearInterval(this.endWatch);
    for (const [event, fn] of this.listeners) this.video.removeEventListener(event, fn);
    this.stopHls();
  }

  private setState(state: PlaybackState, detail?: string): void {
    this.playbackState = state;
    this.options.onState?.(state, detail);
  }

  private stopHls(): void {
    this.controller?.detach();
    this.controller = undefined;
    this.current?.destroy();
    this.current = undefined;
  }

  private start(): void {
    this.stopHls();
    const h = new Hls({ ...stagecastHlsConfig(), ...this.options.hlsConfig });
    this.current = h;
    if (this.options.latencyController !== false) this.controller = attachLatencyController(h, this.video, this.options.latencyController);
    h.on(Hls.Events.LEVEL_LOADED, (_e, data: LevelLoadedData) => {
      this.isLive = data.details.live;
      if (!this.isLive && this.playbackState !== 'ended') this.setState(this.video.ended ? 'ended' : 'vod');
    });
    h.on(Hls.Events.FRAG_BUFFERED, () => {
      this.mediaErrorRecoveries = 0;
    });
    h.on(Hls.Events.ERROR, (_e, data: ErrorData) => this.onError(h, data));
    this.options.onHls?.(h);
    h.loadSource(this.url);
    h.attachMedia(this.video);
  }

  /** Recovery as hls.js documents it: restart loading on network errors, recoverMediaError on media errors. */
  private onError(h: Hls, data: ErrorData): void {
    if (!data.fatal) return;
    if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
      const status = data.response?.code;
      // A master playlist that is not there (yet): the broadcast has not started.
      const notYet = data.details === Hls.ErrorDetails.MANIFEST_LOAD_ERROR && (status === 404 || status === 0);
      this.setState(notYet && !h.levels.length ? 'not-live' : 'reconnecting');
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => {
        if (h.levels.length) h.startLoad();
        else this.start();
      }, NOT_LIVE_RETRY_MS);
      return;
    }
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR && this.mediaErrorRecoveries < MAX_MEDIA_RECOVERIES) {
      this.mediaErrorRecoveries++;
      this.setState('reconnecting');
      if (this.mediaErrorRecoveries === 2) h.swapAudioCodec();
      h.recoverMediaError();
      return;
    }
    this.setState('failed', data.details);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.start(), NOT_LIVE_RETRY_MS * 2);
  }

  /**
   * At the end of an ended broadcast audio and video rarely end together;
   * playback then stops where the shorter one ends and 'ended' never fires.
   * Near the end, with nothing left to load, that stall is the end.
   */
  private watchForSilentEnd(): ReturnType<typeof setInterval> {
    let lastProgressAt = 0;
    let lastTime = -1;
    const v = this.video;
    return setInterval(() => {
      if (this.isLive || v.paused || !Number.isFinite(v.duration)) return;
      if (v.currentTime !== lastTime) {
        lastTime = v.currentTime;
        lastProgressAt = Date.now();
        return;
      }
      if (v.duration - v.currentTime < 1.5 && Date.now() - lastProgressAt > 1000 && this.playbackState !== 'ended') this.setState('ended');
    }, 250);
  }
}

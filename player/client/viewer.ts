// The viewer page: LL-HLS through hls.js. Runs in the browser; bundled by esbuild.
// The stream URL comes from ?src= (absolute or relative) or ?broadcast=<id>
// (then ../live/<id>/master.m3u8 relative to this page, so a CDN path works too).
import Hls, { type ErrorData, type HlsConfig, type LevelLoadedData } from 'hls.js';

type ViewerState = 'loading' | 'not-live' | 'playing' | 'buffering' | 'reconnecting' | 'ended' | 'vod' | 'failed';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const video = $<HTMLVideoElement>('video');
const overlay = $<HTMLElement>('overlay');

function streamUrl(): string | undefined {
  const src = params.get('src');
  if (src) return new URL(src, location.href).href;
  const broadcast = params.get('broadcast');
  if (broadcast && /^[A-Za-z0-9_-]{1,64}$/.test(broadcast)) return new URL(`../live/${broadcast}/master.m3u8`, location.href).href;
  return undefined;
}

const messages: Record<ViewerState, string | undefined> = {
  loading: 'Loading…',
  'not-live': 'Not live yet — this page starts playing when the broadcast begins.',
  playing: undefined,
  buffering: undefined,
  reconnecting: 'Reconnecting…',
  ended: 'The broadcast has ended.',
  vod: undefined,
  failed: 'Playback failed.',
};

function setState(state: ViewerState, detail?: string): void {
  const el = $<HTMLElement>('state');
  el.textContent = state;
  el.dataset.state = state;
  const text = messages[state];
  overlay.hidden = text === undefined;
  overlay.textContent = detail ? `${text ?? ''} ${detail}` : (text ?? '');
  $<HTMLElement>('live-badge').hidden = state !== 'playing';
}

/** hls.js settings for low latency; `?catchup=1.5` etc. override them for measurements. */
function hlsConfig(): Partial<HlsConfig> {
  const num = (k: string, d: number) => (params.has(k) ? Number(params.get(k)) : d);
  return {
    lowLatencyMode: true,
    debug: params.has('debug'),
    // Our own controller (holdLiveTarget) holds the target; hls.js's would reset
    // the rate to 1 below 1 s of buffer. With ?resync=off, hls.js's is used.
    maxLiveSyncPlaybackRate: params.get('resync') === 'off' ? num('catchup', 1.5) : 1,
    backBufferLength: 30,
    // Network errors are retried by hls.js with these policies before they turn fatal.
    manifestLoadPolicy: {
      default: {
        maxTimeToFirstByteMs: 10_000,
        maxLoadTimeMs: 20_000,
        timeoutRetry: { maxNumRetry: 2, retryDelayMs: 0, maxRetryDelayMs: 0 },
        errorRetry: { maxNumRetry: 1, retryDelayMs: 1000, maxRetryDelayMs: 8000 },
      },
    },
  };
}

const NOT_LIVE_RETRY_MS = 2000;
let hls: Hls | undefined;
let mediaErrorRecoveries = 0;
let networkRetryTimer: number | undefined;
let isLive = true;

function start(url: string): void {
  hls?.destroy();
  const h = new Hls(hlsConfig());
  hls = h;
  h.on(Hls.Events.MANIFEST_PARSED, () => fillQualityMenu(h));
  h.on(Hls.Events.LEVEL_LOADED, (_e, data: LevelLoadedData) => {
    isLive = data.details.live;
    if (!isLive && $<HTMLElement>('state').dataset.state !== 'ended') setState(video.ended ? 'ended' : 'vod');
  });
  h.on(Hls.Events.LEVEL_SWITCHED, (_e, data) => {
    const level = h.levels[data.level];
    if (level) $<HTMLElement>('level-info').textContent = `${level.width}×${level.height} @ ${Math.round(level.bitrate / 1000)} kbit/s`;
  });
  h.on(Hls.Events.FRAG_BUFFERED, () => {
    mediaErrorRecoveries = 0;
  });
  h.on(Hls.Events.ERROR, (_e, data: ErrorData) => onError(h, url, data));
  h.loadSource(url);
  h.attachMedia(video);
}

/** Recovery as hls.js documents it: restart loading on network errors, recoverMediaError on media errors. */
function onError(h: Hls, url: string, data: ErrorData): void {
  if (!data.fatal) return;
  const status = data.response?.code;
  if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
    const notYet = data.details === Hls.ErrorDetails.MANIFEST_LOAD_ERROR && (status === 404 || status === 0);
    setState(notYet && !h.levels.length ? 'not-live' : 'reconnecting');
    window.clearTimeout(networkRetryTimer);
    networkRetryTimer = window.setTimeout(() => {
      if (h.levels.length) h.startLoad();
      else start(url);
    }, NOT_LIVE_RETRY_MS);
    return;
  }
  if (data.type === Hls.ErrorTypes.MEDIA_ERROR && mediaErrorRecoveries < 3) {
    mediaErrorRecoveries++;
    setState('reconnecting');
    if (mediaErrorRecoveries === 2) h.swapAudioCodec();
    h.recoverMediaError();
    return;
  }
  setState('failed', data.details);
  window.setTimeout(() => start(url), NOT_LIVE_RETRY_MS * 2);
}

function fillQualityMenu(h: Hls): void {
  const select = $<HTMLSelectElement>('quality');
  select.replaceChildren(
    new Option('Auto', '-1'),
    ...h.levels.map((l, i) => new Option(`${l.height}p (${Math.round(l.bitrate / 1000)} kbit/s)`, String(i))),
  );
  select.onchange = () => {
    h.currentLevel = Number(select.value);
  };
}

/**
 * Holding the live target. hls.js 1.7 speeds up only while more than 1 s is
 * buffered ahead and may start well behind its target, so on its own it sits
 * half a second or more behind for good. This controller plays faster (up to
 * `?catchup=`, 1.5 by default) while behind and while more than a few hundred
 * ms are buffered, which never starves the buffer; only when far behind (after
 * a long stall) does it seek, and only into what is already buffered.
 * `?resync=off` leaves it all to hls.js (for comparisons).
 */
const CATCHUP_MAX_RATE = params.has('catchup') ? Number(params.get('catchup')) : 1.5;
const CATCHUP_MIN_AHEAD_S = 0.3;
const SEEK_WHEN_BEHIND_S = 2;
const ownCatchup = params.get('resync') !== 'off';
function holdLiveTarget(): void {
  const h = hls;
  if (!ownCatchup || !h || !isLive || video.paused || video.seeking) return;
  const target = h.targetLatency;
  if (target === null || !Number.isFinite(h.latency)) return;
  const behind = h.latency - target;
  const buffered = video.buffered;
  const start = buffered.length ? buffered.start(buffered.length - 1) : 0;
  const end = buffered.length ? buffered.end(buffered.length - 1) : 0;
  const ahead = end - video.currentTime;
  const sync = h.liveSyncPosition;
  if (behind > SEEK_WHEN_BEHIND_S && sync !== null && sync >= start && sync <= end - CATCHUP_MIN_AHEAD_S) {
    video.currentTime = sync;
    return;
  }
  const rate = behind > 0.05 && ahead > CATCHUP_MIN_AHEAD_S ? Math.min(CATCHUP_MAX_RATE, 1 + behind) : 1;
  if (Math.abs(video.playbackRate - rate) > 0.01) video.playbackRate = rate;
}

/** Live latency: wall clock minus the program date-time of the frame on screen. */
function updateLatency(): void {
  const date = hls?.playingDate;
  const el = $<HTMLElement>('latency');
  if (date && isLive) {
    const latency = (Date.now() - date.getTime()) / 1000;
    el.textContent = `${latency.toFixed(2)} s`;
    el.dataset.seconds = latency.toFixed(3);
  } else {
    el.textContent = '–';
    delete el.dataset.seconds;
  }
}

video.addEventListener('playing', () => setState(isLive ? 'playing' : 'vod'));
video.addEventListener('waiting', () => {
  if ($<HTMLElement>('state').dataset.state === 'playing') setState('buffering');
});
video.addEventListener('ended', () => setState('ended'));
// At the end of an ended broadcast audio and video rarely end together; playback
// then stops where the shorter one ends and 'ended' never fires. Near the end,
// with nothing left to load, that stall is the end.
let lastProgressAt = 0;
let lastTime = -1;
window.setInterval(() => {
  if (isLive || video.paused || !Number.isFinite(video.duration)) return;
  if (video.currentTime !== lastTime) {
    lastTime = video.currentTime;
    lastProgressAt = Date.now();
    return;
  }
  if (video.duration - video.currentTime < 1.5 && Date.now() - lastProgressAt > 1000 && $<HTMLElement>('state').dataset.state !== 'ended') {
    setState('ended');
  }
}, 250);
window.setInterval(updateLatency, 250);
window.setInterval(holdLiveTarget, 250);

const url = streamUrl();
if (!url) setState('failed', 'This page needs ?broadcast=<id> or ?src=<playlist URL>.');
else if (!Hls.isSupported()) setState('failed', 'This browser cannot play HLS with Media Source Extensions.');
else start(url);

// Exposed for tests and measurements.
(window as unknown as { stagecast: unknown }).stagecast = { get hls() { return hls; }, video };

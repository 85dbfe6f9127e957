// The viewer page: LL-HLS through hls.js. Runs in the browser; bundled by esbuild.
// The stream URL comes from ?src= (absolute or relative), ?stage=<id> (the
// stage's stable link: its current broadcast, else its latest recording; "not
// live yet" until then) or ?broadcast=<id> (one broadcast), both as
// ../live/<id>/master.m3u8 relative to this page, so a CDN path works too.
// Playback itself (settings, latency controller, recovery) is livePlayback.ts,
// shared with the <stagecast-player> element; this file draws the page around it.
import Hls, { type HlsConfig } from 'hls.js';
import { LivePlayback, STATE_MESSAGES, type PlaybackState } from './livePlayback.ts';
import { chapterMediaTime, parseChapters, speakerAt } from './timeline.ts';
import { parseThumbnails, thumbnailAt } from './thumbnails.ts';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const video = $<HTMLVideoElement>('video');
const overlay = $<HTMLElement>('overlay');

function streamUrl(): string | undefined {
  const src = params.get('src');
  if (src) return new URL(src, location.href).href;
  const id = params.get('stage') ?? params.get('broadcast');
  if (id && /^[A-Za-z0-9_-]{1,96}$/.test(id)) return new URL(`../live/${id}/master.m3u8`, location.href).href;
  return undefined;
}

function setState(state: PlaybackState, detail?: string): void {
  const el = $<HTMLElement>('state');
  el.textContent = state;
  el.dataset.state = state;
  const text = STATE_MESSAGES[state];
  overlay.hidden = text === undefined;
  overlay.textContent = detail ? `${text ?? ''} ${detail}` : (text ?? '');
  $<HTMLElement>('live-badge').hidden = state !== 'playing';
}

const num = (k: string, d: number) => (params.has(k) ? Number(params.get(k)) : d);
// `?catchup=1.5` sets the fastest catch-up rate; `?resync=off` leaves catch-up
// to hls.js's own controller at that rate (for comparisons).
const ownCatchup = params.get('resync') !== 'off';
const hlsConfig: Partial<HlsConfig> = {
  debug: params.has('debug'),
  ...(ownCatchup ? {} : { maxLiveSyncPlaybackRate: num('catchup', 1.5) }),
  // `?captions=on`: hls.js selects the captions rendition itself when it loads the subtitle tracks.
  ...(params.get('captions') === 'on' ? { subtitlePreference: { characteristics: 'public.accessibility.transcribes-spoken-dialog' } } : {}),
};

function onHls(h: Hls): void {
  h.on(Hls.Events.MANIFEST_PARSED, () => fillQualityMenu(h));
  h.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, () => fillCaptionsMenu(h));
  h.on(Hls.Events.SUBTITLE_TRACK_SWITCH, (_e, data) => {
    $<HTMLSelectElement>('captions').value = String(data.id);
  });
  h.on(Hls.Events.LEVEL_LOADED, (_e, data) => {
    if (!data.details.live) {
      void loadChapters(h);
      void loadThumbnails(h);
    }
  });
  h.on(Hls.Events.LEVEL_SWITCHED, (_e, data) => {
    const level = h.levels[data.level];
    if (level) $<HTMLElement>('level-info').textContent = `${level.width}×${level.height} @ ${Math.round(level.bitrate / 1000)} kbit/s`;
  });
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
 * The captions menu: the playlist's subtitle renditions, off by default
 * (`?captions=on` asks hls.js for the captions, see hlsConfig). hls.js renders
 * the cues natively, in the video's text tracks, so the browser's own caption
 * settings apply.
 */
function fillCaptionsMenu(h: Hls): void {
  const select = $<HTMLSelectElement>('captions');
  const tracks = h.subtitleTracks;
  select.replaceChildren(new Option('Off', '-1'), ...tracks.map((t, i) => new Option(t.lang ? `${t.name} (${t.lang})` : t.name, String(i))));
  select.onchange = () => {
    const i = Number(select.value);
    h.subtitleDisplay = i >= 0;
    h.subtitleTrack = i;
  };
  $<HTMLElement>('captions-box').hidden = tracks.length === 0;
}

/** Who is speaking in the frame on screen (the playlist's speaker turns). */
function updateSpeaker(playback: LivePlayback): void {
  const h = playback.hls;
  const date = h?.playingDate;
  const name = h && date ? speakerAt(h, date) : undefined;
  const el = $<HTMLElement>('speaker');
  el.textContent = name ?? '–';
  if (name) el.dataset.name = name;
  else delete el.dataset.name;
}

let chaptersFor: Hls | undefined;
/** A recording's chapters (its speaker turns) as a list that seeks. */
async function loadChapters(h: Hls): Promise<void> {
  if (chaptersFor === h || !url) return;
  chaptersFor = h;
  const res = await fetch(new URL('chapters.vtt', h.url ?? url).href).catch(() => undefined);
  if (!res?.ok) return;
  const chapters = parseChapters(await res.text());
  const list = $<HTMLOListElement>('chapters');
  list.replaceChildren(
    ...chapters.map((c) => {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      const at = Math.round(c.startMs / 1000);
      b.textContent = `${Math.floor(at / 60)}:${String(at % 60).padStart(2, '0')} ${c.title}`;
      b.onclick = () => {
        const t = chapterMediaTime(h, c);
        if (t !== undefined) video.currentTime = t;
      };
      li.append(b);
      return li;
    }),
  );
  $<HTMLElement>('chapters-box').hidden = chapters.length === 0;
}

let thumbnailsFor: Hls | undefined;
/** A recording's seek-bar previews: a scrub bar whose thumb shows the picture at that time. */
async function loadThumbnails(h: Hls): Promise<void> {
  if (thumbnailsFor === h || !url) return;
  thumbnailsFor = h;
  const trackUrl = new URL('thumbnails.vtt', h.url ?? url).href;
  const res = await fetch(trackUrl).catch(() => undefined);
  if (!res?.ok) return;
  const cues = parseThumbnails(await res.text(), res.url || trackUrl);
  if (cues.length === 0) return;
  const range = $<HTMLInputElement>('scrub-range');
  const preview = $<HTMLImageElement>('scrub-preview');
  range.max = String(cues.at(-1)!.end);
  const show = () => {
    const cue = thumbnailAt(cues, Number(range.value));
    if (cue && preview.src !== cue.url) preview.src = cue.url;
    preview.hidden = !cue;
  };
  range.oninput = show;
  range.onchange = () => {
    video.currentTime = Number(range.value);
    preview.hidden = true;
  };
  video.addEventListener('timeupdate', () => {
    if (document.activeElement !== range) range.value = String(video.currentTime);
  });
  $<HTMLElement>('scrub').hidden = false;
}

/** Live latency: wall clock minus the program date-time of the frame on screen. */
function updateLatency(playback: LivePlayback): void {
  const date = playback.hls?.playingDate;
  const el = $<HTMLElement>('latency');
  if (date && playback.live) {
    const latency = (Date.now() - date.getTime()) / 1000;
    el.textContent = `${latency.toFixed(2)} s`;
    el.dataset.seconds = latency.toFixed(3);
  } else {
    el.textContent = '–';
    delete el.dataset.seconds;
  }
}

const url = streamUrl();
let playback: LivePlayback | undefined;
if (!url) setState('failed', 'This page needs ?broadcast=<id> or ?src=<playlist URL>.');
else {
  const p = new LivePlayback(video, url, {
    hlsConfig,
    latencyController: ownCatchup ? { maxPlaybackRate: num('catchup', 1.5) } : false,
    onState: setState,
    onHls,
  });
  playback = p;
  window.setInterval(() => {
    updateLatency(p);
    updateSpeaker(p);
  }, 250);
}

// Exposed for tests and measurements.
(window as unknown as { stagecast: unknown }).stagecast = { get hls() { return playback?.hls; }, video };

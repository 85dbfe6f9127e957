// The DASH check page: plays the MPD with dash.js in low-latency mode.
// The MPD comes from ?src=, ?stage=<id> (the stage's stable link: its current
// broadcast, else its latest recording) or ?broadcast=<id> (../live/<id>/manifest.mpd).
import * as dashjs from 'dashjs';

const $ = (id: string): HTMLElement => document.getElementById(id) as HTMLElement;
const params = new URLSearchParams(location.search);
const video = $('video') as HTMLVideoElement;

function mpdUrl(): string | undefined {
  const src = params.get('src');
  if (src) return new URL(src, location.href).href;
  const id = params.get('stage') ?? params.get('broadcast');
  if (id && /^[A-Za-z0-9_-]{1,96}$/.test(id)) return new URL(`../live/${id}/manifest.mpd`, location.href).href;
  return undefined;
}

function setState(state: string): void {
  $('state').textContent = state;
  $('state').dataset.state = state;
}

const url = mpdUrl();
if (!url) {
  setState('failed');
  $('error').textContent = 'This page needs ?stage=<id>, ?broadcast=<id> or ?src=<MPD URL>.';
} else {
  const player = dashjs.MediaPlayer().create();
  player.updateSettings({
    streaming: {
      delay: { liveDelay: Number(params.get('delay') ?? 0.9) },
      liveCatchup: { enabled: true, maxDrift: 1, playbackRate: { min: -0.3, max: 0.3 } },
    },
  });
  player.on(dashjs.MediaPlayer.events.PLAYBACK_PLAYING, () => setState('playing'));
  player.on(dashjs.MediaPlayer.events.PLAYBACK_WAITING, () => setState('buffering'));
  player.on(dashjs.MediaPlayer.events.PLAYBACK_ENDED, () => setState('ended'));
  player.on(dashjs.MediaPlayer.events.ERROR, (e: unknown) => {
    $('error').textContent = `error: ${JSON.stringify((e as { error?: unknown }).error ?? e).slice(0, 200)}`;
  });
  player.initialize(video, url, true);
  window.setInterval(() => {
    const latency = player.getCurrentLiveLatency();
    if (Number.isFinite(latency) && latency > 0) {
      $('latency').textContent = `${latency.toFixed(2)} s`;
      $('latency').dataset.seconds = latency.toFixed(3);
    }
  }, 250);
  (window as unknown as { stagecast: unknown }).stagecast = { player, video };
}

// <stagecast-player src="…/master.m3u8">: a whole player in one tag for sites
// without one of their own (shipped as /watch/stagecast-player.js, hls.js
// included). It plays as our viewer page does (livePlayback.ts): our hls.js
// settings and latency controller, waiting for a broadcast not live yet.
import type Hls from 'hls.js';
import { LivePlayback, STATE_MESSAGES, type PlaybackState } from './livePlayback.ts';

const STYLE = `
:host { display: block; position: relative; aspect-ratio: 16 / 9; background: #000; }
video { width: 100%; height: 100%; display: block; background: #000; }
.overlay { position: absolute; inset: 0; display: grid; place-items: center; padding: 1rem; text-align: center;
  font: 1.1rem system-ui, sans-serif; color: #eee; background: #000a; pointer-events: none; }
.overlay[hidden] { display: none; }`;

/** Attributes passed to the inner <video> as they are. */
const VIDEO_ATTRIBUTES = ['muted', 'controls'] as const;

export class StagecastPlayer extends HTMLElement {
  static readonly observedAttributes = ['src', ...VIDEO_ATTRIBUTES];
  /** The element's <video> (in its shadow root; styled from outside with ::part(video)). */
  readonly video: HTMLVideoElement;
  private readonly overlay: HTMLElement;
  private playback: LivePlayback | undefined;
  // Set between connectedCallback and disconnectedCallback: an upgrade reports the
  // src attribute before connecting, and that must not start a second playback.
  private connected = false;

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = STYLE;
    this.video = document.createElement('video');
    this.video.part.add('video');
    // Autoplay is what a live embed wants; browsers allow it muted (the `muted` attribute).
    this.video.autoplay = true;
    this.video.playsInline = true;
    this.overlay = document.createElement('div');
    this.overlay.className = 'overlay';
    this.overlay.part.add('overlay');
    root.append(style, this.video, this.overlay);
  }

  /** The current hls.js instance (a new one after a restart); undefined before the element is connected. */
  get hls(): Hls | undefined {
    return this.playback?.hls;
  }

  /** Mirrored to the `state` attribute, announced by a `statechange` event. */
  get state(): PlaybackState {
    return (this.getAttribute('state') as PlaybackState | null) ?? 'loading';
  }

  connectedCallback(): void {
    this.connected = true;
    this.load();
  }

  disconnectedCallback(): void {
    this.connected = false;
    this.playback?.destroy();
    this.playback = undefined;
  }

  attributeChangedCallback(name: string): void {
    if (name === 'src') {
      if (this.connected) this.load();
    } else if (name === 'muted') {
      this.video.muted = this.hasAttribute('muted');
    } else {
      this.video.toggleAttribute(name, this.hasAttribute(name));
    }
  }

  private load(): void {
    this.playback?.destroy();
    this.playback = undefined;
    const src = this.getAttribute('src');
    if (!src) return this.show('failed', 'The element needs a src attribute (a master playlist URL).');
    this.playback = new LivePlayback(this.video, new URL(src, document.baseURI).href, { onState: (s, d) => this.show(s, d) });
  }

  private show(state: PlaybackState, detail?: string): void {
    const text = STATE_MESSAGES[state];
    this.overlay.hidden = text === undefined;
    this.overlay.textContent = detail ? `${text ?? ''} ${detail}` : (text ?? '');
    if (this.getAttribute('state') === state) return;
    this.setAttribute('state', state);
    this.dispatchEvent(new CustomEvent('statechange', { detail: { state } }));
  }
}

if (!customElements.get('stagecast-player')) customElements.define('stagecast-player', StagecastPlayer);

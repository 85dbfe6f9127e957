// The host page: pick a camera and microphone, preview, go live into a stage.
// Runs in the browser; bundled by esbuild and served by the ingest router.
import { Device } from 'mediasoup-client';
import type { types as msc } from 'mediasoup-client';
import { CLOCK_GRID, clockCells } from './clockCode.ts';

type Reply = { id: string; ok: true; data: unknown } | { id: string; ok: false; error: { code: string; message: string } };

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const hash = new URLSearchParams(location.hash.slice(1));
const stageId = params.get('stage') ?? '';
const token = hash.get('token') ?? params.get('token') ?? '';
const stateEl = $<HTMLElement>('state');

function setState(state: string): void {
  stateEl.textContent = state;
  stateEl.dataset.state = state;
}

function showError(message: string): void {
  $<HTMLElement>('error').textContent = message;
}

/** Request/response over the signalling socket. */
class Signal {
  #ws: WebSocket;
  #next = 1;
  #pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly opened: Promise<void>;

  constructor(url: string, onClose: (code: number, reason: string) => void) {
    this.#ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.#ws.onopen = () => resolve();
      this.#ws.onerror = () => reject(new Error('signalling connection failed'));
    });
    this.#ws.onmessage = (ev) => {
      const msg = JSON.parse(String(ev.data)) as Reply | { notification: string; data: unknown };
      if ('notification' in msg) return;
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.data);
      else p.reject(new Error(`${msg.error.code}: ${msg.error.message}`));
    };
    this.#ws.onclose = (ev) => {
      for (const p of this.#pending.values()) p.reject(new Error('signalling closed'));
      this.#pending.clear();
      onClose(ev.code, ev.reason);
    };
  }

  request<T>(method: string, data?: unknown): Promise<T> {
    const id = String(this.#next++);
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#ws.send(JSON.stringify({ id, method, data }));
    });
  }

  close(): void {
    this.#ws.close(1000);
  }
}

let stream: MediaStream | undefined;
let signal: Signal | undefined;
let statsTimer: number | undefined;
let producers: { audio?: msc.Producer; video?: msc.Producer } = {};

async function listDevices(): Promise<void> {
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const [kind, selectId] of [['videoinput', 'camera'], ['audioinput', 'microphone']] as const) {
    const select = $<HTMLSelectElement>(selectId);
    select.replaceChildren(
      ...devices
        .filter((d) => d.kind === kind)
        .map((d, i) => new Option(d.label || `${kind} ${i + 1}`, d.deviceId)),
    );
  }
}

/**
 * `?source=clock`: instead of the camera, a canvas painting this page's clock
 * (epoch ms) in the block code of clockCode.ts, for glass-to-glass latency
 * measurements (bench/latency.ts reads it back from decoded frames).
 */
let clockTimer: number | undefined;

/** A 30 fps canvas stream of this page's clock (see CLOCK_GRID). */
function clockStream(): MediaStream {
  const canvas = document.createElement('canvas');
  canvas.width = 640;
  canvas.height = 360;
  const ctx = canvas.getContext('2d', { alpha: false })!;
  const cw = canvas.width / CLOCK_GRID.cols;
  const ch = canvas.height / CLOCK_GRID.rows;
  const paint = () => {
    const cells = clockCells(performance.timeOrigin + performance.now());
    cells.forEach((c, i) => {
      ctx.fillStyle = c ? '#fff' : '#000';
      ctx.fillRect((i % CLOCK_GRID.cols) * cw, Math.floor(i / CLOCK_GRID.cols) * ch, cw, ch);
    });
  };
  paint();
  window.clearInterval(clockTimer);
  clockTimer = window.setInterval(paint, 1000 / 30);
  return canvas.captureStream(30);
}

async function startPreview(): Promise<void> {
  stream?.getTracks().forEach((t) => t.stop());
  const camera = $<HTMLSelectElement>('camera').value;
  const microphone = $<HTMLSelectElement>('microphone').value;
  // ?audioProcessing=off sends the microphone as captured (no echo cancellation, noise
  // suppression or gain control): for line-level sources, and for tests with tones.
  const raw = params.get('audioProcessing') === 'off' ? { echoCancellation: false, noiseSuppression: false, autoGainControl: false } : {};
  if (params.get('source') === 'clock') {
    const mic = await navigator.mediaDevices.getUserMedia({ audio: { ...raw, ...(microphone ? { deviceId: { exact: microphone } } : {}) } });
    stream = new MediaStream([...clockStream().getVideoTracks(), ...mic.getAudioTracks()]);
  } else {
    // ?size=1920x1080 asks the camera for another capture size than 720p (a 1080p stage).
    const size = /^(\d{2,4})x(\d{2,4})$/.exec(params.get('size') ?? '');
    const [width, height] = size ? [Number(size[1]), Number(size[2])] : [1280, 720];
    stream = await navigator.mediaDevices.getUserMedia({
      video: { ...(camera ? { deviceId: { exact: camera } } : {}), width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: 30 } },
      audio: { ...raw, ...(microphone ? { deviceId: { exact: microphone } } : {}) },
    });
  }
  $<HTMLVideoElement>('preview').srcObject = stream;
  // Live: the new devices replace the tracks being sent, without renegotiation.
  const audio = stream.getAudioTracks()[0];
  const video = stream.getVideoTracks()[0];
  if (producers.audio && audio) await producers.audio.replaceTrack({ track: audio });
  if (producers.video && video) await producers.video.replaceTrack({ track: video });
}

async function goLive(): Promise<void> {
  if (!stream) throw new Error('no camera or microphone');
  showError('');
  setState('connecting');
  $<HTMLButtonElement>('go-live').disabled = true;
  const wsUrl = new URL('ws', location.href);
  wsUrl.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  wsUrl.search = '';
  wsUrl.hash = '';
  const sig = new Signal(wsUrl.href, (code, reason) => {
    if (stateEl.dataset.state !== 'stopped') {
      setState('disconnected');
      if (code >= 4000) showError(`disconnected: ${reason || code}`);
    }
    producers = {};
    $<HTMLSelectElement>('codec').disabled = false;
    $<HTMLButtonElement>('go-live').disabled = false;
    $<HTMLButtonElement>('stop').disabled = true;
  });
  signal = sig;
  await sig.opened;
  const joined = await sig.request<{ routerRtpCapabilities: msc.RtpCapabilities; role: string; simulcastLayers?: number }>('join', { stageId, token });
  const device = new Device();
  await device.load({ routerRtpCapabilities: joined.routerRtpCapabilities });
  const info = await sig.request<msc.TransportOptions>('createTransport');
  const transport = device.createSendTransport(info);
  transport.on('connect', ({ dtlsParameters }, callback, errback) => {
    sig.request('connectTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
  });
  transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
    sig
      .request<{ id: string }>('produce', { transportId: transport.id, kind, rtpParameters, source: appData.source })
      .then(({ id }) => callback({ id }), errback);
  });
  transport.on('connectionstatechange', (state) => {
    setState(state === 'connected' ? 'live' : state);
  });
  $<HTMLSelectElement>('codec').disabled = true;
  const audio = stream.getAudioTracks()[0];
  if (audio) producers.audio = await transport.produce({ track: audio, stopTracks: false });
  const video = stream.getVideoTracks()[0];
  if (video && joined.role !== 'host-audio') {
    const mimeType = $<HTMLSelectElement>('codec').value.toLowerCase();
    const codec = device.rtpCapabilities.codecs?.find((c) => c.mimeType.toLowerCase() === mimeType);
    if (!codec) throw new Error(`this browser cannot send ${mimeType}`);
    const { width, height } = video.getSettings();
    const source = width && height ? { width, height } : undefined;
    // ?simulcast=N overrides the server's choice (1 = one encoding).
    const wanted = Number(params.get('simulcast') ?? joined.simulcastLayers ?? 1);
    const encodings = simulcastEncodings(Number.isInteger(wanted) ? wanted : 1);
    producers.video = await transport.produce({ track: video, codec, stopTracks: false, appData: { source }, ...(encodings ? { encodings } : {}) });
    const sender = producers.video.rtpSender;
    if (encodings && sender) await holdLayerSizes(sender);
  }
  $<HTMLButtonElement>('stop').disabled = false;
  statsTimer = window.setInterval(async () => {
    const stats = await transport.getStats();
    let bytes = 0;
    const heights: number[] = [];
    const limits = new Set<string>();
    type OutboundRtp = { type: string; kind?: string; bytesSent?: number; frameHeight?: number; framesPerSecond?: number; qualityLimitationReason?: string };
    stats.forEach((s: OutboundRtp) => {
      if (s.type !== 'outbound-rtp') return;
      bytes += s.bytesSent ?? 0;
      // A simulcast layer the encoder sends now (it drops the top ones while bandwidth or CPU is short).
      if (s.kind === 'video' && s.frameHeight && (s.framesPerSecond ?? 0) > 0) heights.push(s.frameHeight);
      if (s.kind === 'video' && s.qualityLimitationReason && s.qualityLimitationReason !== 'none') limits.add(s.qualityLimitationReason);
    });
    heights.sort((a, b) => b - a);
    const layersEl = $<HTMLElement>('layers');
    layersEl.dataset.heights = heights.join(',');
    // Why the encoder sends less than asked ('cpu', 'bandwidth'), and what it gives up then (read back, not assumed).
    layersEl.dataset.limitation = [...limits].join(',');
    layersEl.dataset.degradation = producers.video?.rtpSender?.getParameters().degradationPreference ?? '';
    layersEl.textContent = heights.length ? heights.map((h) => `${h}p`).join(' + ') : '–';
    const el = $<HTMLElement>('bitrate');
    const last = Number(el.dataset.bytes ?? 0);
    el.dataset.bytes = String(bytes);
    if (last) el.textContent = `${Math.round(((bytes - last) * 8) / 1000)} kbit/s`;
  }, 1000);
}

/**
 * Simulcast layers, lowest first (mediasoup's order): each half the size of
 * the next, the top one the camera's size, at the bitrates of the server's
 * default ladder (720p 2.5 Mbit/s, 360p 800 kbit/s) and 200 kbit/s for 180p.
 */
function simulcastEncodings(layers: number): msc.RtpEncodingParameters[] | undefined {
  if (layers < 2) return undefined;
  const bitrates = [2_500_000, 800_000, 200_000];
  return Array.from({ length: Math.min(3, layers) }, (_, i) => ({ scaleResolutionDownBy: 2 ** i, maxBitrate: bitrates[i]! })).reverse();
}

/**
 * Simulcast layers become renditions as they are (transcode mode `simulcast`
 * copies them): a layer must keep its size, or the rendition named 720p carries
 * 360p and the multivariant playlist's RESOLUTION is wrong. Chromium's default
 * for a camera scales every layer down when its CPU is short; with
 * 'maintain-resolution' it lowers the frame rate instead. (Short of bandwidth
 * it stops sending its top layers whatever this says: the page shows it.)
 * One encoding keeps the browser's default (for a camera, 'maintain-framerate'):
 * it is re-encoded to the ladder's fixed sizes, or copied as `video-source`
 * whose name promises no size, and a lower size moving smoothly serves viewers
 * better there than a stuttering one.
 */
async function holdLayerSizes(sender: RTCRtpSender): Promise<void> {
  const parameters = sender.getParameters();
  parameters.degradationPreference = 'maintain-resolution';
  // A browser without it still goes live, with its own default (the page shows which holds).
  await sender.setParameters(parameters).catch((err: Error) => console.warn(`degradationPreference not set: ${err.message}`));
}

function stop(): void {
  setState('stopped');
  producers = {};
  $<HTMLSelectElement>('codec').disabled = false;
  window.clearInterval(statsTimer);
  signal?.close();
  signal = undefined;
}

async function main(): Promise<void> {
  $<HTMLElement>('stage-id').textContent = stageId || '(none)';
  if (!stageId || !token) {
    showError('This page needs ?stage=<id> and #token=<host token> in its address.');
    return;
  }
  const codec = params.get('codec');
  if (codec) $<HTMLSelectElement>('codec').value = codec;
  try {
    await startPreview();
    await listDevices();
  } catch (err) {
    showError(`camera or microphone unavailable: ${(err as Error).message}`);
    return;
  }
  $<HTMLSelectElement>('camera').onchange = () => void startPreview().catch((e: Error) => showError(e.message));
  $<HTMLSelectElement>('microphone').onchange = () => void startPreview().catch((e: Error) => showError(e.message));
  $<HTMLButtonElement>('go-live').disabled = false;
  $<HTMLButtonElement>('go-live').onclick = () =>
    void goLive().catch((err: Error) => {
      setState('failed');
      showError(err.message);
      $<HTMLButtonElement>('go-live').disabled = false;
    });
  $<HTMLButtonElement>('stop').onclick = stop;
  if (params.get('autostart') === '1') $<HTMLButtonElement>('go-live').click();
}

void main();

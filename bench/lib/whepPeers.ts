/**
 * Runs in a Chromium page of bench:whep (bundled by esbuild and added to the
 * page): many WHEP viewers in one page, each a real RTCPeerConnection doing
 * the WHEP exchange itself with its own token (recvonly video + audio,
 * non-trickle: ICE gathered before the POST, the answer applied; DELETE of the
 * Location on close). Each of `concurrency` lanes connects its viewers one
 * after the other, the next once the last is connected (or failed, or 15 s).
 *
 * Non-decoding viewers (the default) receive through encoded transforms
 * (`encodedInsertableStreams` + `receiver.createEncodedStreams()`): every
 * encoded frame is counted (frames, bytes, keyframes) and dropped, never
 * written to the writable side, so Chromium decodes nothing and the client
 * side does not eat the cores with H.264 decoding. Packets, losses and
 * whether anything was decoded come from getStats. A decoding viewer (`decode`)
 * plays its stream in a muted <video> instead, as the watch page does.
 */

export interface PeerSnapshot {
  id: number;
  decode: boolean;
  /** new | connecting | connected | failed | closed, or `error` when the exchange failed. */
  state: string;
  error?: string;
  /** HTTP status of the WHEP POST. */
  postStatus?: number;
  /** ms from the start of connect() to the answer applied, and to DTLS connected. */
  answeredMs?: number;
  connectedMs?: number;
  /** ms from the start of connect() to the first video keyframe (transform) or decoded frame. */
  firstKeyMs?: number;
  videoFrames: number;
  videoBytes: number;
  keyFrames: number;
  audioFrames: number;
  audioBytes: number;
  /** From getStats inbound-rtp. */
  videoPackets: number;
  videoLost: number;
  audioPackets: number;
  audioLost: number;
  framesDecoded: number;
  /** ms from the start of connect() to the connection's failure, and the ICE state then. */
  failedMs?: number;
  iceAtFailure?: string;
  /** The nominated ICE pair's STUN counters (getStats candidate-pair): requests sent, responses received, requests received. */
  stun?: [number, number, number];
  /** performance.now() of the snapshot. */
  at: number;
}

interface Peer {
  id: number;
  decode: boolean;
  pc: RTCPeerConnection;
  token: string;
  location?: string;
  started: number;
  s: PeerSnapshot;
  video?: HTMLVideoElement;
}

export interface WhepPeers {
  /** Connects viewers (`concurrency` exchanges at a time); resolves when every one has answered or failed. */
  connect(endpoint: string, viewers: { id: number; token: string; decode: boolean }[], concurrency: number): Promise<void>;
  /** The viewers' counters; with `stats`, getStats too (packets, losses, decoded frames: costly over many connections). */
  snapshot(stats: boolean): Promise<PeerSnapshot[]>;
  /** DELETEs every session's Location and closes its connection; the DELETE statuses by code. */
  closeAll(): Promise<Record<string, number>>;
}

type EncodedReceiver = RTCRtpReceiver & { createEncodedStreams(): { readable: ReadableStream<RTCEncodedVideoFrame | RTCEncodedAudioFrame>; writable: WritableStream } };

function install(): void {
  const peers: Peer[] = [];

  const count = (peer: Peer, receiver: RTCRtpReceiver, kind: 'audio' | 'video') => {
    const { readable } = (receiver as EncodedReceiver).createEncodedStreams();
    // Counted and dropped: nothing reaches the decoder.
    void readable
      .pipeTo(
        new WritableStream({
          write(frame) {
            const s = peer.s;
            if (kind === 'video') {
              s.videoFrames++;
              s.videoBytes += frame.data.byteLength;
              if ((frame as RTCEncodedVideoFrame).type === 'key') {
                s.keyFrames++;
                s.firstKeyMs ??= performance.now() - peer.started;
              }
            } else {
              s.audioFrames++;
              s.audioBytes += frame.data.byteLength;
            }
          },
        }),
      )
      .catch(() => undefined);
  };

  const gathered = (pc: RTCPeerConnection, timeoutMs: number) =>
    new Promise<void>((resolve) => {
      if (pc.iceGatheringState === 'complete') return resolve();
      const timer = setTimeout(resolve, timeoutMs);
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') {
          clearTimeout(timer);
          resolve();
        }
      });
    });

  const connected = (pc: RTCPeerConnection, timeoutMs: number) =>
    new Promise<void>((resolve) => {
      const done = () => ['connected', 'failed', 'closed'].includes(pc.connectionState);
      if (done()) return resolve();
      const timer = setTimeout(resolve, timeoutMs);
      pc.addEventListener('connectionstatechange', () => {
        if (done()) {
          clearTimeout(timer);
          resolve();
        }
      });
    });

  const connectOne = async (endpoint: string, id: number, token: string, decode: boolean) => {
    const config = { bundlePolicy: 'max-bundle', ...(decode ? {} : { encodedInsertableStreams: true }) } as RTCConfiguration;
    const pc = new RTCPeerConnection(config);
    const peer: Peer = {
      id,
      decode,
      pc,
      token,
      started: performance.now(),
      s: { id, decode, state: 'new', videoFrames: 0, videoBytes: 0, keyFrames: 0, audioFrames: 0, audioBytes: 0, videoPackets: 0, videoLost: 0, audioPackets: 0, audioLost: 0, framesDecoded: 0, at: 0 },
    };
    peers.push(peer);
    const video = pc.addTransceiver('video', { direction: 'recvonly' });
    const audio = pc.addTransceiver('audio', { direction: 'recvonly' });
    if (decode) {
      const el = document.createElement('video');
      el.muted = true;
      el.autoplay = true;
      el.playsInline = true;
      el.width = 160;
      el.srcObject = new MediaStream([video.receiver.track, audio.receiver.track]);
      document.body.append(el);
      peer.video = el;
      const onFrame = () => {
        peer.s.firstKeyMs ??= performance.now() - peer.started;
        el.requestVideoFrameCallback(onFrame);
      };
      el.requestVideoFrameCallback(onFrame);
    } else {
      count(peer, video.receiver, 'video');
      count(peer, audio.receiver, 'audio');
    }
    pc.addEventListener('connectionstatechange', () => {
      peer.s.state = pc.connectionState;
      if (pc.connectionState === 'connected') peer.s.connectedMs ??= performance.now() - peer.started;
      if (pc.connectionState === 'failed') {
        peer.s.failedMs ??= performance.now() - peer.started;
        peer.s.iceAtFailure ??= pc.iceConnectionState;
      }
    });
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc, 3000);
      const res = await fetch(endpoint, { method: 'POST', headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${token}` }, body: pc.localDescription!.sdp });
      peer.s.postStatus = res.status;
      const body = await res.text();
      if (res.status !== 201) throw new Error(`POST ${res.status}: ${body.slice(0, 200)}`);
      const location = res.headers.get('location');
      if (location) peer.location = new URL(location, endpoint).href;
      await pc.setRemoteDescription({ type: 'answer', sdp: body });
      peer.s.answeredMs = performance.now() - peer.started;
      // A lane takes its next viewer once this one is up (or given up on): viewers join one
      // handshake at a time per lane, as a crowd trickles in, not all DTLS handshakes at once.
      await connected(pc, 15_000);
    } catch (err) {
      peer.s.state = 'error';
      peer.s.error = String(err).slice(0, 300);
    }
  };

  const api: WhepPeers = {
    async connect(endpoint, viewers, concurrency) {
      const queue = [...viewers];
      const lane = async () => {
        for (let v = queue.shift(); v; v = queue.shift()) await connectOne(endpoint, v.id, v.token, v.decode);
      };
      await Promise.all(Array.from({ length: Math.max(1, concurrency) }, lane));
    },
    async snapshot(stats) {
      return Promise.all(
        peers.map(async (p) => {
          const s = p.s;
          if (stats && p.pc.connectionState !== 'closed') {
            type Report = { type: string; kind?: string; packetsReceived?: number; packetsLost?: number; framesDecoded?: number; nominated?: boolean; requestsSent?: number; responsesReceived?: number; requestsReceived?: number };
            (await p.pc.getStats()).forEach((r: Report) => {
              if (r.type === 'candidate-pair' && r.nominated) s.stun = [r.requestsSent ?? 0, r.responsesReceived ?? 0, r.requestsReceived ?? 0];
              if (r.type !== 'inbound-rtp') return;
              if (r.kind === 'video') {
                s.videoPackets = r.packetsReceived ?? 0;
                s.videoLost = r.packetsLost ?? 0;
                s.framesDecoded = r.framesDecoded ?? 0;
                if (p.decode) s.videoFrames = s.framesDecoded;
              } else if (r.kind === 'audio') {
                s.audioPackets = r.packetsReceived ?? 0;
                s.audioLost = r.packetsLost ?? 0;
              }
            });
          }
          return { ...s, at: performance.now() };
        }),
      );
    },
    async closeAll() {
      const statuses: Record<string, number> = {};
      await Promise.all(
        peers.splice(0).map(async (p) => {
          if (p.location) {
            const status = await fetch(p.location, { method: 'DELETE', headers: { Authorization: `Bearer ${p.token}` } }).then(
              (r) => String(r.status),
              () => 'network-error',
            );
            statuses[status] = (statuses[status] ?? 0) + 1;
          }
          p.pc.close();
          p.video?.remove();
        }),
      );
      return statuses;
    },
  };
  (window as unknown as { __whepPeers: WhepPeers }).__whepPeers = api;
}

if (typeof window !== 'undefined' && typeof document !== 'undefined') install();

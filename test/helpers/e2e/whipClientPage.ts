// Runs in Chromium: an independent, published WHIP client (@eyevinn/whip-web-client)
// publishing the fake camera and microphone. The test drives it through window.whip.
import { WHIPClient } from '@eyevinn/whip-web-client';

let client: WHIPClient | undefined;

/**
 * A peer connection that puts `mimeType` first in the video codec preferences,
 * as an encoder that sends it (OBS: H.264) would; the WHIP client is untouched.
 */
function preferring(mimeType: string | undefined) {
  return (config: RTCConfiguration): RTCPeerConnection => {
    const pc = new RTCPeerConnection(config);
    if (!mimeType) return pc;
    const addTrack = pc.addTrack.bind(pc);
    pc.addTrack = (track: MediaStreamTrack, ...streams: MediaStream[]) => {
      const sender = addTrack(track, ...streams);
      if (track.kind === 'video') {
        const codecs = RTCRtpSender.getCapabilities('video')?.codecs ?? [];
        const first = codecs.filter((c) => c.mimeType.toLowerCase() === mimeType.toLowerCase());
        if (!first.length) throw new Error(`this browser cannot send ${mimeType}`);
        pc.getTransceivers().find((t) => t.sender === sender)?.setCodecPreferences([...first, ...codecs.filter((c) => !first.includes(c))]);
      }
      return sender;
    };
    return pc;
  };
}

async function start(endpoint: string, token: string, preferredVideo?: string): Promise<string> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360, frameRate: 30 } });
  // No STUN servers: the SFU is on loopback and gives its candidates in the answer.
  client = new WHIPClient({ endpoint, opts: { authkey: token, iceServers: [], timeout: 1000 }, peerConnectionFactory: preferring(preferredVideo) });
  await client.ingest(stream);
  return client.getResourceUrl();
}

async function stop(): Promise<void> {
  await client?.destroy();
  client = undefined;
}

(window as unknown as { whip: unknown }).whip = { start, stop, state: () => client?.getICEConnectionState() ?? 'none' };

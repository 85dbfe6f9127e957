// Runs in Chromium: an independent, published WHIP client (@eyevinn/whip-web-client)
// publishing the fake camera and microphone. The test drives it through window.whip.
import { WHIPClient } from '@eyevinn/whip-web-client';

let client: WHIPClient | undefined;

async function start(endpoint: string, token: string): Promise<string> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360, frameRate: 30 } });
  // No STUN servers: the SFU is on loopback and gives its candidates in the answer.
  client = new WHIPClient({ endpoint, opts: { authkey: token, iceServers: [], timeout: 1000 } });
  await client.ingest(stream);
  return client.getResourceUrl();
}

async function stop(): Promise<void> {
  await client?.destroy();
  client = undefined;
}

(window as unknown as { whip: unknown }).whip = { start, stop, state: () => client?.getICEConnectionState() ?? 'none' };

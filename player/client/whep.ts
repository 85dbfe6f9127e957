// The WHEP watch page (the front row): the stage's program over WebRTC, sub-second.
// ?stage=<id> names the stage; the viewer token comes in the fragment (#token=…),
// which no server log or Referer sees. ?endpoint= overrides the WHEP URL.
import { WhepClient, WhepError } from './whepClient.ts';

const $ = (id: string): HTMLElement => document.getElementById(id) as HTMLElement;
const params = new URLSearchParams(location.search);
const video = $('video') as HTMLVideoElement;
const stage = params.get('stage') ?? '';
const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? params.get('token') ?? '';
let client: WhepClient | undefined;

function setState(state: string, error = ''): void {
  $('state').textContent = state;
  $('state').dataset.state = state;
  $('error').textContent = error;
}

async function join(): Promise<void> {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(stage) || !token) {
    setState('failed', 'This page needs ?stage=<id> and #token=<WHEP viewer token> (POST /api/stages/<id>/whep-tokens).');
    return;
  }
  setState('connecting');
  client = new WhepClient({ endpoint: params.get('endpoint') ?? new URL(`../whep/${stage}`, location.href).href, token });
  const c = client;
  c.pc.addEventListener('connectionstatechange', () => {
    if (c !== client) return;
    if (c.pc.connectionState === 'failed' || c.pc.connectionState === 'disconnected') setState(c.pc.connectionState, 'the connection was lost; press Join to watch again');
  });
  // Attached once media comes: a media element with an empty stream would hold the page's load event.
  c.pc.addEventListener('track', () => {
    if (c === client && video.srcObject !== c.stream) video.srcObject = c.stream;
  });
  video.addEventListener('playing', () => setState('playing'), { once: true });
  try {
    await c.connect();
  } catch (err) {
    client = undefined;
    c.pc.close();
    setState('failed', err instanceof WhepError ? `${err.status} ${err.code}: ${err.message}` : String(err));
  }
}

async function leave(): Promise<void> {
  const c = client;
  client = undefined;
  video.srcObject = null;
  await c?.close();
  setState('left');
}

$('join').addEventListener('click', () => void (client ? undefined : join()));
$('leave').addEventListener('click', () => void leave());
// Leaving the page frees the seat at once rather than at the ICE timeout.
addEventListener('pagehide', () => void client?.close({ keepalive: true }));
Object.assign(window, { whep: { get client() { return client; }, join, leave } });
void join();

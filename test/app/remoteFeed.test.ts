// A broadcast node's RTP output from an SFU on another machine (app/remoteFeed.ts):
// the SFU answers with the output's RTP session as data, checked against the
// contract's schema before FFmpeg's SDP is written from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TypedEmitter, silentLogger, type PortAllocator, type PortPair, type RtpSessionDescriptor } from '../../common/index.ts';
import { RemoteStageFeed } from '../../app/remoteFeed.ts';
import type { RpcChannel, RpcChannelEvents } from '../../app/rpcChannel.ts';

/** A channel whose SFU answers `createRtpOutput` with `answer(params)`. */
function fakeChannel(answer: (params: { ports: PortPair[] }) => unknown): RpcChannel {
  const channel = new TypedEmitter<RpcChannelEvents>() as TypedEmitter<RpcChannelEvents> & { closed: boolean; request: RpcChannel['request'] };
  channel.closed = false;
  channel.request = async <T,>(method: string, params: unknown): Promise<T> => {
    if (method === 'createRtpOutput') return answer(params as { ports: PortPair[] }) as T;
    return undefined as T;
  };
  return channel as unknown as RpcChannel;
}

/** Port pairs handed out in order, with what is out (no sockets: the SFU is a fake). */
function fakePorts(): PortAllocator & { out: Set<number> } {
  let next = 40000;
  const out = new Set<number>();
  return {
    out,
    allocate: async () => {
      const rtp = (next += 2);
      out.add(rtp);
      return { rtp, rtcp: rtp + 1 };
    },
    release: (p: PortPair) => void out.delete(p.rtp),
  };
}

const sessionFor = (ports: PortPair[]): RtpSessionDescriptor => ({
  address: '127.0.0.1',
  sessionName: 'stagecast stage main',
  tracks: [
    { kind: 'video', port: ports[0]!.rtp, payloadType: 101, mimeType: 'video/VP8', clockRate: 90000, parameters: {}, ssrc: 11, label: 'pv' },
    { kind: 'audio', port: ports[1]!.rtp, payloadType: 100, mimeType: 'audio/opus', clockRate: 48000, channels: 2, parameters: { minptime: 10 }, ssrc: 12, label: 'pa' },
  ],
});
const tracksFor = (ports: PortPair[]) => [
  { kind: 'video', producerId: 'pv', mimeType: 'video/VP8', ports: ports[0] },
  { kind: 'audio', producerId: 'pa', mimeType: 'audio/opus', ports: ports[1] },
];

test('a remote RTP output carries the SFU’s RTP session as data, on the ports this node reserved', async () => {
  const channel = fakeChannel(({ ports }) => ({ outputId: 'o1', descriptor: sessionFor(ports), tracks: tracksFor(ports) }));
  const feed = new RemoteStageFeed(channel, { id: 'main', producers: [] }, silentLogger());
  const portPool = fakePorts();
  const output = await feed.createRtpOutput({ producerIds: ['pv', 'pa'], remoteIp: '127.0.0.1', portPool });
  const ports = output.tracks.map((t) => t.ports);
  assert.deepEqual(output.descriptor, sessionFor(ports));
  assert.deepEqual([...portPool.out], ports.map((p) => p.rtp));
  output.close();
  assert.equal(portPool.out.size, 0, 'closing gives the ports back');
});

test('a remote RTP output whose RTP session breaks the contract is refused and its ports go back', async () => {
  const bad: ((ports: PortPair[]) => unknown)[] = [
    (ports) => ({ ...sessionFor(ports), address: 'ffmpeg.example' }),
    (ports) => ({ ...sessionFor(ports), tracks: [{ ...sessionFor(ports).tracks[0]!, mimeType: 'video/VP8\r\na=x' }] }),
    (ports) => ({ ...sessionFor(ports), tracks: Array.from({ length: 33 }, () => sessionFor(ports).tracks[0]) }),
    () => 'v=0\r\n',
  ];
  for (const descriptor of bad) {
    const channel = fakeChannel(({ ports }) => ({ outputId: 'o1', descriptor: descriptor(ports), tracks: tracksFor(ports) }));
    const feed = new RemoteStageFeed(channel, { id: 'main', producers: [] }, silentLogger());
    const portPool = fakePorts();
    await assert.rejects(feed.createRtpOutput({ producerIds: ['pv', 'pa'], remoteIp: '127.0.0.1', portPool }), { name: 'ZodError' });
    assert.equal(portPool.out.size, 0, 'the reserved ports go back');
  }
});

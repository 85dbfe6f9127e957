// The worker here is built against Debian's libsrtp2 behind a small adapter for
// the libsrtp 3 API (scripts/mediasoup-worker/). This proves the adapter on the
// encryption path: SRTP round trips for every crypto suite, and tampered or
// replayed packets rejected.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';

const HOST = '127.0.0.1';
const SSRC = 0x1234abcd;
const PT = 100;
let worker: ms.Worker;

before(async () => {
  worker = await mediasoup.createWorker({ logLevel: 'error' });
});
after(() => worker.close());

function rtpPacket(seq: number, index: number): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80;
  header[1] = PT;
  header.writeUInt16BE(seq & 0xffff, 2);
  header.writeUInt32BE(seq * 960, 4);
  header.writeUInt32BE(SSRC, 8);
  const payload = Buffer.alloc(40, index & 0xff);
  payload.writeUInt32BE(0xc0ffee00 + index, 0);
  return Buffer.concat([header, payload]);
}

/** The marker index of a packet that reached the sink (the payload survives). */
function markerOf(packet: Buffer): number | undefined {
  const csrcCount = packet[0]! & 0x0f;
  let offset = 12 + csrcCount * 4;
  if (packet[0]! & 0x10) offset += 4 + packet.readUInt16BE(offset + 2) * 4;
  if (packet.length < offset + 4) return undefined;
  const v = packet.readUInt32BE(offset);
  return v >>> 8 === 0xc0ffee ? v & 0xff : undefined;
}

async function udpSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.bind(0, HOST);
  await once(s, 'listening');
  return s;
}

/** Waits until `predicate` holds, re-checking as packets arrive. */
async function until(socket: dgram.Socket, predicate: () => boolean, ms = 3000): Promise<void> {
  if (predicate()) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off('message', check);
      if (predicate()) resolve();
      else reject(new Error('condition not met in time'));
    }, ms);
    const check = () => {
      if (predicate()) {
        clearTimeout(timer);
        socket.off('message', check);
        resolve();
      }
    };
    socket.on('message', check);
  });
}

interface Path {
  router: ms.Router;
  source: dgram.Socket;
  sink: dgram.Socket;
  proxy: dgram.Socket;
  inPort: number;
  decPort: number;
  /** SRTP (or plain RTP) packets captured between the two middle transports, in order. */
  captured: Buffer[];
  /** Markers received at the sink, in order. */
  received: number[];
  /** Proxy forwards what arrives unless told to hold it. */
  hold: Set<number>;
  close(): void;
}

/**
 * source → T_in → [consumer] → T_enc ─(proxy)→ T_dec → [producer] → [consumer] → T_out → sink
 * T_enc and T_dec use SRTP with `suite` (or plain RTP when suite is undefined).
 */
async function buildPath(suite: ms.SrtpCryptoSuite | undefined): Promise<Path> {
  const router = await worker.createRouter({ mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }] });
  const [source, sink, proxy] = await Promise.all([udpSocket(), udpSocket(), udpSocket()]);
  const plain = { listenInfo: { protocol: 'udp' as const, ip: HOST }, rtcpMux: true };
  const srtp = suite ? { enableSrtp: true, srtpCryptoSuite: suite } : {};
  const tIn = await router.createPlainTransport({ ...plain, comedia: true });
  const tEnc = await router.createPlainTransport({ ...plain, comedia: false, ...srtp });
  const tDec = await router.createPlainTransport({ ...plain, comedia: true, ...srtp });
  const tOut = await router.createPlainTransport({ ...plain, comedia: false });

  const producerIn = await tIn.produce({
    kind: 'audio',
    rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: PT, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: SSRC }] },
  });
  await tEnc.connect({ ip: HOST, port: proxy.address().port, ...(suite ? { srtpParameters: tDec.srtpParameters! } : {}) });
  if (suite) await tDec.connect({ srtpParameters: tEnc.srtpParameters! });
  const consumerEnc = await tEnc.consume({ producerId: producerIn.id, rtpCapabilities: router.rtpCapabilities });
  const producerDec = await tDec.produce({
    kind: 'audio',
    rtpParameters: { codecs: consumerEnc.rtpParameters.codecs, encodings: consumerEnc.rtpParameters.encodings!, rtcp: consumerEnc.rtpParameters.rtcp! },
  });
  await tOut.connect({ ip: HOST, port: sink.address().port });
  await tOut.consume({ producerId: producerDec.id, rtpCapabilities: router.rtpCapabilities });

  const path: Path = {
    router,
    source,
    sink,
    proxy,
    inPort: tIn.tuple.localPort,
    decPort: tDec.tuple.localPort,
    captured: [],
    received: [],
    hold: new Set(),
    close: () => {
      router.close();
      for (const s of [source, sink, proxy]) s.close();
    },
  };
  proxy.on('message', (msg) => {
    if (msg.length < 12 || (msg[1]! & 0x7f) >= 72 && (msg[1]! & 0x7f) <= 79) return; // RTCP (rtcp-mux) is not forwarded
    const index = path.captured.push(msg) - 1;
    if (!path.hold.has(index)) proxy.send(msg, path.decPort, HOST);
  });
  sink.on('message', (msg) => {
    const marker = markerOf(msg);
    if (marker !== undefined) path.received.push(marker);
  });
  return path;
}

async function sendAll(path: Path, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    path.source.send(rtpPacket(1000 + i, i), path.inPort, HOST);
    await new Promise((r) => setImmediate(r));
  }
}

const count = (list: number[], v: number) => list.filter((x) => x === v).length;

test('control: without SRTP a replayed packet is forwarded again (so the SRTP checks below mean something)', async () => {
  const path = await buildPath(undefined);
  try {
    await sendAll(path, 0, 20);
    await until(path.sink, () => path.received.length >= 20);
    path.proxy.send(path.captured[10]!, path.decPort, HOST);
    await until(path.sink, () => count(path.received, 10) === 2);
    assert.equal(count(path.received, 10), 2);
  } finally {
    path.close();
  }
});

for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AEAD_AES_128_GCM', 'AEAD_AES_256_GCM'] as const) {
  test(`SRTP ${suite}: packets round-trip intact; tampered and replayed packets are rejected`, async () => {
    const path = await buildPath(suite);
    try {
      path.hold.add(15); // held back: later sent tampered, then intact
      await sendAll(path, 0, 30);
      await until(path.sink, () => path.received.length >= 29);
      assert.deepEqual(
        [...path.received].sort((a, b) => a - b),
        [...Array(30).keys()].filter((i) => i !== 15),
        'every packet arrives decrypted with its payload intact',
      );
      // What travels between the transports is encrypted: the marker is not visible.
      assert.equal(markerOf(path.captured[3]!), undefined);
      assert.ok(path.captured[3]!.length > rtpPacket(0, 3).length, 'SRTP adds an authentication tag');

      // Tampered: a never-seen packet with one payload bit flipped fails authentication.
      const tampered = Buffer.from(path.captured[15]!);
      tampered[20] = tampered[20]! ^ 0x01;
      path.proxy.send(tampered, path.decPort, HOST);
      // Replayed: an already accepted packet, byte for byte.
      path.proxy.send(path.captured[5]!, path.decPort, HOST);
      // The intact held-back packet still goes through: its sequence number was never the problem.
      path.proxy.send(path.captured[15]!, path.decPort, HOST);
      await until(path.sink, () => path.received.includes(15));
      // A sentinel after everything else: once it arrives, nothing sent before it is still in flight.
      await sendAll(path, 30, 31);
      await until(path.sink, () => path.received.includes(30));
      assert.equal(count(path.received, 15), 1, 'the tampered copy was rejected, the intact one accepted');
      assert.equal(count(path.received, 5), 1, 'the replayed packet was rejected');
    } finally {
      path.close();
    }
  });
}

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { InputError, InvalidStateError, UdpPortPool, isUdpPortBound, silentLogger, type PortPair } from '../../common/index.ts';
import { RtpSwitch, type RtpSwitchSourceAddress } from '../../transcode/index.ts';
import { VP8_PT, header, rtcpSenderReport, vp8Packet } from './rtpPackets.ts';

const range = /^(\d+)-(\d+)$/.exec(process.env.STAGECAST_TEST_RTP_PORTS ?? '');
const pool = new UdpPortPool({ host: '127.0.0.1', min: range ? Number(range[1]) : 26500, max: range ? Number(range[2]) : 26999 });

/** Stands in for FFmpeg: collects what the switch sends. */
class Receiver {
  readonly packets: Buffer[] = [];
  #waiters: { n: number; resolve: () => void }[] = [];
  private constructor(
    readonly socket: dgram.Socket,
    readonly pair: PortPair,
  ) {
    socket.on('message', (m) => {
      this.packets.push(m);
      this.#waiters = this.#waiters.filter((w) => (this.packets.length >= w.n ? (w.resolve(), false) : true));
    });
  }
  static async open(): Promise<Receiver> {
    const pair = await pool.allocate();
    const socket = dgram.createSocket('udp4');
    socket.bind(pair.rtp, '127.0.0.1');
    await once(socket, 'listening');
    return new Receiver(socket, pair);
  }
  /** Resolves once `n` packets have arrived in total. */
  count(n: number): Promise<void> {
    if (this.packets.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
    pool.release(this.pair);
  }
}

const sender = dgram.createSocket('udp4');
after(() => sender.close());
const send = (to: RtpSwitchSourceAddress, pkt: Buffer, port = to.port) =>
  new Promise<void>((resolve, reject) => sender.send(pkt, port, to.address, (err) => (err ? reject(err) : resolve())));

async function setup(opts: { keyframeRetryMs?: number; maxHoldMs?: number } = {}) {
  const receiver = await Receiver.open();
  const requests: string[] = [];
  const onRequest: ((id: string) => void)[] = [];
  const sw = await RtpSwitch.create({
    codec: 'VP8',
    payloadType: VP8_PT,
    target: { address: '127.0.0.1', port: receiver.pair.rtp },
    bindAddress: '127.0.0.1',
    portPool: pool,
    requestKeyFrame: (id) => {
      requests.push(id);
      for (const f of onRequest) f(id);
    },
    logger: silentLogger(),
    ...opts,
  });
  return { receiver, sw, requests, onRequest };
}

describe('RtpSwitch over UDP', () => {
  test('sources get port pairs from the pool; RTP is rewritten to the output SSRC; RTCP on either port and junk are not forwarded; removal and close release every port', async () => {
    const { receiver, sw, requests } = await setup();
    const inUse = pool.inUse;
    const a = await sw.addSource('a');
    const b = await sw.addSource('b');
    assert.equal(pool.inUse, inUse + 2);
    assert.equal(a.rtcpPort, a.port + 1);
    assert.equal(a.address, '127.0.0.1');
    await assert.rejects(sw.addSource('a'), (err: unknown) => err instanceof InputError && err.code === 'duplicate-source');
    assert.throws(() => sw.select('nobody'), (err: unknown) => err instanceof InputError && err.code === 'unknown-source');

    const switched = sw.waitFor('switched');
    sw.select('a');
    assert.deepEqual(requests, ['a'], 'a keyframe is asked for at once');
    await send(a, vp8Packet({ seq: 7, ts: 0, ssrc: 42, start: true, key: true, marker: true }));
    assert.deepEqual(await switched, ['a']);
    await send(a, rtcpSenderReport(42)); // muxed RTCP on the RTP port
    await send(a, rtcpSenderReport(42), a.rtcpPort); // RTCP on RTP + 1
    await send(b, vp8Packet({ seq: 1, ts: 0, ssrc: 43, start: true, key: true, marker: true })); // not selected
    await send(a, Buffer.from('not RTP at all')); // junk on the live source's port: dropped, nothing else changes
    await send(a, vp8Packet({ seq: 8, ts: 3000, ssrc: 42, start: true, marker: true }));
    await receiver.count(2);
    // One more round trip through a's socket: by then the datagrams sent earlier to
    // b's and the RTCP socket have been read too (one event-loop poll sees them all).
    await send(a, vp8Packet({ seq: 9, ts: 6000, ssrc: 42, start: true, marker: true }));
    await receiver.count(3);
    assert.equal(sw.active, 'a');
    assert.deepEqual(
      receiver.packets.map((p) => [header(p).ssrc, header(p).payloadType]),
      [
        [sw.ssrc, VP8_PT],
        [sw.ssrc, VP8_PT],
        [sw.ssrc, VP8_PT],
      ],
    );
    assert.deepEqual(
      receiver.packets.map((p) => (header(p).sequenceNumber - header(receiver.packets[0]!).sequenceNumber) & 0xffff),
      [0, 1, 2],
    );
    assert.deepEqual(sw.stats, { forwarded: 3, dropped: 2, switches: 1, rtcp: 2 });

    sw.removeSource('a');
    assert.equal(sw.active, undefined, 'output paused');
    sw.removeSource('a'); // twice: no-op
    await sw.close();
    await sw.close(); // safe twice
    assert.equal(pool.inUse, inUse);
    for (const p of [a.port, a.rtcpPort!, b.port, b.rtcpPort!]) assert.equal(await isUdpPortBound('127.0.0.1', p), false, `port ${p} still bound`);
    await assert.rejects(sw.addSource('c'), InvalidStateError);
    assert.throws(() => sw.select('b'), InvalidStateError);
    await receiver.close();
  });

  test('a keyframe is asked for again while none arrives, and no more once the switch is done', async () => {
    const { receiver, sw, requests, onRequest } = await setup({ keyframeRetryMs: 150 });
    const a = await sw.addSource('a');
    const third = new Promise<void>((resolve) => onRequest.push(() => requests.length === 3 && resolve()));
    sw.select('a');
    await third; // the first request, then two re-requests
    assert.deepEqual(requests, ['a', 'a', 'a']);
    const switched = sw.waitFor('switched');
    await send(a, vp8Packet({ seq: 1, ts: 0, ssrc: 42, start: true, key: true, marker: true }));
    await switched;
    const n = requests.length;
    // Nothing to await for an event that must not happen: let three retry periods pass.
    await new Promise<void>((resolve) => setTimeout(resolve, 450));
    assert.equal(requests.length, n);
    await send(a, vp8Packet({ seq: 2, ts: 3000, ssrc: 42, start: true, marker: true }));
    await receiver.count(2);
    await sw.close();
    await receiver.close();
  });

  test('a held keyframe goes out after maxHoldMs when the old source stops mid-frame', async () => {
    const { receiver, sw } = await setup({ maxHoldMs: 50 });
    const a = await sw.addSource('a');
    const b = await sw.addSource('b');
    sw.select('a');
    await send(a, vp8Packet({ seq: 1, ts: 0, ssrc: 42, start: true, key: true, marker: true }));
    await send(a, vp8Packet({ seq: 2, ts: 3000, ssrc: 42, start: true })); // frame begun, never finished
    await receiver.count(2);
    sw.select('b');
    const switched = sw.waitFor('switched');
    await send(b, vp8Packet({ seq: 900, ts: 77, ssrc: 43, start: true, key: true, marker: true }));
    assert.deepEqual(await switched, ['b']);
    await receiver.count(3);
    assert.equal((header(receiver.packets[2]!).sequenceNumber - header(receiver.packets[1]!).sequenceNumber) & 0xffff, 1);
    await sw.close();
    await receiver.close();
  });

  test('close() while a source is being added releases its ports', async () => {
    const { receiver, sw } = await setup();
    const inUse = pool.inUse;
    const adding = sw.addSource('late');
    const closing = sw.close();
    await assert.rejects(adding, InvalidStateError);
    await closing;
    assert.equal(pool.inUse, inUse);
    await receiver.close();
  });
});

test('RtpSwitch: removeSource() while its ports are being bound gives them back; the id can be added again', async () => {
  const { receiver, sw } = await setup();
  const inUse = pool.inUse;
  const adding = sw.addSource('x');
  sw.removeSource('x');
  await assert.rejects(adding, InvalidStateError);
  assert.equal(pool.inUse, inUse);
  const again = await sw.addSource('x');
  // Media on the RTCP port is not media: dropped, never forwarded.
  sw.select('x');
  await send(again, vp8Packet({ seq: 1, ts: 0, ssrc: 42, start: true, key: true, marker: true }), again.rtcpPort);
  const switched = sw.waitFor('switched');
  await send(again, vp8Packet({ seq: 2, ts: 3000, ssrc: 42, start: true, key: true, marker: true }));
  await switched;
  await receiver.count(1);
  assert.equal(header(receiver.packets[0]!).ssrc, sw.ssrc);
  assert.deepEqual(sw.stats, { forwarded: 1, dropped: 1, switches: 1, rtcp: 0 });
  await sw.close();
  assert.equal(pool.inUse, inUse);
  await receiver.close();
});

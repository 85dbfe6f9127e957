import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { UdpPortPool, isUdpPortBound } from '../../common/index.ts';

test('UdpPortPool hands out distinct even/odd pairs and reuses released ones', async () => {
  const pool = new UdpPortPool({ host: '127.0.0.1', min: 47100, max: 47105 });
  const a = await pool.allocate();
  const b = await pool.allocate();
  const c = await pool.allocate();
  assert.deepEqual([a, b, c].map((p) => p.rtp).sort(), [47100, 47102, 47104]);
  for (const p of [a, b, c]) assert.equal(p.rtcp, p.rtp + 1);
  await assert.rejects(pool.allocate(), /no free UDP port pair/);
  pool.release(b);
  assert.equal((await pool.allocate()).rtp, b.rtp);
});

test('UdpPortPool skips a pair whose RTCP port another process holds', async () => {
  const squatter = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => squatter.bind(47201, '127.0.0.1', resolve));
  try {
    assert.equal(await isUdpPortBound('127.0.0.1', 47201), true);
    const pool = new UdpPortPool({ host: '127.0.0.1', min: 47200, max: 47203 });
    assert.deepEqual(await pool.allocate(), { rtp: 47202, rtcp: 47203 });
  } finally {
    squatter.close();
  }
});

test('UdpPortPool refuses a nonsensical range', () => {
  assert.throws(() => new UdpPortPool({ host: '127.0.0.1', min: 5000, max: 5000 }), TypeError);
  assert.throws(() => new UdpPortPool({ host: '127.0.0.1', min: 80, max: 90 }), TypeError);
});

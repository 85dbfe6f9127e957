// The RTP session contract between ingest and transcode (common/rtpSession.ts):
// what the schema lets across the internal channel, and what it refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rtpSessionSchema, type RtpSessionDescriptor } from '../../common/index.ts';

const session: RtpSessionDescriptor = {
  address: '127.0.0.1',
  sessionName: 'stagecast stage main',
  tracks: [
    { kind: 'video', port: 40000, payloadType: 107, mimeType: 'video/H264', clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' }, ssrc: 0xffffffff, label: 'p/2' },
    { kind: 'audio', port: 40002, payloadType: 100, mimeType: 'audio/opus', clockRate: 48000, channels: 2, parameters: {}, ssrc: 1, label: 'p-audio' },
  ],
};

test('an RTP session crosses as JSON and comes out the same', () => {
  assert.deepEqual(rtpSessionSchema.parse(JSON.parse(JSON.stringify(session))), session);
  assert.deepEqual(rtpSessionSchema.parse({ ...session, address: '::1', tracks: [] }), { ...session, address: '::1', tracks: [] });
});

test('the RTP session schema refuses what FFmpeg could not be told, with the field it blames', () => {
  const video = session.tracks[0]!;
  const cases: [unknown, RegExp][] = [
    [{ ...session, address: 'example.com' }, /address.*not an IP address/],
    [{ ...session, address: '127.0.0.1\r\nm=audio 1 RTP/AVP 0' }, /address/],
    [{ ...session, sessionName: 'x'.repeat(257) }, /sessionName/],
    [{ ...session, tracks: Array.from({ length: 33 }, (_, i) => ({ ...video, port: 40000 + 2 * i })) }, /more than 32 tracks/],
    [{ ...session, tracks: [{ ...video, port: 65535 }] }, /tracks\.0\.port.*invalid RTP port/],
    [{ ...session, tracks: [{ ...video, port: 0 }] }, /invalid RTP port/],
    [{ ...session, tracks: [{ ...video, payloadType: 128 }] }, /tracks\.0\.payloadType/],
    [{ ...session, tracks: [{ ...video, kind: 'audio' }] }, /mimeType does not match kind/],
    [{ ...session, tracks: [{ ...video, mimeType: 'video/H264\r\na=x' }] }, /tracks\.0\.mimeType/],
    [{ ...session, tracks: [{ ...video, kind: 'application' }] }, /tracks\.0\.kind/],
    [{ ...session, tracks: [{ ...video, ssrc: 2 ** 32 }] }, /tracks\.0\.ssrc/],
    [{ ...session, tracks: [{ ...video, parameters: { nested: { a: 1 } } }] }, /tracks\.0\.parameters/],
    [{ ...session, tracks: [{ ...video, parameters: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i])) }] }, /more than 32 codec parameters/],
    [{ ...session, tracks: [{ ...video, extra: 1 }] }, /extra/],
  ];
  for (const [value, message] of cases) {
    const r = rtpSessionSchema.safeParse(value);
    assert.equal(r.success, false, JSON.stringify(value).slice(0, 120));
    const text = r.error!.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ');
    assert.match(text, message);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildFfmpegSdp } from '../../ingest/index.ts';

const golden = (name: string) => readFileSync(new URL(`./golden/${name}`, import.meta.url), 'utf8');

test('SDP for Opus + H.264 names ports, payload types, fmtp and RTCP on port + 1', () => {
  const sdp = buildFfmpegSdp({
    address: '127.0.0.1',
    sessionName: 'stagecast stage main',
    tracks: [
      { kind: 'audio', port: 40000, payloadType: 100, mimeType: 'audio/opus', clockRate: 48000, channels: 2, parameters: { useinbandfec: 1, minptime: 10 }, ssrc: 1111, label: 'p-audio' },
      {
        kind: 'video',
        port: 40002,
        payloadType: 102,
        mimeType: 'video/H264',
        clockRate: 90000,
        parameters: { 'profile-level-id': '42e01f', 'packetization-mode': 1, 'level-asymmetry-allowed': 1 },
        ssrc: 2222,
        label: 'p-video',
      },
    ],
  });
  assert.equal(sdp, golden('opus-h264.sdp'));
});

test('SDP for VP8 over IPv6 uses IP6 and RTP/AVPF for video', () => {
  const sdp = buildFfmpegSdp({
    address: '::1',
    sessionName: 'vp8',
    tracks: [{ kind: 'video', port: 41000, payloadType: 101, mimeType: 'video/VP8', clockRate: 90000 }],
  });
  assert.equal(sdp, golden('vp8-ipv6.sdp'));
});

test('SDP generation refuses inconsistent input', () => {
  const track = { kind: 'video' as const, port: 41000, payloadType: 101, mimeType: 'video/VP8', clockRate: 90000 };
  assert.throws(() => buildFfmpegSdp({ address: 'not-an-ip', sessionName: 's', tracks: [track] }), /not an IP address/);
  assert.throws(() => buildFfmpegSdp({ address: '127.0.0.1', sessionName: 's', tracks: [] }), /at least one track/);
  assert.throws(() => buildFfmpegSdp({ address: '127.0.0.1', sessionName: 's', tracks: [{ ...track, kind: 'audio' }] }), /does not match/);
  assert.throws(() => buildFfmpegSdp({ address: '127.0.0.1', sessionName: 's', tracks: [{ ...track, port: 65535 }] }), /invalid RTP port/);
});

test('SDP session name and fmtp values cannot inject lines', () => {
  const sdp = buildFfmpegSdp({
    address: '127.0.0.1',
    sessionName: 'evil\r\nm=audio 1 RTP/AVP 0',
    tracks: [{ kind: 'audio', port: 40000, payloadType: 100, mimeType: 'audio/opus', clockRate: 48000, parameters: { x: 'a\r\nb=c' } }],
  });
  assert.equal(sdp.match(/^m=/gm)?.length, 1);
  assert.ok(!/\r\nb=c/.test(sdp));
});

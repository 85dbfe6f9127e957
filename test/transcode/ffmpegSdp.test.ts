// The SDP FFmpeg reads (transcode/ffmpegSdp.ts), written from the RTP session
// ingest describes, against golden text written by the writers of commit
// 1aee291 (ingest/sdp.ts, transcode/sdp.ts switchedProgramSdp) for the cases
// of sdpCases.ts.
//
// The comparison is line for line per section, not byte for byte: sdp-transform
// writes a media section's attributes in its grammar's order (rtpmap, fmtp,
// rtcp, rtcp-fb, recvonly, ssrc, label) where the old writer put rtcp-fb before
// rtcp and label and ssrc before recvonly, and it has no option to order
// attributes otherwise. FFmpeg 5.1 reads a section's attribute lines in any
// order but one: a=fmtp goes to the depacketizer its payload type's a=rtpmap
// chose, so it must come after it. That order, the session lines and the
// m-lines' order are checked exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ffmpegSdp, switchedProgramSession } from '../../transcode/index.ts';
import { sessionCases, switchedCases } from './sdpCases.ts';

const golden = (name: string) => readFileSync(new URL(`./golden/sdp/${name}.sdp`, import.meta.url), 'utf8');

/** An SDP cut into its session lines and its m-sections (each starting with its m= line). */
function sections(sdp: string): { session: string[]; medias: string[][] } {
  assert.ok(sdp.endsWith('\r\n') && !/[^\r]\n/.test(sdp), 'CRLF line ends');
  const session: string[] = [];
  const medias: string[][] = [];
  for (const line of sdp.slice(0, -2).split('\r\n')) {
    if (line.startsWith('m=')) medias.push([line]);
    else if (medias.length > 0) medias.at(-1)!.push(line);
    else session.push(line);
  }
  return { session, medias };
}

function assertSameSdp(actual: string, expected: string): void {
  const a = sections(actual);
  const e = sections(expected);
  assert.deepEqual(a.session, e.session, 'the session lines, in order');
  assert.deepEqual(a.medias.map((m) => m[0]), e.medias.map((m) => m[0]), 'the m-lines, in order');
  a.medias.forEach((m, i) => {
    assert.deepEqual([...m].sort(), [...e.medias[i]!].sort(), `the lines of m-section ${i}`);
    const pt = m[0]!.split(' ')[3];
    assert.ok(m[1]!.startsWith(`a=rtpmap:${pt} `), `m-section ${i}: a=rtpmap first`);
    const fmtp = m.findIndex((l) => l.startsWith('a=fmtp:'));
    if (fmtp >= 0) assert.equal(fmtp, 2, `m-section ${i}: a=fmtp right after a=rtpmap`);
  });
}

for (const [name, c] of Object.entries(sessionCases)) {
  test(`SDP of one RTP output, ${name}: FFmpeg gets the lines of golden/sdp/${name}.sdp`, () => {
    assertSameSdp(ffmpegSdp(c), golden(name));
  });
}

for (const [name, c] of Object.entries(switchedCases)) {
  test(`SDP of the switched speaker program, ${name}: FFmpeg gets the lines of golden/sdp/${name}.sdp`, () => {
    assertSameSdp(ffmpegSdp(switchedProgramSession(c)), golden(name));
  });
}

test('SDP for Opus + H.264 names ports, payload types, fmtp and RTCP on port + 1', () => {
  const { session, medias } = sections(ffmpegSdp(sessionCases['opus-h264']!));
  assert.deepEqual(session, ['v=0', 'o=- 0 0 IN IP4 127.0.0.1', 's=stagecast stage main', 'c=IN IP4 127.0.0.1', 't=0 0']);
  assert.deepEqual(medias[0]!.slice(0, 4), ['m=audio 40000 RTP/AVP 100', 'a=rtpmap:100 opus/48000/2', 'a=fmtp:100 minptime=10;useinbandfec=1', 'a=rtcp:40001']);
  assert.deepEqual(medias[1]!.slice(0, 4), [
    'm=video 40002 RTP/AVPF 102',
    'a=rtpmap:102 H264/90000',
    'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
    'a=rtcp:40003',
  ]);
  assert.ok(medias[1]!.includes('a=rtcp-fb:102 nack pli') && medias[1]!.includes('a=rtcp-fb:102 ccm fir'), 'video asks for RTCP feedback');
  assert.ok(!medias[0]!.some((l) => l.startsWith('a=rtcp-fb')), 'audio does not');
  assert.deepEqual(medias.map((m) => m.filter((l) => /^a=(ssrc|label|recvonly)/.test(l)).sort()), [
    ['a=label:p-audio', 'a=recvonly', 'a=ssrc:1111 cname:stagecast'],
    ['a=label:p-video', 'a=recvonly', 'a=ssrc:2222 cname:stagecast'],
  ]);
});

test('SDP for VP8 over IPv6 uses IP6 and RTP/AVPF for video', () => {
  const { session, medias } = sections(ffmpegSdp(sessionCases['vp8-ipv6']!));
  assert.deepEqual(session, ['v=0', 'o=- 0 0 IN IP6 ::1', 's=vp8', 'c=IN IP6 ::1', 't=0 0']);
  assert.equal(medias[0]![0], 'm=video 41000 RTP/AVPF 101');
  assert.ok(!medias[0]!.some((l) => /^a=(fmtp|ssrc|label)/.test(l)), 'no fmtp, SSRC or label when the track has none');
});

test('SDP writing refuses an inconsistent session with InputError bad-sdp', () => {
  const track = { kind: 'video' as const, port: 41000, payloadType: 101, mimeType: 'video/VP8', clockRate: 90000 };
  const refused = (session: unknown, message: RegExp) =>
    assert.throws(() => ffmpegSdp(session as never), (err: Error & { code?: string }) => {
      assert.equal(err.name, 'InputError');
      assert.equal(err.code, 'bad-sdp');
      assert.match(err.message, message);
      return true;
    });
  refused({ address: 'not-an-ip', sessionName: 's', tracks: [track] }, /address: not an IP address/);
  refused({ address: '127.0.0.1', sessionName: 's', tracks: [] }, /at least one track/);
  refused({ address: '127.0.0.1', sessionName: 's', tracks: [{ ...track, kind: 'audio' }] }, /tracks\.0\.mimeType: mimeType does not match kind/);
  refused({ address: '127.0.0.1', sessionName: 's', tracks: [{ ...track, port: 65535 }] }, /tracks\.0\.port: invalid RTP port/);
  refused({ address: '127.0.0.1', sessionName: 's', tracks: [{ ...track, port: 4000.5 }] }, /tracks\.0\.port: invalid RTP port/);
  refused({ address: '127.0.0.1', sessionName: 's', tracks: Array.from({ length: 33 }, (_, i) => ({ ...track, port: 40000 + 2 * i })) }, /more than 32 tracks/);
});

test('SDP session name, fmtp values and labels cannot inject lines', () => {
  const sdp = ffmpegSdp({
    address: '127.0.0.1',
    sessionName: 'evil\r\nm=audio 1 RTP/AVP 0',
    tracks: [{ kind: 'audio', port: 40000, payloadType: 100, mimeType: 'audio/opus', clockRate: 48000, parameters: { x: 'a\r\nb=c' }, label: 'l\r\nc=IN IP4 10.0.0.1' }],
  });
  assert.equal(sdp.match(/^m=/gm)?.length, 1);
  assert.equal(sdp.match(/^c=/gm)?.length, 1);
  assert.ok(!/\r\nb=c/.test(sdp));
});

// The speaker layout's program session behind the RTP switch
// (transcode/rtpSession.ts): a video track (one per simulcast layer switch)
// taken from a source's output but at the switch's output port and SSRC, then
// the audio output's tracks; and the codec key that decides whether host
// videos can share one switched stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RtpSessionDescriptor, RtpTrackDescription } from '../../common/index.ts';
import { checkRtpSession, ffmpegSdp, switchedProgramSession, videoCodecKey } from '../../transcode/index.ts';

const vp8 = (port: number, ssrc: number): RtpTrackDescription => ({ kind: 'video', port, payloadType: 101, mimeType: 'video/VP8', clockRate: 90000, parameters: {}, ssrc, label: `v${port}` });
const h264 = (port: number): RtpTrackDescription => ({
  kind: 'video', port, payloadType: 107, mimeType: 'video/H264', clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' },
});
const opus = (port: number): RtpTrackDescription => ({ kind: 'audio', port, payloadType: 100, mimeType: 'audio/opus', clockRate: 48000, channels: 2, parameters: {}, ssrc: 7 });
const sessionOf = (...tracks: RtpTrackDescription[]): RtpSessionDescriptor => ({ address: '127.0.0.1', sessionName: 'test', tracks });

test('switched program session: the source video at the switch port and SSRC, then every audio track', () => {
  const rtp = switchedProgramSession({ videos: [{ source: sessionOf(vp8(47010, 1111)), port: 47100, ssrc: 4242 }], audio: sessionOf(opus(47020), opus(47030)) });
  const info = checkRtpSession(rtp);
  assert.deepEqual(info.videos.map((v) => [v.port, v.mimeType, v.payloadType, v.ssrc, v.label]), [[47100, 'video/VP8', 101, 4242, 'switch']]);
  assert.deepEqual(info.audios.map((a) => a.port), [47020, 47030]);
  const sdp = ffmpegSdp(rtp);
  assert.match(sdp, /a=ssrc:4242 cname:stagecast\r\n/);
  assert.doesNotMatch(sdp, /a=ssrc:1111/);
  assert.match(sdp, /a=rtcp:47101\r\n/);
  assert.doesNotMatch(sdp, /47010/);
  assert.equal(sdp.match(/^c=/gm)?.length, 1);
});

test('switched program session without audio, and refused without a video source', () => {
  const info = checkRtpSession(switchedProgramSession({ videos: [{ source: sessionOf(h264(47010)), port: 47200, ssrc: 1 }] }));
  assert.deepEqual(info.videos.map((v) => [v.port, v.mimeType, v.ssrc]), [[47200, 'video/H264', 1]]);
  assert.equal(info.audios.length, 0);
  assert.throws(() => switchedProgramSession({ videos: [{ source: sessionOf(opus(47010)), port: 47200, ssrc: 1 }] }), /no video track/);
  assert.throws(() => switchedProgramSession({ videos: [] }), /no switched video/);
  assert.throws(
    () => switchedProgramSession({ videos: [{ source: sessionOf(h264(47010)), port: 47200, ssrc: 1 }], audio: { ...sessionOf(opus(47020)), address: '127.0.0.2' } }),
    /send to 127\.0\.0\.1 and 127\.0\.0\.2/,
    'one session, one address',
  );
});

test('switched program session of simulcast layers: one video track per layer switch, in the given order, each at its port and SSRC', () => {
  const rtp = switchedProgramSession({
    videos: [
      { source: sessionOf({ ...h264(47010), ssrc: 11, label: 'p/2' }), port: 47100, ssrc: 901 },
      { source: sessionOf({ ...h264(47020), ssrc: 12, label: 'p/1' }), port: 47110, ssrc: 902 },
      { source: sessionOf({ ...h264(47030), ssrc: 13, label: 'p/0' }), port: 47120, ssrc: 903 },
    ],
    audio: sessionOf(opus(47040)),
  });
  const info = checkRtpSession(rtp);
  assert.deepEqual(info.videos.map((v) => [v.port, v.mimeType]), [[47100, 'video/H264'], [47110, 'video/H264'], [47120, 'video/H264']]);
  assert.deepEqual(info.audios.map((a) => a.port), [47040]);
  const sdp = ffmpegSdp(rtp);
  assert.deepEqual([...sdp.matchAll(/a=ssrc:(\d+) cname:stagecast/g)].map((m) => Number(m[1])), [901, 902, 903, 7]);
  assert.deepEqual([...sdp.matchAll(/a=label:(\S+)/g)].map((m) => m[1]), ['switch/0', 'switch/1', 'switch/2']);
  assert.doesNotMatch(sdp, /4701\d|4702\d|47030/);
  assert.equal(sdp.match(/^v=0/gm)?.length, 1);
});

test('video codec key: equal for the same codec on other ports and SSRCs, different across codecs and parameters', () => {
  assert.equal(videoCodecKey(vp8(47010, 1)), videoCodecKey(vp8(47020, 2)));
  assert.notEqual(videoCodecKey(vp8(47010, 1)), videoCodecKey(h264(47010)));
  assert.notEqual(videoCodecKey(h264(47010)), videoCodecKey({ ...h264(47010), parameters: { 'packetization-mode': 0, 'profile-level-id': '42e01f' } }));
  assert.equal(videoCodecKey({ ...h264(47010), parameters: { 'profile-level-id': '42e01f', 'packetization-mode': 1 } }), videoCodecKey(h264(47010)), 'parameter order does not count');
  assert.notEqual(videoCodecKey(vp8(47010, 1)), videoCodecKey({ ...vp8(47010, 1), payloadType: 96 }));
  assert.equal(videoCodecKey(opus(47010)), undefined);
});

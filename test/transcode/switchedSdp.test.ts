// The speaker layout's program SDP behind the RTP switch (transcode/sdp.ts): a
// video m-line (one per simulcast layer switch) taken from a source's SDP but at the switch's output port and SSRC,
// then the audio output's m-lines; and the codec key that decides whether host
// videos can share one switched stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildFfmpegSdp, type RtpTrackDescription } from '../../ingest/index.ts';
import { parseProgramSdp, switchedProgramSdp, videoCodecKey } from '../../transcode/index.ts';

const vp8 = (port: number, ssrc: number): RtpTrackDescription => ({ kind: 'video', port, payloadType: 101, mimeType: 'video/VP8', clockRate: 90000, parameters: {}, ssrc, label: `v${port}` });
const h264 = (port: number): RtpTrackDescription => ({
  kind: 'video', port, payloadType: 107, mimeType: 'video/H264', clockRate: 90000, parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' },
});
const opus = (port: number): RtpTrackDescription => ({ kind: 'audio', port, payloadType: 100, mimeType: 'audio/opus', clockRate: 48000, channels: 2, parameters: {}, ssrc: 7 });
const sdpOf = (...tracks: RtpTrackDescription[]) => buildFfmpegSdp({ address: '127.0.0.1', sessionName: 'test', tracks });

test('switched program SDP: the source video at the switch port and SSRC, then every audio m-line', () => {
  const sdp = switchedProgramSdp({ videos: [{ source: sdpOf(vp8(47010, 1111)), port: 47100, ssrc: 4242 }], audio: sdpOf(opus(47020), opus(47030)) });
  const info = parseProgramSdp(sdp);
  assert.deepEqual(info.videos.map((v) => [v.port, v.codec, v.payloadType]), [[47100, 'VP8', 101]]);
  assert.deepEqual(info.audios.map((a) => a.port), [47020, 47030]);
  assert.match(sdp, /a=ssrc:4242 cname:stagecast\r\n/);
  assert.doesNotMatch(sdp, /a=ssrc:1111/);
  assert.match(sdp, /a=rtcp:47101\r\n/);
  assert.doesNotMatch(sdp, /47010/);
  assert.equal(sdp.match(/^c=/gm)?.length, 1);
});

test('switched program SDP without audio, and refused without a video source', () => {
  const info = parseProgramSdp(switchedProgramSdp({ videos: [{ source: sdpOf(h264(47010)), port: 47200, ssrc: 1 }] }));
  assert.deepEqual(info.videos.map((v) => [v.port, v.codec]), [[47200, 'H264']]);
  assert.equal(info.audios.length, 0);
  assert.throws(() => switchedProgramSdp({ videos: [{ source: sdpOf(opus(47010)), port: 47200, ssrc: 1 }] }), /no video m-line/);
  assert.throws(() => switchedProgramSdp({ videos: [] }), /no switched video/);
});

test('switched program SDP of simulcast layers: one video m-line per layer switch, in the given order, each at its port and SSRC', () => {
  const sdp = switchedProgramSdp({
    videos: [
      { source: sdpOf({ ...h264(47010), ssrc: 11, label: 'p/2' }), port: 47100, ssrc: 901 },
      { source: sdpOf({ ...h264(47020), ssrc: 12, label: 'p/1' }), port: 47110, ssrc: 902 },
      { source: sdpOf({ ...h264(47030), ssrc: 13, label: 'p/0' }), port: 47120, ssrc: 903 },
    ],
    audio: sdpOf(opus(47040)),
  });
  const info = parseProgramSdp(sdp);
  assert.deepEqual(info.videos.map((v) => [v.port, v.codec]), [[47100, 'H264'], [47110, 'H264'], [47120, 'H264']]);
  assert.deepEqual(info.audios.map((a) => a.port), [47040]);
  assert.deepEqual([...sdp.matchAll(/a=ssrc:(\d+) cname:stagecast/g)].map((m) => Number(m[1])), [901, 902, 903, 7]);
  assert.deepEqual([...sdp.matchAll(/a=label:(\S+)/g)].map((m) => m[1]), ['switch/0', 'switch/1', 'switch/2']);
  assert.doesNotMatch(sdp, /4701\d|4702\d|47030/);
  assert.equal(sdp.match(/^v=0/gm)?.length, 1);
});

test('video codec key: equal for the same codec on other ports and SSRCs, different across codecs and parameters', () => {
  assert.equal(videoCodecKey(sdpOf(vp8(47010, 1))), videoCodecKey(sdpOf(vp8(47020, 2), opus(47030))));
  assert.notEqual(videoCodecKey(sdpOf(vp8(47010, 1))), videoCodecKey(sdpOf(h264(47010))));
  assert.notEqual(videoCodecKey(sdpOf(h264(47010))), videoCodecKey(sdpOf({ ...h264(47010), parameters: { 'packetization-mode': 0, 'profile-level-id': '42e01f' } })));
  assert.equal(videoCodecKey(sdpOf(opus(47010))), undefined);
});

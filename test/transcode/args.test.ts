import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import {
  audioFragmentDurationUs,
  chooseLayout,
  ffmpegArgs,
  ladderRungs,
  parseTranscodeConfig,
  planProgram,
  programSourceHeight,
  promisedHeight,
  rtpInputOptions,
  selectRungs,
  simulcastRungs,
  type ProgramInput,
  type TranscodeConfigInput,
} from '../../transcode/index.ts';
import { parseProgressLine } from '../../transcode/progress.ts';
import { DEFAULT_SLATE_IMAGE } from '../../app/config.ts';
import type { RtpSessionDescriptor, RtpTrackDescription } from '../../common/index.ts';
import { makeRtpSession, programOf } from './rtpSource.ts';

const GOLDEN_DIR = new URL('./golden/', import.meta.url);
const update = process.env.UPDATE_GOLDEN === '1';
const targetFor = (trackId: string) => `http://127.0.0.1:8080/ingest/b1/${trackId}`;
const vp8 = makeRtpSession({ codec: 'VP8', videoPort: 40000, audioPort: 40002 });
const h264 = makeRtpSession({ codec: 'H264', videoPort: 40000, audioPort: 40002 });
const p720 = { width: 1280, height: 720 };

const videoTrack = (codec: 'VP8' | 'H264', port: number, parameters: Record<string, string | number> = {}): RtpTrackDescription => ({
  kind: 'video', port, payloadType: 96, mimeType: `video/${codec}`, clockRate: 90000, parameters,
});
const audioTrack = (port: number): RtpTrackDescription => ({ kind: 'audio', port, payloadType: 111, mimeType: 'audio/opus', clockRate: 48000, channels: 2 });
const sessionOf = (...tracks: RtpTrackDescription[]): RtpSessionDescriptor => ({ address: '127.0.0.1', sessionName: 'test', tracks });

/** Two hosts side by side (a grid of two), VP8 or H.264, both with audio. */
function gridOf(codec: 'VP8' | 'H264', source?: { width: number; height: number }): ProgramInput {
  const rtp = sessionOf(videoTrack(codec, 40000), videoTrack(codec, 40010), audioTrack(40002), audioTrack(40012));
  const cell = (x: number) => ({ cell: { x, y: 0, width: 0.5, height: 1 }, ...(source ? { source } : {}) });
  return { rtp, compose: { videos: [cell(0), cell(0.5)], audios: 2, slateImage: DEFAULT_SLATE_IMAGE } };
}

/** One H.264 simulcast host full frame: its layers as video tracks (highest first), then its audio, as LiveBroadcast sends them. */
function layersOf(heights: (number | undefined)[], codec: 'VP8' | 'H264' = 'H264'): ProgramInput {
  const parameters: Record<string, string | number> = codec === 'H264' ? { 'level-asymmetry-allowed': 1, 'packetization-mode': 1, 'profile-level-id': '42e01f' } : {};
  const rtp = sessionOf(...heights.map((_, i) => videoTrack(codec, 40000 + 10 * i, parameters)), audioTrack(40100));
  return { ...programOf(rtp, p720), simulcast: { heights } };
}

/** The plan the product makes for a broadcast's first session: the layout from the first program, then the session's plan. */
function productPlan(configInput: TranscodeConfigInput, program: ProgramInput) {
  const config = parseTranscodeConfig(configInput);
  return planProgram(config, chooseLayout(config, program), program, { targetFor }, rtpInputOptions(config));
}

const cases: { name: string; config: TranscodeConfigInput; program: ProgramInput }[] = [
  { name: 'ladder-hd-default', config: {}, program: programOf(vp8, p720) },
  { name: 'ladder-hd-source-unknown', config: {}, program: programOf(vp8) },
  { name: 'ladder-sd', config: { ladder: 'sd' }, program: programOf(vp8, p720) },
  { name: 'ladder-fullhd-ultrafast', config: { ladder: 'fullhd', x264Preset: 'ultrafast', threads: 2 }, program: programOf(vp8, { width: 1920, height: 1080 }) },
  { name: 'ladder-fullhd-source-480', config: { ladder: 'fullhd' }, program: programOf(vp8, { width: 854, height: 480 }) },
  { name: 'ladder-custom-2s-segments', config: { ladder: [{ name: '540p', height: 540, bitrateKbps: 1500 }], segmentDurationMs: 2000, partDurationMs: 250, fps: 25 }, program: programOf(vp8, p720) },
  { name: 'passthrough-h264', config: { mode: 'passthrough' }, program: programOf(h264, p720) },
  { name: 'passthrough-grid-encoded', config: { mode: 'passthrough' }, program: gridOf('H264', p720) },
  { name: 'auto-h264', config: { mode: 'auto' }, program: programOf(h264, p720) },
  { name: 'auto-vp8', config: { mode: 'auto' }, program: programOf(vp8, p720) },
  { name: 'simulcast-h264-3-layers', config: { mode: 'simulcast' }, program: layersOf([720, 360, 180]) },
];

describe('transcode FFmpeg arguments (golden, the plan the product makes)', () => {
  for (const c of cases) {
    test(`${c.name}: argv matches golden/${c.name}.json`, () => {
      const argv = ffmpegArgs(productPlan(c.config, c.program));
      const file = new URL(`${c.name}.json`, GOLDEN_DIR);
      if (update) writeFileSync(file, JSON.stringify(argv, null, 1) + '\n');
      assert.deepEqual(argv, JSON.parse(readFileSync(file, 'utf8')));
    });
  }

  test('the SDP goes in on stdin with pipe,udp,rtp whitelisted and a tuned reorder buffer', () => {
    const argv = ffmpegArgs(productPlan({}, programOf(vp8, p720)));
    const input = argv.slice(0, argv.indexOf('-i') + 2);
    assert.deepEqual(input.slice(-4), ['-f', 'sdp', '-i', 'pipe:0']);
    const opt = (k: string) => input[input.indexOf(k) + 1];
    assert.equal(opt('-protocol_whitelist'), 'pipe,udp,rtp');
    assert.equal(opt('-max_delay'), '50000');
    assert.equal(opt('-reorder_queue_size'), '64');
  });

  test('every ladder rung has the same GOP, forced keyframes at segment boundaries, no scene cut, zerolatency', () => {
    const plan = productPlan({ ladder: 'fullhd' }, programOf(vp8, { width: 1920, height: 1080 }));
    const video = plan.outputs.filter((o) => o.track.kind === 'video');
    assert.equal(video.length, 3);
    for (const o of video) {
      const opt = (k: string) => o.options[o.options.indexOf(k) + 1];
      assert.equal(opt('-force_key_frames'), 'expr:gte(t,n_forced*1)');
      assert.equal(opt('-g'), '30');
      assert.equal(opt('-sc_threshold'), '0');
      assert.equal(opt('-tune'), 'zerolatency');
      assert.equal(opt('-frag_duration'), '200000');
      assert.equal(opt('-movflags'), '+frag_keyframe+empty_moov+default_base_moof+cmaf');
      assert.equal(o.target, targetFor(o.track.trackId));
    }
    assert.deepEqual(plan.outputs.map((o) => o.track.trackId), ['video-1080p', 'video-720p', 'video-360p', 'audio']);
  });

  test('passthrough (and auto, for one H.264 host) copies the video and still transcodes Opus to AAC-LC 48 kHz', () => {
    for (const mode of ['passthrough', 'auto'] as const) {
      const plan = productPlan({ mode }, programOf(h264, p720));
      assert.equal(plan.mode, 'passthrough');
      assert.doesNotMatch(plan.complexFilter ?? '', /\[0:v/, 'no video filter: nothing is decoded');
      const [video, audio] = plan.outputs;
      assert.deepEqual(video?.options.slice(0, 4), ['-map', '0:v:0', '-c:v', 'copy']);
      assert.equal(video?.track.trackId, 'video-source');
      assert.equal(video?.track.height, 720);
      const aopt = (k: string) => audio!.options[audio!.options.indexOf(k) + 1];
      assert.equal(aopt('-c:a'), 'aac');
      assert.equal(aopt('-profile:a'), 'aac_low');
      assert.equal(aopt('-ar'), '48000');
    }
  });

  test('passthrough keeps one video track whatever the program: copied for one H.264 host, encoded for a grid, the slate or VP8', () => {
    const config = parseTranscodeConfig({ mode: 'passthrough' });
    const layout = chooseLayout(config, programOf(h264, p720));
    const slate: ProgramInput = { compose: { videos: [], audios: 0, slateImage: DEFAULT_SLATE_IMAGE } };
    const plans = [programOf(h264, p720), gridOf('H264', p720), slate, programOf(vp8, p720)].map((p) => planProgram(config, layout, p, { targetFor }, []));
    assert.deepEqual(plans.map((p) => p.mode), ['passthrough', 'ladder', 'ladder', 'ladder']);
    for (const p of plans) assert.deepEqual(p.outputs.map((o) => o.track.trackId), ['video-source', 'audio']);
    // `auto` decides from the first program: a VP8 host gets the ladder for the whole broadcast.
    assert.equal(chooseLayout(parseTranscodeConfig({ mode: 'auto' }), programOf(vp8, p720)).kind, 'ladder');
    assert.equal(chooseLayout(parseTranscodeConfig({ mode: 'auto' }), gridOf('H264', p720)).kind, 'ladder');
  });

  test('simulcast: each layer copied into its own rendition; the same renditions encoded for a grid or the slate; no layers, no simulcast layout', () => {
    const config = parseTranscodeConfig({ mode: 'simulcast' });
    const layout = chooseLayout(config, layersOf([720, 360, 180]));
    assert.equal(layout.kind, 'simulcast');
    const copied = planProgram(config, layout, layersOf([720, 360, 180]), { targetFor }, []);
    assert.equal(copied.mode, 'simulcast');
    assert.doesNotMatch(copied.complexFilter ?? '', /\[0:v/, 'no video filter: nothing is decoded');
    assert.deepEqual(copied.outputs.map((o) => [o.track.trackId, o.track.height, o.track.passthrough, o.options.slice(0, 4).join(' ')]), [
      ['video-720p', 720, true, '-map 0:v:0 -c:v copy'],
      ['video-360p', 360, true, '-map 0:v:1 -c:v copy'],
      ['video-180p', 180, true, '-map 0:v:2 -c:v copy'],
      ['audio', undefined, false, '-map [aout] -c:a aac'],
    ]);
    // Later programs that cannot be copied are encoded as the same renditions (the packager's tracks stay).
    const slate: ProgramInput = { compose: { videos: [], audios: 0, slateImage: DEFAULT_SLATE_IMAGE } };
    for (const p of [gridOf('H264', p720), slate, layersOf([720, 360])]) {
      const plan = planProgram(config, layout, p, { targetFor }, []);
      assert.equal(plan.mode, 'ladder');
      assert.deepEqual(plan.outputs.map((o) => o.track.trackId), ['video-720p', 'video-360p', 'video-180p', 'audio']);
      assert.ok(plan.outputs.slice(0, 3).every((o) => o.options.includes('libx264')));
    }
    // A WHIP client does not signal layer sizes: renditions named by place, sizes halving from the top rung.
    assert.deepEqual(simulcastRungs(config, [undefined, undefined]).map((r) => [r.name, r.height]), [['layer0', 720], ['layer1', 360]]);
    // One encoding, VP8 layers, or a grid: the ladder.
    assert.equal(chooseLayout(config, programOf(h264, p720)).kind, 'ladder');
    assert.equal(chooseLayout(config, gridOf('H264', p720)).kind, 'ladder');
    assert.equal(chooseLayout(parseTranscodeConfig({ mode: 'auto' }), layersOf([720, 360, 180])).kind, 'simulcast');
    const vp8Layers = layersOf([720, 360], 'VP8');
    assert.equal(chooseLayout(config, vp8Layers).kind, 'ladder');
  });

  test('promisedHeight: only a copied simulcast layer named by its signalled height promises a size (the app warns when its init segment carries another)', () => {
    const promised = (config: TranscodeConfigInput, program: ProgramInput) => productPlan(config, program).outputs.map((o) => [o.track.trackId, promisedHeight(o.track)]);
    assert.deepEqual(promised({ mode: 'simulcast' }, layersOf([720, 360, 180])), [['video-720p', 720], ['video-360p', 360], ['video-180p', 180], ['audio', undefined]]);
    // A WHIP client's layers: sizes guessed, names by place.
    assert.deepEqual(promised({ mode: 'simulcast' }, layersOf([undefined, undefined])), [['video-layer0', undefined], ['video-layer1', undefined], ['audio', undefined]]);
    // One copied video (`video-source`) and encoded rungs (FFmpeg makes their size) promise nothing to check.
    assert.deepEqual(promised({ mode: 'passthrough' }, programOf(h264, p720)), [['video-source', undefined], ['audio', undefined]]);
    assert.deepEqual(promised({}, programOf(vp8, p720)), [['video-720p', undefined], ['video-360p', undefined], ['audio', undefined]]);
  });

  test('no upscaling: rungs above the program source are dropped and the canvas is the top rung left', () => {
    const plan = productPlan({ ladder: 'fullhd' }, programOf(vp8, { width: 854, height: 480 }));
    assert.deepEqual(plan.outputs.map((o) => o.track.trackId), ['video-360p', 'audio']);
    assert.match(plan.complexFilter!, /scale=640:360:force_original_aspect_ratio=decrease/);
    // Two 640×360 hosts side by side are shown 1:1 on a 720p canvas: the 720p rung stays.
    assert.equal(programSourceHeight(gridOf('VP8', { width: 640, height: 360 }).compose), 720);
    assert.deepEqual(productPlan({}, gridOf('VP8', { width: 640, height: 360 })).outputs.map((o) => o.track.trackId), ['video-720p', 'video-360p', 'audio']);
    // A host whose size is not known (WHIP: nothing signals it) keeps every rung.
    assert.deepEqual(productPlan({}, programOf(vp8)).outputs.map((o) => o.track.trackId), ['video-720p', 'video-360p', 'audio']);
  });
});

describe('transcode config', () => {
  test('defaults: hd ladder (720p + 360p) at veryfast, 1 s segments, 200 ms parts, 30 fps, system FFmpeg', () => {
    const c = parseTranscodeConfig();
    assert.equal(c.ffmpegPath, '/usr/bin/ffmpeg');
    assert.equal(c.mode, 'ladder');
    assert.equal(c.x264Preset, 'veryfast');
    assert.equal(c.segmentDurationMs, 1000);
    assert.equal(c.partDurationMs, 200);
    assert.deepEqual(ladderRungs(c).map((r) => r.name), ['720p', '360p']);
    assert.equal(c.supervision.restart.maxRetries, 5);
  });

  test('invalid values fail once with errors that name each key', () => {
    assert.throws(
      () => parseTranscodeConfig({ partDurationMs: 300, x264Preset: 'placebo', ladder: [{ name: 'A B', height: 10, bitrateKbps: 1 }] }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'invalid-config');
        assert.match(err.message, /transcode\.x264Preset/);
        assert.match(err.message, /transcode\.ladder\.0\.name/);
        assert.match(err.message, /transcode\.ladder\.0\.height/);
        return true;
      },
    );
    assert.throws(() => parseTranscodeConfig({ partDurationMs: 300 }), /transcode\.partDurationMs: must divide segmentDurationMs/);
  });

  test('no rung above the source: rungs taller than the source are dropped, a tiny source keeps the lowest', () => {
    const rungs = ladderRungs(parseTranscodeConfig({ ladder: 'fullhd' }));
    assert.deepEqual(selectRungs(rungs, 720).map((r) => r.name), ['720p', '360p']);
    assert.deepEqual(selectRungs(rungs, 1080).map((r) => r.name), ['1080p', '720p', '360p']);
    assert.deepEqual(selectRungs(rungs, 240).map((r) => r.name), ['360p']);
    assert.deepEqual(selectRungs(rungs).map((r) => r.name), ['1080p', '720p', '360p']);
  });

  test('audio parts are whole AAC frames within [85 %, 100 %] of the part duration', () => {
    assert.equal(audioFragmentDurationUs(200), 192_000);
    for (const part of [100, 200, 250, 333, 500, 1000]) {
      const d = audioFragmentDurationUs(part) / 1000;
      assert.ok(d <= part && d >= 0.85 * part, `${part} ms → ${d} ms`);
    }
  });
});

describe('transcode stderr parsing', () => {
  test('the stats line gives fps, out time, bitrate and speed', () => {
    const p = parseProgressLine('frame=  174 fps= 24 q=33.0 Lq=30.0 size=     758kB time=00:00:05.96 bitrate=1040.0kbits/s dup=60 drop=0 speed=0.826x    ');
    assert.deepEqual(p, { frames: 174, fps: 24, outTimeMs: 5960, bitrateKbps: 1040, speed: 0.826, dup: 60, drop: 0 });
    assert.deepEqual(parseProgressLine('[info] size=      87kB time=01:02:03.50 bitrate= 128.0kbits/s speed=   1x'), {
      outTimeMs: 3_723_500,
      bitrateKbps: 128,
      speed: 1,
    });
    assert.equal(parseProgressLine('[info] Stream mapping:'), undefined);
    assert.equal(parseProgressLine('frame=    0 fps=0.0 q=0.0 size=N/A time=N/A bitrate=N/A speed=N/A')?.outTimeMs, undefined);
  });
});

describe('the RTP copy of the program (WHEP)', () => {
  const rtpReturn = { address: '127.0.0.1', video: { port: 41000, payloadType: 96, ssrc: 1000 }, audio: { port: 41002, payloadType: 111, ssrc: 1001 } };
  const rtpArgs = (plan: ReturnType<typeof planProgram>) => (plan.rtpOutputs ?? []).map((o) => [...o.options, o.target].join(' '));
  test('ladder: the top rung is split off and encoded constrained baseline; the mix goes out as Opus; the CMAF outputs are unchanged', () => {
    const config = parseTranscodeConfig({ ladder: 'hd' });
    const layout = chooseLayout(config, programOf(h264, p720));
    const plain = planProgram(config, layout, programOf(h264, p720), { targetFor }, []);
    const withRtp = planProgram(config, layout, programOf(h264, p720), { targetFor, rtpReturn }, []);
    assert.equal(plain.rtpOutputs, undefined);
    assert.deepEqual(withRtp.outputs.map((o) => o.track), plain.outputs.map((o) => o.track));
    assert.match(withRtp.complexFilter!, /scale=-2:720,split=2\[v0\]\[vrtc\]/);
    assert.match(withRtp.complexFilter!, /\[aout\]asplit=2\[aenc\]\[artc\]/);
    const [video, audio] = rtpArgs(withRtp);
    assert.match(video!, /^-map \[vrtc\] -c:v libx264 .*-profile:v baseline .*-g 30 .*-f rtp -payload_type 96 -ssrc 1000 rtp:\/\/127\.0\.0\.1:41000\?pkt_size=1200&rtcpport=41000$/);
    assert.match(audio!, /^-map \[artc\] -c:a libopus -application lowdelay -frame_duration 20 .*-f rtp -payload_type 111 -ssrc 1001 rtp:\/\/127\.0\.0\.1:41002/);
    assert.ok(ffmpegArgs(withRtp).includes('[aenc]'), 'AAC is encoded from its half of the split');
  });
  test('copied video (passthrough) goes out copied: no second encode', () => {
    const config = parseTranscodeConfig({ mode: 'passthrough' });
    const plan = planProgram(config, chooseLayout(config, programOf(h264, p720)), programOf(h264, p720), { targetFor, rtpReturn }, []);
    assert.equal(plan.mode, 'passthrough');
    assert.match(rtpArgs(plan)[0]!, /^-map 0:v:0 -c:v copy -f rtp /);
    assert.ok(!ffmpegArgs(plan).includes('libx264'));
  });
});

describe('thumbnails (one JPEG per segment from the encoded program)', () => {
  const thumbnailTarget = 'http://127.0.0.1:9999/3/thumbs/%d.jpg';
  test('ladder: one more branch of the split, one frame per segment scaled to the configured height, image2 naming each by its index; the CMAF outputs unchanged', () => {
    const config = parseTranscodeConfig({ ladder: 'hd' });
    const layout = chooseLayout(config, programOf(vp8, p720));
    const plain = planProgram(config, layout, programOf(vp8, p720), { targetFor }, []);
    const plan = planProgram(config, layout, programOf(vp8, p720), { targetFor, thumbnailTarget }, []);
    assert.equal(plain.imageOutputs, undefined);
    assert.deepEqual(plan.outputs, plain.outputs);
    assert.match(plan.complexFilter!, /\[vmix\]split=3\[s0\]\[s1\]\[sthumb\]/);
    assert.match(plan.complexFilter!, /\[sthumb\]fps=fps=1000\/1000:round=down,scale=-2:180\[vthumb\]/);
    const args = ffmpegArgs(plan);
    assert.deepEqual(args.slice(-11), ['-map', '[vthumb]', '-c:v', 'mjpeg', '-q:v', '5', '-f', 'image2', '-frame_pts', '1', thumbnailTarget]);
    // 2 s segments: one thumbnail each 2 s; a taller, better thumbnail when configured.
    const two = parseTranscodeConfig({ ladder: 'sd', segmentDurationMs: 2000, thumbnails: { height: 241, quality: 3 } });
    const p2 = planProgram(two, chooseLayout(two, programOf(vp8, p720)), programOf(vp8, p720), { targetFor, thumbnailTarget }, []);
    assert.match(p2.complexFilter!, /\[vmix\]split=2\[s0\]\[sthumb\];.*\[sthumb\]fps=fps=1000\/2000:round=down,scale=-2:240\[vthumb\]/);
    assert.ok(ffmpegArgs(p2).join(' ').includes('-q:v 3 -f image2'));
  });
  test('none when turned off, and none for copied video (never decoded): passthrough and simulcast', () => {
    const off = parseTranscodeConfig({ thumbnails: { enabled: false } });
    assert.equal(planProgram(off, chooseLayout(off, programOf(vp8, p720)), programOf(vp8, p720), { targetFor, thumbnailTarget }, []).imageOutputs, undefined);
    const pass = parseTranscodeConfig({ mode: 'passthrough' });
    const passPlan = planProgram(pass, chooseLayout(pass, programOf(h264, p720)), programOf(h264, p720), { targetFor, thumbnailTarget }, []);
    assert.equal(passPlan.mode, 'passthrough');
    assert.equal(passPlan.imageOutputs, undefined);
    const sim = parseTranscodeConfig({ mode: 'simulcast' });
    const layers = layersOf([720, 360, 180]);
    const simPlan = planProgram(sim, chooseLayout(sim, layers), layers, { targetFor, thumbnailTarget }, []);
    assert.equal(simPlan.mode, 'simulcast');
    assert.equal(simPlan.imageOutputs, undefined);
  });
});

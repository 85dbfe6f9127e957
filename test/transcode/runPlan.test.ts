import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import type { RtpSessionDescriptor } from '../../common/index.ts';
import {
  chooseLayout,
  ffmpegArgs,
  httpCmafSink,
  parseTranscodeConfig,
  streamCmafSink,
  type CmafSink,
  type ProgramInput,
  type RtpReturnTarget,
  type TranscodeConfigInput,
} from '../../transcode/index.ts';
import { checkProgram, runPlan, type SessionEndpoint } from '../../transcode/runPlan.ts';

const GOLDEN_DIR = new URL('./golden/', import.meta.url);
const update = process.env.UPDATE_GOLDEN === '1';

const slate = '/slate.png';
const session = (codec: 'VP8' | 'H264'): RtpSessionDescriptor => ({
  address: '127.0.0.1',
  sessionName: 'test',
  tracks: [
    { kind: 'video', port: 40000, payloadType: 96, mimeType: `video/${codec}`, clockRate: 90000, ...(codec === 'H264' ? { parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f' } } : {}) },
    { kind: 'audio', port: 40002, payloadType: 111, mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  ],
});
/** One host full frame, 720p. */
const one = (codec: 'VP8' | 'H264'): ProgramInput => ({
  rtp: session(codec),
  compose: { videos: [{ cell: { x: 0, y: 0, width: 1, height: 1 }, source: { width: 1280, height: 720 } }], audios: 1, slateImage: slate },
});
const slateOnly: ProgramInput = { compose: { videos: [], audios: 0, slateImage: slate } };
const rtpReturn: RtpReturnTarget = {
  address: '127.0.0.1',
  video: { port: 41000, payloadType: 96 },
  audio: { port: 41002, payloadType: 111 },
  ssrcFor: (session, kind) => session * 10 + (kind === 'video' ? 0 : 1),
};
const http = httpCmafSink('http://127.0.0.1:8080/ingest/b1');
const stream = streamCmafSink(
  () => new Writable({ write: (_chunk, _enc, done) => done() }),
  () => {},
);
/** The StreamSinkBridge's addresses once it listens (port 5555). */
const endpoint: SessionEndpoint = {
  urlFor: (session, trackId) => `http://127.0.0.1:5555/${session}/${trackId}`,
  thumbnailUrlFor: (session) => `http://127.0.0.1:5555/${session}/thumbs/%d.jpg`,
};

/** The run plan as the Transcoder builds it: the layout from the program, then one session's plan. */
function plan(configInput: TranscodeConfigInput, program: ProgramInput, sink: CmafSink, session: number, extra: { endpoint?: SessionEndpoint; rtpReturn?: RtpReturnTarget } = {}) {
  const config = parseTranscodeConfig(configInput);
  return runPlan({ config, layout: chooseLayout(config, program), program, sink, ...extra }, session);
}

describe('transcode run plan (one FFmpeg session, pure)', () => {
  // The argv of the first session, as `Transcoder.plan()` built it before it was a module of its own.
  const cases: { golden: string; build: () => ReturnType<typeof plan> }[] = [
    { golden: 'ladder-hd-default', build: () => plan({}, one('VP8'), http, 1) },
    { golden: 'run-ladder-stream-before-bridge', build: () => plan({}, one('VP8'), stream, 1) },
    { golden: 'run-passthrough-http-rtp-return', build: () => plan({ mode: 'passthrough' }, one('H264'), http, 1, { rtpReturn }) },
    { golden: 'run-ladder-http-rtp-return', build: () => plan({ ladder: 'sd' }, one('VP8'), http, 1, { rtpReturn }) },
    { golden: 'run-slate-stream', build: () => plan({}, slateOnly, stream, 1) },
  ];
  for (const c of cases) {
    test(`argv matches golden/${c.golden}.json`, () => {
      const argv = ffmpegArgs(c.build());
      const file = new URL(`${c.golden}.json`, GOLDEN_DIR);
      if (update && c.golden.startsWith('run-')) writeFileSync(file, JSON.stringify(argv, null, 1) + '\n');
      assert.deepEqual(argv, JSON.parse(readFileSync(file, 'utf8')));
    });
  }

  test('an HTTP sink: each track PUT to the packager URL, the same for every session; no thumbnails (no place for them)', () => {
    for (const session of [1, 7]) {
      const p = plan({}, one('VP8'), http, session, { endpoint });
      assert.deepEqual(
        p.outputs.map((o) => [o.track.trackId, o.target]),
        [
          ['video-720p', 'http://127.0.0.1:8080/ingest/b1/video-720p'],
          ['video-360p', 'http://127.0.0.1:8080/ingest/b1/video-360p'],
          ['audio', 'http://127.0.0.1:8080/ingest/b1/audio'],
        ],
      );
      assert.equal(p.imageOutputs, undefined);
    }
  });

  test('an in-process sink: each track pushed to the bridge under its session, thumbnails too when the sink takes them', () => {
    const p = plan({}, one('VP8'), stream, 3, { endpoint });
    assert.deepEqual(
      p.outputs.map((o) => o.target),
      ['http://127.0.0.1:5555/3/video-720p', 'http://127.0.0.1:5555/3/video-360p', 'http://127.0.0.1:5555/3/audio'],
    );
    assert.deepEqual(p.imageOutputs?.map((o) => o.target), ['http://127.0.0.1:5555/3/thumbs/%d.jpg']);
    // Before the bridge listens (the tracks a Transcoder reports at construction): port 0, no thumbnails.
    const before = plan({}, one('VP8'), stream, 0);
    assert.deepEqual(before.outputs.map((o) => o.target), ['http://127.0.0.1:0/0/video-720p', 'http://127.0.0.1:0/0/video-360p', 'http://127.0.0.1:0/0/audio']);
    assert.equal(before.imageOutputs, undefined);
    // A sink without a thumbnail handler gets none.
    const noThumbs = streamCmafSink(() => new Writable({ write: (_c, _e, done) => done() }));
    assert.equal(plan({}, one('VP8'), noThumbs, 3, { endpoint }).imageOutputs, undefined);
  });

  test("the RTP copy goes out under the session's SSRCs", () => {
    const p = plan({ mode: 'passthrough' }, one('H264'), http, 4, { rtpReturn });
    assert.equal(p.mode, 'passthrough');
    assert.deepEqual(
      p.rtpOutputs?.map((o) => [o.kind, o.target, o.options.slice(-4).join(' ')]),
      [
        ['video', 'rtp://127.0.0.1:41000?pkt_size=1200&rtcpport=41000', '-payload_type 96 -ssrc 40'],
        ['audio', 'rtp://127.0.0.1:41002?pkt_size=1200&rtcpport=41002', '-payload_type 111 -ssrc 41'],
      ],
    );
  });
});

describe('transcode program check (before anything starts)', () => {
  test('returns the RTP ports FFmpeg will bind, videos first', () => {
    assert.deepEqual(checkProgram(one('VP8')), [40000, 40002]);
    assert.deepEqual(checkProgram(slateOnly), []);
  });

  test('an RTP session that does not match the composition is InputError bad-program; a malformed one bad-sdp', () => {
    const cases: [ProgramInput, string, RegExp][] = [
      [{ compose: { ...one('VP8').compose } }, 'bad-program', /the program has RTP inputs but no RTP session/],
      [{ ...one('VP8'), compose: { ...one('VP8').compose, audios: 2 } }, 'bad-program', /the RTP session has 1 video and 1 audio tracks, the composition 1 and 2/],
      [{ ...one('H264'), simulcast: { heights: [720, 360] } }, 'bad-program', /the RTP session has 1 video and 1 audio tracks, the composition 2 and 1/],
      [{ ...slateOnly, rtp: session('VP8'), simulcast: { heights: [720] } }, 'bad-program', /a simulcast program has exactly one video/],
      [{ ...one('VP8'), rtp: { ...session('VP8'), address: 'hello' } }, 'bad-sdp', /not an IP address/],
    ];
    for (const [program, code, message] of cases) {
      assert.throws(() => checkProgram(program), (err: Error & { code?: string }) => {
        assert.equal(err.name, 'InputError');
        assert.equal(err.code, code);
        assert.match(err.message, message);
        return true;
      });
    }
  });
});

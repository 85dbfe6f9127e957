// The WHIP offer translator and answer serializer, pure: golden answers for a
// real Chromium offer, an OBS-shaped offer and real GStreamer webrtcbin offers
// (max-bundle: a bundle-only m-line with port 0), the codec choice, every refusal
// with its status and reason; and the translated parameters accepted by a real
// mediasoup router's produce().
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import { InputError } from '../../common/index.ts';
import { stageMediaCodecs } from '../../ingest/index.ts';
import { buildAnswer, translateOffer, type AcceptedMedia } from '../../ingest/whip/index.ts';
import type { AnswerTransport } from '../../ingest/webrtcHttp/answer.ts';
import { h264Profile } from '../../ingest/webrtcHttp/h264.ts';
import { defaultOfferLimits } from '../../ingest/webrtcHttp/offer.ts';

const goldenPath = (name: string) => new URL(`./golden/whip/${name}`, import.meta.url);
const golden = (name: string) => readFileSync(goldenPath(name), 'utf8');
/** UPDATE_GOLDEN=1 rewrites the expected answers (review the diff!). */
function assertGolden(actual: string, name: string): void {
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(goldenPath(name), actual);
  assert.equal(actual, golden(name));
}

const chromium = golden('chromium-offer.sdp');
const obs = golden('obs-offer.sdp');
// Captured from GStreamer 1.22 webrtcbin, bundle-policy=max-bundle (test/e2e/whip/gstWhipClient.py --offer-only).
const gstreamer = golden('gstreamer-offer.sdp');
const gstreamerH264 = golden('gstreamer-h264-offer.sdp');

/** A fixed server side, so answers are byte-for-byte comparable. */
const transport: AnswerTransport = {
  iceParameters: { usernameFragment: 'srvufrag0123456789abcdef01234567', password: 'srvpassword0123456789abcdef012345', iceLite: true },
  iceCandidates: [
    { foundation: 'udpcandidate', priority: 1076302079, ip: '198.51.100.7', address: '198.51.100.7', protocol: 'udp', port: 40001, type: 'host' },
    { foundation: 'tcpcandidate', priority: 1076276479, ip: '198.51.100.7', address: '198.51.100.7', protocol: 'tcp', port: 40002, type: 'host', tcpType: 'passive' },
  ],
  dtlsParameters: {
    role: 'auto',
    fingerprints: [
      { algorithm: 'sha-1', value: '30:4B:76:5A:FD:84:8F:06:CF:72:3A:B0:CB:83:80:27:FB:66:08:05' },
      { algorithm: 'sha-256', value: '7C:F2:8C:4C:2C:37:A8:A4:D4:99:B9:59:6B:B8:44:A0:41:23:FA:F0:EF:22:1B:DF:D1:09:69:B7:83:BB:46:C9' },
    ],
  },
};

let worker: ms.Worker;
let router: ms.Router;
before(async () => {
  worker = await mediasoup.createWorker({ logLevel: 'none' });
  router = await worker.createRouter({ mediaCodecs: stageMediaCodecs });
});
after(() => worker?.close());

const caps = () => router.rtpCapabilities;
const accepted = (sdp: string) => translateOffer(sdp, caps()).media.filter((m): m is AcceptedMedia => m.accepted);

/** Runs `fn`, expecting an InputError with `status` whose message matches `reason`. */
function refused(fn: () => unknown, status: number, reason: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InputError, `an InputError, not ${String(err)}`);
    assert.equal(err.status, status, err.message);
    assert.match(err.message, reason);
    return true;
  });
}

/** Edits an offer line by line. */
const edit = (sdp: string, fn: (lines: string[]) => string[]) => `${fn(sdp.trimEnd().split('\r\n')).join('\r\n')}\r\n`;

describe('a Chromium offer', () => {
  test('becomes opus and VP8 (its first choice) with RTX, its feedback and the extensions the router knows', () => {
    const [audio, video] = accepted(chromium);
    assert.equal(audio?.kind, 'audio');
    assert.deepEqual(audio.rtpParameters.codecs, [
      { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 }, rtcpFeedback: [{ type: 'transport-cc', parameter: '' }] },
    ]);
    assert.deepEqual(audio.rtpParameters.encodings, [{ ssrc: 1511818692 }]);
    assert.deepEqual(audio.rtpParameters.rtcp, { cname: 'efYXIYTbzCBRXt1y', reducedSize: true });
    assert.equal(audio.rtpParameters.mid, '0');
    assert.deepEqual(
      audio.rtpParameters.headerExtensions?.map((h) => h.uri),
      [
        'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
        'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
        'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
        'urn:ietf:params:rtp-hdrext:sdes:mid',
      ],
    );
    assert.equal(video?.kind, 'video');
    assert.deepEqual(
      video.rtpParameters.codecs.map((c) => [c.mimeType, c.payloadType, c.parameters]),
      [
        ['video/VP8', 96, {}],
        ['video/rtx', 97, { apt: 96 }],
      ],
    );
    assert.deepEqual(video.rtpParameters.encodings, [{ ssrc: 2302926208, rtx: { ssrc: 3667908710 } }]);
    // video-content-type, video-timing and color-space are not the router's: left out.
    assert.ok(!video.rtpParameters.headerExtensions?.some((h) => /video-timing|color-space|video-content-type/.test(h.uri)));
  });

  test('answers byte for byte as the golden answer', () => {
    assertGolden(buildAnswer(translateOffer(chromium, caps()), transport, { sessionId: '4242' }), 'chromium-answer.sdp');
  });

  test('preferring H.264 gets constrained baseline with packetization-mode 1, not baseline or mode 0', () => {
    // Move the H.264 payloads (102 baseline/pm1, 104 baseline/pm0, 108 CB/pm1, 114 CB/pm0) ahead of VP8.
    const h264First = chromium.replace(/^m=video (\d+) (\S+) 96 97 (102 103 104 107 108 109 114 115)/m, 'm=video $1 $2 $3 96 97');
    assert.notEqual(h264First, chromium);
    const video = accepted(h264First)[1]!;
    assert.deepEqual(
      video.rtpParameters.codecs.map((c) => [c.mimeType, c.payloadType, c.parameters]),
      [
        ['video/H264', 108, { 'level-asymmetry-allowed': 1, 'packetization-mode': 1, 'profile-level-id': '42e01f' }],
        ['video/rtx', 109, { apt: 108 }],
      ],
    );
  });
});

describe('an OBS offer (libdatachannel: session-level ICE and fingerprint, no extensions)', () => {
  test('becomes opus and H.264 with the session-level credentials', () => {
    const offer = translateOffer(obs, caps());
    assert.equal(offer.iceUfrag, 'nxcM');
    assert.equal(offer.fingerprints[0]?.algorithm, 'sha-256');
    const [audio, video] = offer.media as AcceptedMedia[];
    assert.equal(audio?.rtpParameters.codecs[0]?.channels, 2);
    assert.deepEqual(video?.rtpParameters.codecs.map((c) => c.mimeType), ['video/H264']);
    assert.deepEqual(video?.rtpParameters.encodings, [{ ssrc: 3388068601 }]);
    assert.deepEqual(
      video?.rtpParameters.codecs[0]?.rtcpFeedback,
      [{ type: 'nack', parameter: '' }, { type: 'nack', parameter: 'pli' }, { type: 'goog-remb', parameter: '' }],
    );
  });

  test('answers byte for byte as the golden answer', () => {
    assertGolden(buildAnswer(translateOffer(obs, caps()), transport, { sessionId: '4343' }), 'obs-answer.sdp');
  });
});

test('a recvonly or data section is rejected in the answer with port 0, outside the BUNDLE group', () => {
  const withData = `${obs}m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=sctp-port:5000\r\n`;
  const offer = translateOffer(withData, caps());
  assert.equal(offer.media[2]?.accepted, false);
  const answer = buildAnswer(offer, transport, { sessionId: '1' });
  assert.match(answer, /\r\na=group:BUNDLE 0 1\r\n/);
  assert.match(answer, /\r\nm=application 0 UDP\/DTLS\/SCTP webrtc-datachannel\r\nc=IN IP4 0\.0\.0\.0\r\na=mid:2\r\na=inactive\r\n$/);
});

describe('a GStreamer webrtcbin offer (max-bundle: the video m-line is bundle-only, port 0)', () => {
  /** The video section of an offer, as its lines. */
  const videoSection = (sdp: string) => sdp.slice(sdp.indexOf('m=video'));
  /** Edits only the lines of the video section. */
  const editVideo = (sdp: string, fn: (line: string) => string | undefined) =>
    sdp.slice(0, sdp.indexOf('m=video')) +
    videoSection(sdp)
      .split('\r\n')
      .map((l) => (l === '' ? l : fn(l)))
      .filter((l) => l !== undefined)
      .join('\r\n');

  test('the golden offer is in bundle-only form', () => {
    assert.match(gstreamer, /\r\na=group:BUNDLE audio0 video1\r\n/);
    assert.match(videoSection(gstreamer), /^m=video 0 UDP\/TLS\/RTP\/SAVPF 96\r\n[\s\S]*\r\na=bundle-only\r\n/);
    assert.match(gstreamer, /\r\nm=audio 9 /);
  });

  test('takes both tracks: opus, and VP8 from the bundle-only section, on the audio section\'s transport', () => {
    const offer = translateOffer(gstreamer, caps());
    assert.equal(offer.bundleTag, 'audio0');
    assert.equal(offer.iceUfrag, 'mgIsLDkhMEIsM7I20e/KqAFFfGCJe8TW');
    const [audio, video] = offer.media as AcceptedMedia[];
    assert.equal(audio?.accepted, true);
    assert.equal(audio.bundleOnly, false);
    assert.deepEqual(audio.rtpParameters.codecs.map((c) => [c.mimeType, c.payloadType, c.channels]), [['audio/opus', 111, 2]]);
    assert.equal(video?.accepted, true);
    assert.equal(video.bundleOnly, true);
    assert.equal(video.mid, 'video1');
    assert.deepEqual(
      video.rtpParameters.codecs.map((c) => [c.mimeType, c.payloadType]),
      [['video/VP8', 96]],
    );
    assert.deepEqual(video.rtpParameters.codecs[0]?.rtcpFeedback, [
      { type: 'nack', parameter: 'pli' },
      { type: 'ccm', parameter: 'fir' },
      { type: 'transport-cc', parameter: '' },
    ]);
    assert.equal(video.rtpParameters.encodings?.length, 1);
    assert.deepEqual(video.rtpParameters.rtcp, { cname: 'user300064905@host-ad02d86e', reducedSize: true });
  });

  test('answers byte for byte as the golden answer: video inside the BUNDLE group, port 9, no a=bundle-only', () => {
    const answer = buildAnswer(translateOffer(gstreamer, caps()), transport, { sessionId: '4444' });
    assertGolden(answer, 'gstreamer-answer.sdp');
    assert.match(answer, /\r\na=group:BUNDLE audio0 video1\r\n/);
    assert.match(answer, /\r\nm=video 9 UDP\/TLS\/RTP\/SAVPF 96\r\n/);
    assert.doesNotMatch(answer, /bundle-only/);
  });

  test('its H.264 (constrained baseline 42c01e, packetization-mode 1) is taken', () => {
    const video = accepted(gstreamerH264)[1]!;
    assert.equal(video.bundleOnly, true);
    assert.equal(video.rtpParameters.codecs[0]?.mimeType, 'video/H264');
    assert.equal(video.rtpParameters.codecs[0]?.payloadType, 102);
    assert.equal(video.rtpParameters.codecs[0]?.parameters?.['profile-level-id'], '42c01e');
    assert.equal(video.rtpParameters.codecs[0]?.parameters?.['packetization-mode'], 1);
  });

  test('a bundle-only section without its own transport attributes (as JSEP writes it) takes the tagged section\'s', () => {
    const bare = editVideo(gstreamer, (l) => (/^a=(ice-ufrag|ice-pwd|fingerprint|setup|rtcp-mux|rtcp-mux-only|rtcp-rsize)(:|$)/.test(l) ? undefined : l));
    assert.doesNotMatch(videoSection(bare), /a=(ice-ufrag|fingerprint|setup|rtcp-mux)/);
    const offer = translateOffer(bare, caps());
    const video = offer.media[1] as AcceptedMedia;
    assert.equal(video.accepted, true);
    assert.equal(video.rtpParameters.rtcp?.reducedSize, true, 'rtcp-rsize follows the tagged section');
    assert.equal(offer.fingerprints[0]?.value, 'C2:31:3D:C3:63:2D:B4:F5:49:9D:68:CE:62:08:43:06:AD:F8:64:DF:9D:7E:BC:FF:98:2F:93:42:F3:FB:BA:25');
    assert.equal(buildAnswer(offer, transport, { sessionId: '4444' }), golden('gstreamer-answer.sdp'));
  });

  test('the tagged section is the BUNDLE group\'s first with a port of its own, whatever the order of the mids', () => {
    const offer = translateOffer(gstreamer.replace('a=group:BUNDLE audio0 video1', 'a=group:BUNDLE video1 audio0'), caps());
    assert.equal(offer.bundleTag, 'audio0');
    assert.match(buildAnswer(offer, transport, { sessionId: '1' }), /\r\na=group:BUNDLE audio0 video1\r\n/);
  });

  test('port 0 without a=bundle-only is a disabled section: rejected with port 0, outside the BUNDLE group', () => {
    const disabled = gstreamer.replace('a=bundle-only\r\n', '');
    const offer = translateOffer(disabled, caps());
    assert.equal(offer.media[1]?.accepted, false);
    assert.match((offer.media[1] as { reason: string }).reason, /port 0/);
    const answer = buildAnswer(offer, transport, { sessionId: '1' });
    assert.match(answer, /\r\na=group:BUNDLE audio0\r\n/);
    assert.match(answer, /\r\nm=video 0 UDP\/TLS\/RTP\/SAVPF 96\r\nc=IN IP4 0\.0\.0\.0\r\na=mid:video1\r\na=inactive\r\n$/);
  });

  test('a bundle-only data or recvonly section stays rejected, outside the BUNDLE group', () => {
    const data = `${gstreamer.replace('BUNDLE audio0 video1', 'BUNDLE audio0 video1 application2')}m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=bundle-only\r\na=mid:application2\r\na=sctp-port:5000\r\n`;
    const withData = translateOffer(data, caps());
    assert.deepEqual(withData.media.map((m) => m.accepted), [true, true, false]);
    assert.match(buildAnswer(withData, transport, { sessionId: '1' }), /\r\na=group:BUNDLE audio0 video1\r\n[\s\S]*\r\nm=application 0 UDP\/DTLS\/SCTP webrtc-datachannel\r\n/);
    const recvonly = translateOffer(editVideo(gstreamer, (l) => (l === 'a=sendonly' ? 'a=recvonly' : l)), caps());
    assert.deepEqual(recvonly.media.map((m) => m.accepted), [true, false]);
  });

  test('a bundle-only track that cannot be taken refuses the whole offer (422), never a 201 without it', () => {
    // Its mid outside the BUNDLE group: it may only be taken within it.
    refused(() => translateOffer(gstreamer.replace('a=group:BUNDLE audio0 video1', 'a=group:BUNDLE audio0'), caps()), 422, /bundle-only.*mid video1 is not in the a=group:BUNDLE/);
    refused(() => translateOffer(gstreamer.replace('a=group:BUNDLE audio0 video1\r\n', ''), caps()), 422, /bundle-only.*not in the a=group:BUNDLE/);
    // The section carrying the group's transport is not taken (here: recvonly, or disabled), so neither can the bundle-only one be.
    const audioRecvonly = gstreamer.replace('a=sendonly\r\na=rtpmap:111', 'a=recvonly\r\na=rtpmap:111');
    assert.notEqual(audioRecvonly, gstreamer);
    refused(() => translateOffer(audioRecvonly, caps()), 422, /bundle-only sections \(mid video1\).*mid audio0\) is not taken: .*does not send.*cannot be taken whole/);
    refused(() => translateOffer(gstreamer.replace('m=audio 9 ', 'm=audio 0 '), caps()), 422, /mid audio0\) is not taken: rejected by the offer \(port 0\).*cannot be taken whole/);
    // No codec the router takes, as for any other section.
    const vp9 = gstreamer.replace('m=video 0 UDP/TLS/RTP/SAVPF 96', 'm=video 0 UDP/TLS/RTP/SAVPF 98').replace('a=rtpmap:96 VP8/90000', 'a=rtpmap:98 VP9/90000');
    refused(() => translateOffer(vp9, caps()), 422, /m=video #1 \(mid video1\): no supported codec among VP9\/90000/);
    // A missing SSRC is refused there as anywhere.
    refused(() => translateOffer(editVideo(gstreamer, (l) => (l.startsWith('a=ssrc:') ? undefined : l)), caps()), 422, /mid video1.*a=ssrc/);
  });
});

test('the translated parameters are accepted by a real router: produce() on a WebRtcTransport', async () => {
  const t = await router.createWebRtcTransport({ listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] });
  try {
    const h264First = chromium.replace(/^m=video (\d+) (\S+) 96 97 (102 103 104 107 108 109 114 115)/m, 'm=video $1 $2 $3 96 97');
    for (const sdp of [chromium, h264First, obs, gstreamer, gstreamerH264]) {
      for (const m of accepted(sdp)) {
        const p = await t.produce({ kind: m.kind, rtpParameters: m.rtpParameters });
        assert.equal(p.kind, m.kind);
        p.close();
      }
    }
  } finally {
    t.close();
  }
});

/**
 * OBS 30+ (libdatachannel) with simulcast: its video section names no SSRC and
 * sends rids 0;1;2, full size first (rid 0 is the encoder's own output).
 */
const obsSimulcast = edit(obs, (lines) =>
  lines.flatMap((l) => {
    if (l.startsWith('a=ssrc:3388068601')) return [];
    if (l === 'a=mid:1') {
      return [l, 'a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid', 'a=extmap:2 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id', 'a=rid:0 send', 'a=rid:1 send', 'a=rid:2 send', 'a=simulcast:send 0;1;2'];
    }
    return [l];
  }),
);

describe('simulcast (RFC 8853)', () => {
  test('an OBS simulcast offer becomes one encoding per rid, lowest first as mediasoup numbers layers; the answer receives them', () => {
    const video = accepted(obsSimulcast).find((m) => m.kind === 'video')!;
    assert.deepEqual(video.rtpParameters.encodings, [{ rid: '2' }, { rid: '1' }, { rid: '0' }], 'the most preferred (first) rid is the top layer');
    assert.deepEqual(video.simulcast, { rids: ['0', '1', '2'] });
    const answer = buildAnswer(translateOffer(obsSimulcast, caps()), transport, { sessionId: '1' });
    const section = answer.slice(answer.indexOf('m=video'));
    assert.match(section, /a=rid:0 recv\r\na=rid:1 recv\r\na=rid:2 recv\r\na=simulcast:recv 0;1;2\r\n/);
    assert.match(section, /a=extmap:2 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id/);
  });
  test('rids that state max-height are ordered by it; a paused stream (~) and alternatives (,) take the first rid', () => {
    const sized = obsSimulcast
      .replace('a=rid:0 send', 'a=rid:0 send max-width=640;max-height=360')
      .replace('a=rid:1 send', 'a=rid:1 send max-width=1280;max-height=720')
      .replace('a=rid:2 send', 'a=rid:2 send max-width=320;max-height=180')
      .replace('a=simulcast:send 0;1;2', 'a=simulcast:send 0;~1;2,0');
    const video = accepted(sized).find((m) => m.kind === 'video')!;
    assert.deepEqual(video.rtpParameters.encodings, [{ rid: '2' }, { rid: '0' }, { rid: '1' }]);
  });
  test('a rid restricted to payload types (pt=) must allow the chosen codec', () => {
    const video = accepted(obsSimulcast).find((m) => m.kind === 'video')!;
    const chosen = video.rtpParameters.codecs[0]!.payloadType;
    const allowed = obsSimulcast.replace('a=rid:1 send', `a=rid:1 send pt=${chosen},127;max-height=360`);
    assert.deepEqual(accepted(allowed).find((m) => m.kind === 'video')!.rtpParameters.encodings, [{ rid: '2' }, { rid: '1' }, { rid: '0' }]);
    const other = chosen === 127 ? 126 : 127;
    const refused = obsSimulcast.replace('a=rid:1 send', `a=rid:1 send pt=${other}`);
    assert.throws(() => translateOffer(refused, caps()), (e: InputError) => e.status === 422 && new RegExp(`rid 1 may only send payload types ${other}`).test(e.message));
  });
  test('a real router takes it as a simulcast producer of 3 spatial layers', async () => {
    const t = await router.createWebRtcTransport({ listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] });
    try {
      const video = accepted(obsSimulcast).find((m) => m.kind === 'video')!;
      const p = await t.produce({ kind: 'video', rtpParameters: video.rtpParameters });
      assert.equal(p.type, 'simulcast');
      assert.equal(p.rtpParameters.encodings?.length, 3);
    } finally {
      t.close();
    }
  });
});

describe('refusals say what is wrong, with the RFC status', () => {
  const vp9Only = edit(chromium, (lines) =>
    lines
      .map((l) => (l.startsWith('m=video') ? l.replace(/SAVPF .*/, 'SAVPF 98 99') : l))
      .filter((l) => !/^a=(rtpmap|fmtp|rtcp-fb):(?!98 |99 )\d+ /.test(l) || /^a=(rtpmap|fmtp|rtcp-fb):111 /.test(l)),
  );

  test('VP9 only → 422 naming what was offered and what is taken', () => {
    refused(() => translateOffer(vp9Only, caps()), 422, /m=video .*VP9\/90000.*this server takes video\/VP8, video\/H264/);
  });
  test('PCMU only → 422', () => {
    const pcmu = edit(obs, (lines) => lines.map((l) => l.replace('SAVPF 111', 'SAVPF 0').replace('a=rtpmap:111 opus/48000/2', 'a=rtpmap:0 PCMU/8000')));
    refused(() => translateOffer(pcmu, caps()), 422, /m=audio .*PCMU\/8000.*takes audio\/opus/);
  });
  test('no fingerprint → 400', () => {
    refused(() => translateOffer(edit(obs, (l) => l.filter((x) => !x.startsWith('a=fingerprint'))), caps()), 400, /fingerprint/);
  });
  test('no ice-ufrag → 400', () => {
    refused(() => translateOffer(edit(chromium, (l) => l.filter((x) => !x.startsWith('a=ice-ufrag'))), caps()), 400, /ice-ufrag/);
  });
  test('a=setup:passive → 422: the client must be the DTLS client', () => {
    refused(() => translateOffer(obs.replace('a=setup:actpass', 'a=setup:passive'), caps()), 422, /DTLS client/);
  });
  test('simulcast by a=ssrc-group:SIM → 422, naming the simulcast that is taken', () => {
    const sim = obs.replace('a=ssrc:3388068601 cname', 'a=ssrc-group:SIM 3388068601 3388068602\r\na=ssrc:3388068601 cname');
    refused(() => translateOffer(sim, caps()), 422, /ssrc-group:SIM is not supported; send RFC 8853/);
  });
  test('simulcast without the rid header extension → 422', () => {
    refused(() => translateOffer(obsSimulcast.replace(/a=extmap:\d+ urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n/, ''), caps()), 422, /needs the a=extmap .*rtp-stream-id/);
  });
  test('a simulcast rid without its a=rid line → 400', () => {
    refused(() => translateOffer(obsSimulcast.replace('a=simulcast:send 0;1;2', 'a=simulcast:send 0;1;3'), caps()), 400, /rid 3 has no a=rid:3 send line/);
  });
  test('more than 4 simulcast layers → 422', () => {
    const five = obsSimulcast.replace('a=simulcast:send 0;1;2', 'a=rid:3 send\r\na=rid:4 send\r\na=simulcast:send 0;1;2;3;4');
    refused(() => translateOffer(five, caps()), 422, /5 simulcast layers; at most 4/);
  });
  test('simulcast audio → 422', () => {
    const audio = obs.replace('a=mid:0\r\n', 'a=mid:0\r\na=extmap:4 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\na=rid:a send\r\na=rid:b send\r\na=simulcast:send a;b\r\n');
    refused(() => translateOffer(audio, caps()), 422, /simulcast is taken for video only/);
  });
  test('no rtcp-mux → 422', () => {
    refused(() => translateOffer(obs.replaceAll('a=rtcp-mux\r\n', ''), caps()), 422, /rtcp-mux/);
  });
  test('media outside one BUNDLE group → 422', () => {
    refused(() => translateOffer(obs.replace('a=group:BUNDLE 0 1', 'a=group:BUNDLE 0'), caps()), 422, /BUNDLE/);
  });
  test('no SSRC → 422', () => {
    refused(() => translateOffer(edit(obs, (l) => l.filter((x) => !x.startsWith('a=ssrc:3388068601'))), caps()), 422, /a=ssrc/);
  });
  test('nothing sent to us → 422', () => {
    refused(() => translateOffer(obs.replaceAll('a=sendonly', 'a=recvonly'), caps()), 422, /sends no audio or video/);
  });
  test('two video tracks → 422', () => {
    const two = `${obs.replace('BUNDLE 0 1', 'BUNDLE 0 1 2')}${obs.slice(obs.indexOf('m=video')).replace('a=mid:1', 'a=mid:2')}`;
    refused(() => translateOffer(two, caps()), 422, /at most one video/);
  });
  test('larger than the limit → 413', () => {
    refused(() => translateOffer(chromium + `a=x:${'y'.repeat(40_000)}\r\n`, caps()), 413, /at most 32768/);
  });
  test('thousands of m= sections → 422, before parsing', () => {
    const many = `v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n${'m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n'.repeat(3000)}`;
    refused(() => translateOffer(many, caps(), { ...defaultOfferLimits, maxBytes: 1 << 20 }), 422, /more than 8 m= sections/);
  });
  test('not SDP → 400', () => {
    refused(() => translateOffer('{"sdp": "v=0"}', caps()), 400, /v=0/);
    refused(() => translateOffer('v=0\r\nthis is not sdp\r\n', caps()), 400, /line 2/);
    refused(() => translateOffer('v=0\r\ns=-\r\n', caps()), 400, /no m= section/);
    refused(() => translateOffer('', caps()), 400, /SDP offer/);
  });
});

test('H.264 profiles are classified as WebRTC does', () => {
  assert.equal(h264Profile('42e01f'), 'constrained-baseline');
  assert.equal(h264Profile('42001f'), 'baseline');
  assert.equal(h264Profile('4d001f'), 'main');
  assert.equal(h264Profile('640c1f'), 'constrained-high');
  assert.equal(h264Profile('640032'), 'high');
  assert.equal(h264Profile(undefined), 'constrained-baseline');
  assert.equal(h264Profile('zz'), undefined);
});

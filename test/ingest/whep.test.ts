// WHEP's pure parts: a viewer's offer translated (the viewer's payload types kept),
// viewer tokens, and the transcoder's plan with the RTP copy of the program.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../common/index.ts';
import { signWhepToken, verifyWhepToken } from '../../ingest/index.ts';
import { translateWhepOffer } from '../../ingest/whep/index.ts';
import { defaultOfferLimits } from '../../ingest/webrtcHttp/offer.ts';

const FP = Array.from({ length: 32 }, (_, i) => (i * 7 % 256).toString(16).padStart(2, '0').toUpperCase()).join(':');
/** A Chromium-shaped receive-only offer: H.264 at payload type 106, Opus at 109, VP8 first. */
const chromiumOffer = [
  'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1', 'a=extmap-allow-mixed', 'a=msid-semantic: WMS',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 106 107', 'c=IN IP4 0.0.0.0', 'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx', `a=fingerprint:sha-256 ${FP}`,
  'a=setup:actpass', 'a=mid:0', 'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid', 'a=recvonly', 'a=rtcp-mux', 'a=rtcp-rsize',
  'a=rtpmap:96 VP8/90000', 'a=rtpmap:106 H264/90000', 'a=rtcp-fb:106 nack', 'a=rtcp-fb:106 nack pli', 'a=rtcp-fb:106 goog-remb',
  'a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f', 'a=rtpmap:107 rtx/90000', 'a=fmtp:107 apt=106',
  'm=audio 9 UDP/TLS/RTP/SAVPF 109', 'c=IN IP4 0.0.0.0', 'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx', `a=fingerprint:sha-256 ${FP}`,
  'a=setup:actpass', 'a=mid:1', 'a=recvonly', 'a=rtcp-mux', 'a=rtpmap:109 opus/48000/2', 'a=fmtp:109 minptime=10;useinbandfec=1',
  '',
].join('\r\n');

test('a receive-only offer: H.264 and Opus chosen under the viewer\'s payload types, its feedback kept', () => {
  const offer = translateWhepOffer(chromiumOffer, defaultOfferLimits);
  assert.equal(offer.bundleTag, '0');
  assert.equal(offer.iceUfrag, 'abcd');
  const [video, audio] = offer.media;
  assert.ok(video?.accepted && audio?.accepted);
  assert.equal(video.codec.mimeType, 'video/H264');
  assert.equal(video.codec.payloadType, 106);
  assert.deepEqual(video.codec.rtcpFeedback, [{ type: 'nack', parameter: '' }, { type: 'nack', parameter: 'pli' }, { type: 'goog-remb', parameter: '' }]);
  assert.deepEqual(video.headerExtensions, [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4 }]);
  assert.equal(audio.codec.mimeType, 'audio/opus');
  assert.equal(audio.codec.payloadType, 109);
  assert.equal(audio.codec.channels, 2);
});

test('bad WHEP offers are refused with the reason', () => {
  const refuses = (sdp: string, status: number, message: RegExp) =>
    assert.throws(() => translateWhepOffer(sdp, defaultOfferLimits), (e: unknown) => e instanceof InputError && e.status === status && message.test(e.message));
  refuses(chromiumOffer.replaceAll('a=recvonly', 'a=sendonly'), 422, /receives no audio or video/);
  refuses(chromiumOffer.replace(/a=rtpmap:106 H264[^]*?a=fmtp:107 apt=106\r\n/, '').replace('96 106 107', '96').replace(/m=audio[^]*$/, ''), 422, /no usable codec/);
  refuses(chromiumOffer.replaceAll('a=setup:actpass', 'a=setup:passive'), 422, /DTLS client/);
  refuses('v=0\r\nbogus', 400, /letter/);
  refuses(chromiumOffer + 'a='.padEnd(40 * 1024, 'x'), 413, /bytes/);
});

test('viewer tokens: signed per stage, expiring, not a host token', () => {
  const secret = 'a-secret-of-sixteen-plus';
  const now = 1_800_000_000;
  const token = signWhepToken({ stageId: 'stage-1', exp: now + 60 }, secret);
  assert.deepEqual(verifyWhepToken(token, secret, { stageId: 'stage-1', nowSeconds: now }), { stageId: 'stage-1', exp: now + 60 });
  const code = (t: unknown, stageId = 'stage-1', at = now) => {
    try {
      verifyWhepToken(t, secret, { stageId, nowSeconds: at });
      return 'accepted';
    } catch (e) {
      return `${(e as InputError).status} ${(e as InputError).code}`;
    }
  };
  assert.equal(code(undefined), '401 unauthorized');
  assert.equal(code(token, 'stage-1', now + 60), '401 token-expired');
  assert.equal(code(token, 'stage-2'), '403 forbidden');
  assert.equal(code(signWhepToken({ stageId: 'stage-1', exp: now + 60 }, 'another-secret-sixteen')), '401 unauthorized');
  assert.equal(code(token.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))), '401 unauthorized');
});

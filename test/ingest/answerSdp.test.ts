// The SDP answer writer, checked against answers the hand-written writer gave
// (before it moved to sdp-transform) for fixed inputs that use every line it
// writes: WHIP (receive, simulcast, RTX, rejected sections with and without a
// mid, the tagged section not first) and WHEP (send: SSRC, RTX SSRC, MSID).
// The new answer must say the same thing: the same lines in each section, and
// the same session description once parsed (RFC 9725, RFC 8843); only the order
// of a= lines within the session part and within a section differs (RFC 8866
// §5 fixes the order of line types, not of attributes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, write } from 'sdp-transform';
import { writeAnswer, type AnswerSection, type AnswerTransport } from '../../ingest/webrtcHttp/answer.ts';
import { buildAnswer, type WhipOffer } from '../../ingest/whip/index.ts';

const transport: AnswerTransport = {
  iceParameters: { usernameFragment: 'srvufrag0123456789abcdef01234567', password: 'srvpassword0123456789abcdef012345', iceLite: true },
  iceCandidates: [
    { foundation: 'udpcandidate', priority: 1076302079, ip: '198.51.100.7', address: '198.51.100.7', protocol: 'udp', port: 40001, type: 'host' },
    { foundation: 'tcpcandidate', priority: 1076276479, ip: '198.51.100.7', address: '198.51.100.7', protocol: 'tcp', port: 40002, type: 'host', tcpType: 'passive' },
    // No address (only the deprecated ip) and no tcpType: the writer falls back to ip and passive.
    { foundation: 'tcpnotype', priority: 1076276478, ip: '203.0.113.9', address: '', protocol: 'tcp', port: 40003, type: 'host' },
  ],
  dtlsParameters: {
    role: 'auto',
    fingerprints: [
      { algorithm: 'sha-1', value: '30:4B:76:5A:FD:84:8F:06:CF:72:3A:B0:CB:83:80:27:FB:66:08:05' },
      { algorithm: 'sha-256', value: '7C:F2:8C:4C:2C:37:A8:A4:D4:99:B9:59:6B:B8:44:A0:41:23:FA:F0:EF:22:1B:DF:D1:09:69:B7:83:BB:46:C9' },
    ],
  },
};

/** A WHIP offer as translateOffer gives it: audio, simulcast VP8 with RTX (the tagged section), a data and a mid-less section rejected. */
const whipOffer: WhipOffer = {
  iceUfrag: 'cliufrag',
  icePwd: 'clipassword0123456789abcdef',
  fingerprints: [{ algorithm: 'sha-256', value: transport.dtlsParameters.fingerprints[1]!.value }],
  extmapAllowMixed: true,
  bundleTag: 'v1',
  media: [
    {
      accepted: true,
      mid: 'a0',
      kind: 'audio',
      protocol: 'UDP/TLS/RTP/SAVPF',
      bundleOnly: false,
      rtpParameters: {
        mid: 'a0',
        codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 }, rtcpFeedback: [{ type: 'transport-cc', parameter: '' }] }],
        headerExtensions: [
          { uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', id: 1, encrypt: false, parameters: {} },
          { uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4, encrypt: false, parameters: {} },
        ],
        encodings: [{ ssrc: 1511818692 }],
        rtcp: { cname: 'efYXIYTbzCBRXt1y', reducedSize: true },
      },
    },
    {
      accepted: true,
      mid: 'v1',
      kind: 'video',
      protocol: 'UDP/TLS/RTP/SAVPF',
      bundleOnly: true,
      rtpParameters: {
        mid: 'v1',
        codecs: [
          {
            mimeType: 'video/VP8',
            payloadType: 96,
            clockRate: 90000,
            parameters: {},
            rtcpFeedback: [
              { type: 'goog-remb', parameter: '' },
              { type: 'ccm', parameter: 'fir' },
              { type: 'nack' },
              { type: 'nack', parameter: 'pli' },
            ],
          },
          { mimeType: 'video/rtx', payloadType: 97, clockRate: 90000, parameters: { apt: 96 }, rtcpFeedback: [] },
        ],
        headerExtensions: [
          { uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4, encrypt: false, parameters: {} },
          { uri: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id', id: 10, encrypt: false, parameters: {} },
        ],
        encodings: [{ rid: 'lo' }, { rid: 'mid' }, { rid: 'hi' }],
        rtcp: { reducedSize: false },
      },
      simulcast: { rids: ['hi', 'mid', 'lo'] },
    },
    { accepted: false, mid: 'd2', type: 'application', protocol: 'UDP/DTLS/SCTP', formats: 'webrtc-datachannel', reason: 'application is not taken' },
    { accepted: false, mid: undefined, type: 'video', protocol: 'UDP/TLS/RTP/SAVPF', formats: '', reason: 'rejected by the offer (port 0)' },
  ],
};

/** A WHEP answer's sections as WhepSessions builds them: what the server sends, with SSRCs and MSID. */
const whepSections: AnswerSection[] = [
  {
    accepted: true,
    kind: 'video',
    mid: '0',
    protocol: 'UDP/TLS/RTP/SAVPF',
    direction: 'sendonly',
    rtpParameters: {
      codecs: [
        {
          mimeType: 'video/H264',
          payloadType: 106,
          clockRate: 90000,
          parameters: { 'level-asymmetry-allowed': 1, 'packetization-mode': 1, 'profile-level-id': '42e01f' },
          rtcpFeedback: [
            { type: 'nack', parameter: '' },
            { type: 'nack', parameter: 'pli' },
            { type: 'goog-remb', parameter: '' },
          ],
        },
        { mimeType: 'video/rtx', payloadType: 107, clockRate: 90000, parameters: { apt: 106 }, rtcpFeedback: [] },
      ],
      headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4, encrypt: false, parameters: {} }],
      encodings: [{ ssrc: 22222222, rtx: { ssrc: 33333333 } }],
      rtcp: { cname: 'stagecast', reducedSize: true },
    },
    send: { ssrc: 22222222, rtxSsrc: 33333333, cname: 'stagecast', streamId: 'stagecast-program', trackId: 'video-stage-1' },
  },
  {
    accepted: true,
    kind: 'audio',
    mid: '1',
    protocol: 'UDP/TLS/RTP/SAVPF',
    direction: 'sendonly',
    rtpParameters: {
      codecs: [{ mimeType: 'audio/opus', payloadType: 109, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 }, rtcpFeedback: [] }],
      headerExtensions: [],
      encodings: [{ ssrc: 11111111 }],
      rtcp: { cname: 'stagecast', reducedSize: false },
    },
    send: { ssrc: 11111111, cname: 'stagecast', streamId: 'stagecast-program', trackId: 'audio-stage-1' },
  },
  { accepted: false, mid: '2', type: 'audio', protocol: 'UDP/TLS/RTP/SAVPF', formats: '0 8' },
];

const whipAnswer = () => buildAnswer(whipOffer, transport, { sessionId: '4242' });
const whepAnswer = () => writeAnswer(whepSections, { bundleTag: '0', extmapAllowMixed: false }, transport, { sessionId: '281474976710655' });

/** SDP text from its lines. */
function sdp(lines: string[]): string {
  return `${lines.join('\r\n')}\r\n`;
}

// Written by the hand-written writer (commit 55cd9b6) for the inputs above: the reference.
const whipGolden = sdp([
  'v=0',
  'o=- 4242 1 IN IP4 0.0.0.0',
  's=-',
  't=0 0',
  'a=ice-lite',
  'a=group:BUNDLE v1 a0',
  'a=extmap-allow-mixed',
  'a=msid-semantic: WMS *',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:srvufrag0123456789abcdef01234567',
  'a=ice-pwd:srvpassword0123456789abcdef012345',
  'a=fingerprint:sha-256 7C:F2:8C:4C:2C:37:A8:A4:D4:99:B9:59:6B:B8:44:A0:41:23:FA:F0:EF:22:1B:DF:D1:09:69:B7:83:BB:46:C9',
  'a=setup:passive',
  'a=mid:a0',
  'a=recvonly',
  'a=rtcp-mux',
  'a=rtcp-rsize',
  'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=rtpmap:111 opus/48000/2',
  'a=rtcp-fb:111 transport-cc',
  'a=fmtp:111 minptime=10;useinbandfec=1',
  'a=candidate:udpcandidate 1 udp 1076302079 198.51.100.7 40001 typ host',
  'a=candidate:tcpcandidate 1 tcp 1076276479 198.51.100.7 40002 typ host tcptype passive',
  'a=candidate:tcpnotype 1 tcp 1076276478 203.0.113.9 40003 typ host tcptype passive',
  'a=end-of-candidates',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:srvufrag0123456789abcdef01234567',
  'a=ice-pwd:srvpassword0123456789abcdef012345',
  'a=fingerprint:sha-256 7C:F2:8C:4C:2C:37:A8:A4:D4:99:B9:59:6B:B8:44:A0:41:23:FA:F0:EF:22:1B:DF:D1:09:69:B7:83:BB:46:C9',
  'a=setup:passive',
  'a=mid:v1',
  'a=recvonly',
  'a=rtcp-mux',
  'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  'a=rtpmap:96 VP8/90000',
  'a=rtcp-fb:96 goog-remb',
  'a=rtcp-fb:96 ccm fir',
  'a=rtcp-fb:96 nack',
  'a=rtcp-fb:96 nack pli',
  'a=rtpmap:97 rtx/90000',
  'a=fmtp:97 apt=96',
  'a=rid:hi recv',
  'a=rid:mid recv',
  'a=rid:lo recv',
  'a=simulcast:recv hi;mid;lo',
  'a=candidate:udpcandidate 1 udp 1076302079 198.51.100.7 40001 typ host',
  'a=candidate:tcpcandidate 1 tcp 1076276479 198.51.100.7 40002 typ host tcptype passive',
  'a=candidate:tcpnotype 1 tcp 1076276478 203.0.113.9 40003 typ host tcptype passive',
  'a=end-of-candidates',
  'm=application 0 UDP/DTLS/SCTP webrtc-datachannel',
  'c=IN IP4 0.0.0.0',
  'a=mid:d2',
  'a=inactive',
  'm=video 0 UDP/TLS/RTP/SAVPF 0',
  'c=IN IP4 0.0.0.0',
  'a=inactive',
]);

const whepGolden = sdp([
  'v=0',
  'o=- 281474976710655 1 IN IP4 0.0.0.0',
  's=-',
  't=0 0',
  'a=ice-lite',
  'a=group:BUNDLE 0 1',
  'a=msid-semantic: WMS *',
  'm=video 9 UDP/TLS/RTP/SAVPF 106 107',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:srvufrag0123456789abcdef01234567',
  'a=ice-pwd:srvpassword0123456789abcdef012345',
  'a=fingerprint:sha-256 7C:F2:8C:4C:2C:37:A8:A4:D4:99:B9:59:6B:B8:44:A0:41:23:FA:F0:EF:22:1B:DF:D1:09:69:B7:83:BB:46:C9',
  'a=setup:passive',
  'a=mid:0',
  'a=sendonly',
  'a=rtcp-mux',
  'a=rtcp-rsize',
  'a=msid:stagecast-program video-stage-1',
  'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=rtpmap:106 H264/90000',
  'a=rtcp-fb:106 nack',
  'a=rtcp-fb:106 nack pli',
  'a=rtcp-fb:106 goog-remb',
  'a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  'a=rtpmap:107 rtx/90000',
  'a=fmtp:107 apt=106',
  'a=ssrc-group:FID 22222222 33333333',
  'a=ssrc:22222222 cname:stagecast',
  'a=ssrc:33333333 cname:stagecast',
  'a=candidate:udpcandidate 1 udp 1076302079 198.51.100.7 40001 typ host',
  'a=candidate:tcpcandidate 1 tcp 1076276479 198.51.100.7 40002 typ host tcptype passive',
  'a=candidate:tcpnotype 1 tcp 1076276478 203.0.113.9 40003 typ host tcptype passive',
  'a=end-of-candidates',
  'm=audio 9 UDP/TLS/RTP/SAVPF 109',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:srvufrag0123456789abcdef01234567',
  'a=ice-pwd:srvpassword0123456789abcdef012345',
  'a=fingerprint:sha-256 7C:F2:8C:4C:2C:37:A8:A4:D4:99:B9:59:6B:B8:44:A0:41:23:FA:F0:EF:22:1B:DF:D1:09:69:B7:83:BB:46:C9',
  'a=setup:passive',
  'a=mid:1',
  'a=sendonly',
  'a=rtcp-mux',
  'a=msid:stagecast-program audio-stage-1',
  'a=rtpmap:109 opus/48000/2',
  'a=fmtp:109 minptime=10;useinbandfec=1',
  'a=ssrc:11111111 cname:stagecast',
  'a=candidate:udpcandidate 1 udp 1076302079 198.51.100.7 40001 typ host',
  'a=candidate:tcpcandidate 1 tcp 1076276479 198.51.100.7 40002 typ host tcptype passive',
  'a=candidate:tcpnotype 1 tcp 1076276478 203.0.113.9 40003 typ host tcptype passive',
  'a=end-of-candidates',
  'm=audio 0 UDP/TLS/RTP/SAVPF 0 8',
  'c=IN IP4 0.0.0.0',
  'a=mid:2',
  'a=inactive',
]);

/** The session part and each media section, as their sorted lines: what is said, whatever the order. */
function linesBySection(text: string): string[][] {
  const sections: string[][] = [[]];
  for (const line of text.trimEnd().split('\r\n')) {
    if (line.startsWith('m=')) sections.push([]);
    sections.at(-1)!.push(line);
  }
  return sections.map((s) => [s[0]!, ...s.slice(1).sort()]);
}

for (const [name, answer, golden] of [
  ['WHIP', whipAnswer, whipGolden],
  ['WHEP', whepAnswer, whepGolden],
] as const) {
  test(`a ${name} answer has the reference answer's lines in each section, and only those`, () => {
    assert.deepEqual(linesBySection(answer()), linesBySection(golden));
  });

  test(`a ${name} answer parses to the same session description as the reference answer`, () => {
    const parsed = parse(answer());
    assert.deepEqual(parsed, parse(golden));
    assert.equal(parsed.invalid, undefined, 'every line is one sdp-transform knows');
    for (const m of parsed.media) assert.equal(m.invalid, undefined, `every line of m=${m.type} (mid ${m.mid}) is one sdp-transform knows`);
  });

  test(`a ${name} answer is the reference answer as sdp-transform writes it (its attribute order, byte for byte)`, () => {
    assert.equal(answer(), write(parse(golden)));
  });
}

// Property-based fuzzing of the WHIP offer translator: arbitrary text and
// mutated real offers (Chromium, OBS, GStreamer's bundle-only form) either
// translate or are refused with our InputError (a 4xx); nothing else is ever
// thrown, and every run finishes quickly.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import { InputError } from '../../common/index.ts';
import { stageMediaCodecs } from '../../ingest/index.ts';
import { buildAnswer, translateOffer } from '../../ingest/whip/index.ts';

const offers = ['chromium-offer.sdp', 'obs-offer.sdp', 'gstreamer-offer.sdp'].map((n) => readFileSync(new URL(`./golden/whip/${n}`, import.meta.url), 'utf8'));

let worker: ms.Worker;
let caps: ms.RtpCapabilities;
before(async () => {
  worker = await mediasoup.createWorker({ logLevel: 'none' });
  caps = (await worker.createRouter({ mediaCodecs: stageMediaCodecs })).rtpCapabilities;
});
after(() => worker?.close());

const transport = {
  iceParameters: { usernameFragment: 'u'.repeat(16), password: 'p'.repeat(32), iceLite: true },
  iceCandidates: [{ foundation: 'f', priority: 1, ip: '127.0.0.1', address: '127.0.0.1', protocol: 'udp' as const, port: 40000, type: 'host' as const }],
  dtlsParameters: { role: 'auto' as const, fingerprints: [{ algorithm: 'sha-256' as const, value: 'AA:BB' }] },
};

/** Translates (and answers, when it translates); returns the slowest run's time. */
function check(sdp: string): number {
  const t0 = performance.now();
  try {
    const offer = translateOffer(sdp, caps);
    assert.equal(typeof buildAnswer(offer, transport, { sessionId: '1' }), 'string');
  } catch (err) {
    if (!(err instanceof InputError)) throw new Error(`threw ${String(err)} for ${JSON.stringify(sdp.slice(0, 200))}`);
    assert.ok(err.status >= 400 && err.status < 500, `status ${err.status}`);
    assert.ok(err.message.length > 0);
  }
  return performance.now() - t0;
}

/** A mutation of an SDP's lines: drop, duplicate, swap, or rewrite a line's value. */
const mutation = fc.oneof(
  fc.record({ op: fc.constant('drop' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('dup' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('swap' as const), at: fc.nat(), to: fc.nat() }),
  fc.record({ op: fc.constant('value' as const), at: fc.nat(), text: fc.string({ maxLength: 40 }) }),
  fc.record({ op: fc.constant('number' as const), at: fc.nat(), n: fc.oneof(fc.integer(), fc.constantFrom(-1, 0, 128, 256, 2 ** 32, Number.MAX_SAFE_INTEGER)) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), line: fc.constantFrom(
    'a=simulcast:send a;b', 'a=rid:a send', 'a=ssrc-group:SIM 1 2', 'a=setup:passive', 'a=rtcp-fb:* nack', 'a=fmtp:96 apt=96', 'a=extmap:0 urn:x', 'a=extmap:300 urn:ietf:params:rtp-hdrext:sdes:mid',
    'a=rtpmap:96 rtx/90000', 'm=video 0 UDP/TLS/RTP/SAVPF 96', 'a=bundle-only', 'a=mid:0', 'a=group:BUNDLE', 'a=fingerprint:md5 00', 'a=ssrc:0 cname:x', 'a=ice-ufrag:', 'c=IN IP4 ::', 'a=direction', 'a=rtpmap:96 H264/90000/2',
  ) }),
);

function mutate(sdp: string, ops: { op: string; at: number; to?: number; text?: string; n?: number; line?: string }[]): string {
  const lines = sdp.trimEnd().split('\r\n');
  for (const m of ops) {
    const i = m.at % lines.length;
    if (m.op === 'drop' && lines.length > 1) lines.splice(i, 1);
    else if (m.op === 'dup') lines.splice(i, 0, lines[i]!);
    else if (m.op === 'swap') [lines[i], lines[m.to! % lines.length]] = [lines[m.to! % lines.length]!, lines[i]!];
    else if (m.op === 'value') lines[i] = lines[i]!.replace(/[:= ][^:= ]*$/, (s) => s[0] + m.text!);
    else if (m.op === 'number') lines[i] = lines[i]!.replace(/\d+/, String(m.n));
    else if (m.op === 'insert') lines.splice(i, 0, m.line!);
  }
  return `${lines.join('\r\n')}\r\n`;
}

test('arbitrary text is refused with an InputError, never anything else, each in well under a second', () => {
  let slowest = 0;
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 2000 }), fc.string({ unit: 'binary', maxLength: 2000 }), fc.string().map((s) => `v=0\r\n${s}`)), (text) => {
      slowest = Math.max(slowest, check(text));
    }),
    { numRuns: 300, seed: 0x5eed },
  );
  assert.ok(slowest < 1000, `slowest run ${slowest.toFixed(1)} ms`);
});

test('mutated Chromium, OBS and GStreamer offers translate or are refused with an InputError, each in well under a second', () => {
  let slowest = 0;
  let translated = 0;
  fc.assert(
    fc.property(fc.constantFrom(...offers), fc.array(mutation, { minLength: 1, maxLength: 6 }), (sdp, ops) => {
      const mutated = mutate(sdp, ops);
      slowest = Math.max(slowest, check(mutated));
      try {
        translateOffer(mutated, caps);
        translated++;
      } catch {
        // counted above
      }
    }),
    { numRuns: 400, seed: 0xc0ffee },
  );
  assert.ok(slowest < 1000, `slowest run ${slowest.toFixed(1)} ms`);
  // The mutations are small: many offers still translate, so the accepting paths are fuzzed too.
  assert.ok(translated > 40, `${translated} of 400 mutated offers translated`);
});

// Property-based fuzzing of the host signalling messages: the parser alone
// (arbitrary JSON, mutated valid requests, arbitrary bytes) and a real
// signalling server over WebSocket, which must answer each bad message with an
// error reply and stay up for a well-behaved connection.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { RunningApp } from '../../app/server.ts';
import { InputError } from '../../common/index.ts';
import { parseRequest, requestSchema } from '../../ingest/index.ts';
import { requestIdOf } from '../../ingest/signalling/messages.ts';
import { api, startTestApp } from '../helpers/app.ts';
import { SignalClient } from '../helpers/signalClient.ts';

const MAX = 64 * 1024;

const validRequests = [
  { id: '1', method: 'join', data: { stageId: 'main', token: 'abc.def' } },
  { id: '2', method: 'createTransport' },
  { id: '3', method: 'connectTransport', data: { transportId: 't1', dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AB:CD' }] } } },
  {
    id: '4',
    method: 'produce',
    data: {
      transportId: 't1',
      kind: 'video',
      rtpParameters: { mid: '0', codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }], encodings: [{ ssrc: 1 }] },
      source: { width: 640, height: 360 },
    },
  },
  { id: '5', method: 'closeProducer', data: { producerId: 'p' } },
  { id: '6', method: 'getStats' },
  { id: '7', method: 'leave' },
];

/** Parses; returns the request or the InputError; anything else fails the property. */
function parse(raw: string | Buffer): { ok: boolean; code?: string } {
  try {
    const r = parseRequest(raw, MAX);
    // Whatever is accepted really satisfies the schema.
    assert.equal(requestSchema.safeParse(r).success, true);
    return { ok: true };
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    assert.ok(err.status === 400 || err.status === 413, `status ${err.status}`);
    return { ok: false, code: err.code };
  } finally {
    // The id reader used for error replies never throws either.
    const id = requestIdOf(raw);
    assert.ok(id === null || (typeof id === 'string' && id.length <= 128));
  }
}

/** Replaces the value at a random path of a JSON value with another arbitrary value. */
function mutateAt(value: unknown, path: number[], replacement: unknown): unknown {
  if (path.length === 0 || value === null || typeof value !== 'object') return replacement;
  const keys = Object.keys(value);
  if (keys.length === 0) return replacement;
  const key = keys[path[0]! % keys.length]!;
  const copy: Record<string, unknown> = Array.isArray(value) ? ([...value] as unknown as Record<string, unknown>) : { ...(value as Record<string, unknown>) };
  copy[key] = mutateAt((value as Record<string, unknown>)[key], path.slice(1), replacement);
  return copy;
}

test('the parser: valid requests pass; anything else is an InputError with a code', () => {
  for (const r of validRequests) assert.deepEqual(parse(JSON.stringify(r)), { ok: true }, r.method);
  const replacement = fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.constantFrom(-1, 1e308, -0, 2 ** 53, '', 'x'.repeat(5000), [], {}, null, true, '__proto__', { __proto__: { polluted: 1 } }),
  );
  fc.assert(
    fc.property(fc.constantFrom(...validRequests), fc.array(fc.nat(), { maxLength: 5 }), replacement, (req, path, rep) => {
      parse(JSON.stringify(mutateAt(req, path, rep)));
      assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
    }),
    { numRuns: 2000, interruptAfterTimeLimit: 30_000 },
  );
  fc.assert(
    fc.property(fc.oneof(fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'), fc.string({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a))), (raw) => {
      parse(raw);
    }),
    { numRuns: 2000, interruptAfterTimeLimit: 30_000 },
  );
});

test('the parser: size is checked before parsing (deeply nested or huge input is refused as too large)', () => {
  const nested = `${'['.repeat(MAX)}${']'.repeat(MAX)}`;
  assert.deepEqual(parse(nested), { ok: false, code: 'message-too-large' });
  const deepButSmall = `${'['.repeat(5000)}${']'.repeat(5000)}`;
  assert.equal(parse(deepButSmall).ok, false);
});

let app: RunningApp;
before(async () => {
  // A generous rate limit: this test is about content, badInput.test.ts about floods.
  app = await startTestApp({ ingest: { hostTokenSecret: 'test-host-token-secret-0123456789', signalling: { ratePerSecond: 10_000, rateBurst: 10_000 } } });
});
after(async () => {
  await app?.close();
});

test('a real signalling server answers every fuzzed message with an error reply and keeps serving', async () => {
  const created = await api<{ hostToken: string }>(app, 'POST', '/stages', { id: 'fuzzstage' });
  const ws = `${app.url.replace('http', 'ws')}/host/ws`;
  const good = await SignalClient.connect(ws);
  assert.equal((await good.request('join', { stageId: 'fuzzstage', token: created.body.hostToken })).ok, true);
  // The fuzzing connection has joined too, so its post-join methods are reached.
  const fuzz = await SignalClient.connect(ws);
  assert.equal((await fuzz.request('join', { stageId: 'fuzzstage', token: created.body.hostToken })).ok, true);
  const messages = fc.sample(
    fc.oneof(
      fc.tuple(fc.constantFrom(...validRequests.filter((r) => r.method !== 'leave' && r.method !== 'join')), fc.array(fc.nat(), { maxLength: 4 }), fc.jsonValue({ maxDepth: 2 })).map(([r, p, v]) =>
        JSON.stringify(mutateAt(r, p, v)),
      ),
      fc.string({ maxLength: 200 }),
    ),
    { numRuns: 300, seed: 7 },
  );
  let sent = 0;
  for (const m of messages) {
    // Each gets a reply with an id we can match: send it tagged when it is an object with our id.
    fuzz.sendRaw(m);
    sent++;
  }
  // Every message is answered (ok or error) and the connection is still open.
  await fuzz.reply(() => fuzz.messages.length >= sent + 1, 20_000);
  assert.equal(fuzz.closed, undefined, 'the fuzzed connection stays open');
  const internal = fuzz.messages.filter((m) => m.error?.code === 'internal');
  assert.deepEqual(internal, [], 'no fuzzed message caused an internal error');
  // The other host is unaffected.
  assert.equal((await good.request('getStats')).ok, true);
  assert.equal((await fuzz.request('getStats')).ok, true);
  good.close();
  fuzz.close();
});

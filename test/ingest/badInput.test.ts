import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CloseCode } from '../../ingest/index.ts';
import type { RunningApp } from '../../app/server.ts';
import { TEST_ADMIN_TOKEN, startTestApp } from '../helpers/app.ts';
import { SignalClient } from '../helpers/signalClient.ts';

let app: RunningApp;
let wsUrl: string;
const clients: SignalClient[] = [];

before(async () => {
  app = await startTestApp({ ingest: { hostTokenSecret: 'test-host-token-secret-0123456789', signalling: { ratePerSecond: 5, rateBurst: 10 } } });
  wsUrl = `${app.url.replace('http', 'ws')}/host/ws`;
});
after(async () => {
  for (const c of clients) c.close();
  await app.close();
});

async function client(): Promise<SignalClient> {
  const c = await SignalClient.connect(wsUrl);
  clients.push(c);
  return c;
}

/** A healthy host on a healthy stage, to show that others keep being served. */
async function healthyHost(stageId: string) {
  const c = await client();
  const joined = await c.request('join', { stageId, token: app.sfu.issueHostToken(stageId) });
  assert.equal(joined.ok, true);
  return c;
}

test('malformed and oversized signalling messages get error replies and the connection stays usable', async () => {
  const stage = await app.sfu.createStage('bad-messages');
  const c = await healthyHost(stage.id);
  c.sendRaw('{this is not json');
  assert.equal((await c.reply((m) => m.error?.code === 'malformed')).ok, false);
  c.sendRaw(JSON.stringify({ id: 'm1', method: 'explode', data: {} }));
  assert.equal((await c.reply((m) => m.id === 'm1')).error?.code, 'invalid-request');
  c.sendRaw(JSON.stringify({ id: 'm2', method: 'connectTransport', data: { transportId: 'nope', dtlsParameters: { fingerprints: [] } } }));
  assert.equal((await c.reply((m) => m.id === 'm2')).error?.code, 'invalid-request');
  c.sendRaw(JSON.stringify({ id: 'm3', method: 'connectTransport', data: { transportId: 'nope', dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: 'AA' }] } } }));
  assert.equal((await c.reply((m) => m.id === 'm3')).error?.code, 'not-found');
  c.sendRaw(JSON.stringify({ id: 'm4', method: 'leave', pad: 'x'.repeat(70 * 1024) }));
  assert.equal((await c.reply((m) => m.id === 'm4')).error?.code, 'message-too-large');
  // Still usable after all that.
  const t = await c.request('createTransport');
  assert.equal(t.ok, true);
  // Beyond the hard cap (4 × the limit) the socket is closed with 1009, and nothing else is affected.
  const c2 = await healthyHost(stage.id);
  c2.sendRaw('x'.repeat(300 * 1024));
  assert.equal((await c2.waitClosed()).code, 1009);
  assert.equal((await c.request('createTransport')).ok, true);
});

test('a bad or expired token, another stage\'s token and an unknown stage are refused and the socket closed', async () => {
  const stage = await app.sfu.createStage('auth');
  const other = await app.sfu.createStage('auth-other');
  const cases: [unknown, string, number, number][] = [
    ['garbage', stage.id, 401, CloseCode.unauthorized],
    [app.sfu.issueHostToken(stage.id, { ttlSeconds: -10 }), stage.id, 401, CloseCode.unauthorized],
    [app.sfu.issueHostToken(other.id), stage.id, 403, CloseCode.forbidden],
    [app.sfu.issueHostToken('no-such-stage'), 'no-such-stage', 404, CloseCode.notFound],
  ];
  for (const [token, stageId, , closeCode] of cases) {
    const c = await client();
    const reply = await c.request('join', { stageId, token });
    assert.equal(reply.ok, false);
    assert.ok(reply.error?.message, 'the error says what is wrong');
    assert.equal((await c.waitClosed()).code, closeCode);
  }
  // Requests before join are refused too.
  const c = await client();
  assert.equal((await c.request('createTransport')).error?.code, 'not-joined');
  // The stage still serves a proper host.
  await healthyHost(stage.id);
  assert.equal(stage.hostCount, 1);
});

test('an unsupported codec is refused with a clear error; a video producer for an audio-only host is forbidden', async () => {
  const stage = await app.sfu.createStage('codecs');
  const c = await healthyHost(stage.id);
  const t = await c.request('createTransport');
  const transportId = (t.data as { id: string }).id;
  const vp9 = await c.request('produce', {
    transportId,
    kind: 'video',
    rtpParameters: { codecs: [{ mimeType: 'video/VP9', payloadType: 98, clockRate: 90000 }], encodings: [{ ssrc: 1 }] },
  });
  assert.equal(vp9.error?.code, 'unsupported-codec');
  assert.match(vp9.error!.message, /video\/vp8/i);
  const g711 = await c.request('produce', {
    transportId,
    kind: 'audio',
    rtpParameters: { codecs: [{ mimeType: 'audio/PCMU', payloadType: 0, clockRate: 8000 }], encodings: [{ ssrc: 2 }] },
  });
  assert.equal(g711.error?.code, 'unsupported-codec');

  const audioOnly = await client();
  await audioOnly.request('join', { stageId: stage.id, token: app.sfu.issueHostToken(stage.id, { role: 'host-audio' }) });
  const t2 = await audioOnly.request('createTransport');
  const denied = await audioOnly.request('produce', {
    transportId: (t2.data as { id: string }).id,
    kind: 'video',
    rtpParameters: { codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }], encodings: [{ ssrc: 3 }] },
  });
  assert.equal(denied.error?.code, 'forbidden');
});

test('a flood of messages is rate-limited per connection, then closed; other connections are unaffected', async () => {
  const stage = await app.sfu.createStage('flood');
  const calm = await healthyHost(stage.id);
  const flood = await healthyHost(stage.id);
  for (let i = 0; i < 200; i++) flood.sendRaw(JSON.stringify({ id: `f${i}`, method: 'getStats' }));
  assert.equal((await flood.reply((m) => m.error?.code === 'rate-limited')).ok, false);
  assert.equal((await flood.waitClosed()).code, CloseCode.rateLimited);
  assert.equal((await calm.request('getStats')).ok, true);
});

test('a connection that never joins is closed after the join timeout', async () => {
  const short = await startTestApp({ ingest: { hostTokenSecret: 'test-host-token-secret-0123456789', signalling: { joinTimeoutMs: 200 } } });
  try {
    const c = await SignalClient.connect(`${short.url.replace('http', 'ws')}/host/ws`);
    assert.equal((await c.waitClosed()).code, CloseCode.joinTimeout);
  } finally {
    await short.close();
  }
});

test('the control API needs the admin token, validates input and creates stages with host links', async () => {
  const api = (path: string, init: RequestInit = {}, token = TEST_ADMIN_TOKEN) =>
    fetch(`${app.url}/api${path}`, { ...init, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...init.headers } });
  assert.equal((await api('/stages', {}, 'wrong-token-wrong-token')).status, 401);
  assert.equal((await api('/stages', { method: 'POST', body: '{"id": "bad id!"}' })).status, 400);
  assert.equal((await api('/stages', { method: 'POST', body: '{not json' })).status, 400);
  const created = await api('/stages', { method: 'POST', body: JSON.stringify({ id: 'api-stage', hostName: 'Ada' }) });
  assert.equal(created.status, 201);
  const body = (await created.json()) as { id: string; hostToken: string; hostUrl: string };
  assert.equal(body.id, 'api-stage');
  assert.ok(body.hostUrl.startsWith(`${app.url}/host/?stage=api-stage#token=`));
  assert.equal((await api('/stages', { method: 'POST', body: JSON.stringify({ id: 'api-stage' }) })).status, 409);
  const c = await client();
  assert.equal((await c.request('join', { stageId: 'api-stage', token: body.hostToken })).ok, true);
  assert.equal(((await (await api('/stages/api-stage')).json()) as { hosts: number }).hosts, 1);
  assert.equal((await api('/stages/api-stage', { method: 'DELETE' })).status, 204);
  const note = await c.reply((m) => m.notification === 'stageClosed');
  assert.deepEqual(note.data, { reason: 'closed' });
  assert.equal((await c.waitClosed()).code, CloseCode.stageClosed);
  assert.equal((await api('/stages/api-stage')).status, 404);
});

// Control API limits: requests per client address (429 + Retry-After, before
// the token check) and the JSON body size. (Signalling's per-connection rate and
// message size limits are tested in test/ingest/badInput.test.ts.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { RunningApp } from '../../app/server.ts';
import { TEST_ADMIN_TOKEN, startTestApp } from '../helpers/app.ts';

let app: RunningApp;

before(async () => {
  app = await startTestApp({ api: { rateLimit: { perSecond: 2, burst: 5 } } });
});
after(async () => {
  await app?.close();
});

/** One request from a chosen loopback source address (each is a different client to the server). */
function request(
  from: string,
  method: string,
  path: string,
  opts: { token?: string; body?: string } = {},
): Promise<{ status: number; retryAfter: string | undefined; body: string }> {
  const { hostname, port } = new URL(app.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: hostname,
        port,
        path,
        method,
        localAddress: from,
        agent: false,
        headers: {
          'content-type': 'application/json',
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          ...(opts.body !== undefined ? { 'content-length': Buffer.byteLength(opts.body) } : {}),
        },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

test('a client over its budget gets 429 with Retry-After; another client is unaffected; the budget refills', async () => {
  const statuses: number[] = [];
  let limited: { retryAfter: string | undefined; body: string } | undefined;
  const t0 = performance.now();
  for (let i = 0; i < 12; i++) {
    const r = await request('127.0.0.2', 'GET', '/api/stages', { token: TEST_ADMIN_TOKEN });
    statuses.push(r.status);
    if (r.status === 429) limited ??= r;
  }
  // The burst is 5 and 2/s refill: the first 5 pass, and of the rest only those a refill allows.
  assert.deepEqual(statuses.slice(0, 5), [200, 200, 200, 200, 200]);
  const elapsed = (performance.now() - t0) / 1000;
  const passed = statuses.filter((s) => s === 200).length;
  // Bounded by what the clock allowed, not by wall time: a slow machine just refills more.
  assert.ok(passed <= 5 + Math.floor(elapsed * 2) + 1, `at most the burst plus what refilled in ${elapsed.toFixed(2)} s passed: ${statuses.join(',')}`);
  assert.ok(statuses.includes(429));
  assert.equal(limited?.retryAfter, '1');
  assert.equal((JSON.parse(limited!.body) as { error: { code: string } }).error.code, 'rate-limited');

  // Another address has its own budget.
  assert.equal((await request('127.0.0.3', 'GET', '/api/stages', { token: TEST_ADMIN_TOKEN })).status, 200);

  // After Retry-After, the first client may go on.
  await new Promise((resolve) => setTimeout(resolve, Number(limited!.retryAfter) * 1000 + 100));
  assert.equal((await request('127.0.0.2', 'GET', '/api/stages', { token: TEST_ADMIN_TOKEN })).status, 200);
});

test('guessing the admin token is rate-limited too (the limit comes before the token check)', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 10; i++) statuses.push((await request('127.0.0.4', 'GET', '/api/stages', { token: `wrong-token-${i}-0123456789` })).status);
  assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
  assert.ok(statuses.slice(5).filter((s) => s === 429).length >= 3, statuses.join(','));
});

test('a JSON body over 16 KiB is 413 with a clear error; the next request is fine', async () => {
  const big = JSON.stringify({ hostName: 'x'.repeat(20_000) });
  const r = await request('127.0.0.5', 'POST', '/api/stages', { token: TEST_ADMIN_TOKEN, body: big });
  assert.equal(r.status, 413);
  assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'invalid-request');
  const ok = await request('127.0.0.5', 'POST', '/api/stages', { token: TEST_ADMIN_TOKEN, body: JSON.stringify({ id: 'after-big' }) });
  assert.equal(ok.status, 201);
});

test('signalling: connections per client address are limited (429 on the upgrade); others connect, open ones are unaffected', async () => {
  const sig = await startTestApp({ ingest: { hostTokenSecret: 'test-host-token-secret-0123456789', signalling: { connectRatePerSecond: 0.2, connectBurst: 3 } } });
  const { default: WebSocket } = await import('ws');
  const url = `${sig.url.replace('http', 'ws')}/host/ws`;
  const open = (from: string) =>
    new Promise<{ ws?: InstanceType<typeof WebSocket>; status?: number }>((resolve, reject) => {
      const ws = new WebSocket(url, { localAddress: from });
      ws.once('open', () => resolve({ ws }));
      ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode }));
      ws.once('error', (err) => reject(err));
    });
  try {
    const first = [await open('127.0.0.7'), await open('127.0.0.7'), await open('127.0.0.7')];
    assert.ok(first.every((c) => c.ws), 'the burst connects');
    assert.equal((await open('127.0.0.7')).status, 429);
    const other = await open('127.0.0.8');
    assert.ok(other.ws, 'another address connects');
    // An open connection still answers.
    const reply = new Promise<string>((resolve) => first[0]!.ws!.once('message', (d) => resolve(d.toString())));
    first[0]!.ws!.send(JSON.stringify({ id: 'a', method: 'getStats' }));
    assert.match(await reply, /not-joined/);
    for (const c of [...first, other]) c.ws?.close();
  } finally {
    await sig.close();
  }
});

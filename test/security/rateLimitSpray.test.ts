// A spray of client addresses must not reset a limited client's budget, nor
// grow the limiter's memory: the control API (express, `trust proxy` so the
// address is X-Forwarded-For from loopback), WHIP, and the signalling
// WebSocket upgrade (real loopback source addresses, 127.0.0.0/8).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { RunningApp } from '../../app/server.ts';
import { rateLimitPerClient } from '../../app/rateLimit.ts';
import { TEST_ADMIN_TOKEN, startTestApp } from '../helpers/app.ts';

/** More addresses than any limiter here tracks (10,000 by default). */
const SPRAY = 10_200;
const KNOCK_EVERY = 500;

/** Runs `fn(i)` for i in [0, n), `concurrency` at a time; after each `every` calls, `between(done)`. */
async function sprayed(n: number, fn: (i: number) => Promise<void>, every: number, between: (done: number) => Promise<void>, concurrency = 64): Promise<void> {
  for (let start = 0; start < n; start += every) {
    const end = Math.min(n, start + every);
    let next = start;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < end) await fn(next++);
      }),
    );
    await between(end);
  }
}

/** A distinct IPv4 address per index, never the attacker's. */
const sprayAddress = (prefix: string, i: number) => `${prefix}.${Math.floor(i / 250) + 1}.${(i % 250) + 1}`;

describe('through the real app', () => {
  let app: RunningApp;
  before(async () => {
    app = await startTestApp({
      // Refill so slow that nothing refills during the test: a bucket only comes back by being forgotten.
      api: { rateLimit: { perSecond: 0.01, burst: 3 } },
      ingest: { hostTokenSecret: 'test-host-token-secret-0123456789', signalling: { connectRatePerSecond: 0.01, connectBurst: 2 }, whip: { ratePerSecond: 0.01, rateBurst: 2 } },
    });
  });
  after(async () => {
    await app?.close();
  });

  const fromAddress = async (path: string, address: string, init: RequestInit = {}) => {
    const res = await fetch(`${app.url}${path}`, { ...init, headers: { ...(init.headers as Record<string, string>), 'x-forwarded-for': address } });
    await res.arrayBuffer();
    return res.status;
  };

  test('control API: a client over its budget stays 429 while more than 10,000 other addresses make one request each', async () => {
    const attacker = '198.51.100.9';
    const auth = { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } };
    for (let i = 0; i < 3; i++) assert.equal(await fromAddress('/api/stages', attacker, auth), 200);
    assert.equal(await fromAddress('/api/stages', attacker, auth), 429);
    await sprayed(
      SPRAY,
      async (i) => assert.equal(await fromAddress('/api/stages', sprayAddress('10.1', i)), 401, 'each new address passes the limit (then has no token)'),
      KNOCK_EVERY,
      async (done) => assert.equal(await fromAddress('/api/stages', attacker, auth), 429, `still limited after ${done} other addresses`),
    );
  });

  test('WHIP: a client over its budget stays 429 while more than 10,000 other addresses make one request each', async () => {
    const attacker = '198.51.100.10';
    const post = { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' };
    for (let i = 0; i < 2; i++) assert.equal(await fromAddress('/whip/main', attacker, post), 415);
    assert.equal(await fromAddress('/whip/main', attacker, post), 429);
    await sprayed(
      SPRAY,
      async (i) => assert.equal(await fromAddress('/whip/main', sprayAddress('10.2', i), post), 415),
      KNOCK_EVERY,
      async (done) => assert.equal(await fromAddress('/whip/main', attacker, post), 429, `still limited after ${done} other addresses`),
    );
  });

  test('signalling upgrade: a client over its budget stays 429 while more than 10,000 other addresses connect once each', async () => {
    const { hostname, port } = new URL(app.url);
    const attacker = '127.0.0.9';
    assert.deepEqual([await upgrade(hostname, Number(port), attacker), await upgrade(hostname, Number(port), attacker)], [101, 101]);
    assert.equal(await upgrade(hostname, Number(port), attacker), 429);
    await sprayed(
      SPRAY,
      async (i) => assert.equal(await upgrade(hostname, Number(port), sprayAddress('127.1', i)), 101),
      KNOCK_EVERY,
      async (done) => assert.equal(await upgrade(hostname, Number(port), attacker), 429, `still limited after ${done} other addresses`),
    );
  });
});

/** One WebSocket upgrade of /host/ws from `from`; resolves with the response status, then drops the connection. */
function upgrade(host: string, port: number, from: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, localAddress: from });
    let head = '';
    socket.setEncoding('latin1');
    socket.once('connect', () =>
      socket.write(
        `GET /host/ws HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    );
    socket.on('data', (chunk: string) => {
      head += chunk;
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(head);
      if (m && head.includes('\r\n\r\n')) {
        resolve(Number(m[1]));
        socket.destroy();
      }
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`connection from ${from} closed before a response: ${JSON.stringify(head)}`)));
  });
}

describe('rateLimitPerClient (express middleware) with an injected clock', () => {
  let server: http.Server;
  let base: string;
  let t = 0;
  const maxClients = 100;
  before(async () => {
    const app = express();
    app.set('trust proxy', 'loopback');
    app.use(rateLimitPerClient({ perSecond: 1, burst: 2, maxClients, now: () => t }));
    app.get('/', (_req, res) => void res.status(204).end());
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const from = async (address: string) => {
    const res = await fetch(base, { headers: { 'x-forwarded-for': address } });
    await res.arrayBuffer();
    return { status: res.status, retryAfter: res.headers.get('retry-after') };
  };

  test('a limited client stays limited while more than maxClients other addresses make one request each; it refills on the clock', async () => {
    assert.equal((await from('198.51.100.1')).status, 204);
    assert.equal((await from('198.51.100.1')).status, 204);
    assert.deepEqual(await from('198.51.100.1'), { status: 429, retryAfter: '1' });
    for (let i = 0; i < 3 * maxClients; i++) {
      t += 1; // 300 ms over the whole spray: no bucket refills (2 s)
      assert.equal((await from(sprayAddress('10.3', i))).status, 204);
      if (i % 50 === 49) assert.equal((await from('198.51.100.1')).status, 429, `still limited after ${i + 1} other addresses`);
    }
    assert.equal((await from('198.51.100.1')).status, 429);
    t += 1000; // one token back at 1/s
    assert.equal((await from('198.51.100.1')).status, 204);
    assert.equal((await from('198.51.100.1')).status, 429);
  });
});

// The app's HTTP server keeps idle connections longer than players and CDNs
// keep theirs (packager/httpServer.ts): a connection idle past Node's default
// 5 s keep-alive is still open, and the next request reuses it rather than
// racing the server's close (ECONNRESET on a reused socket).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { RunningApp } from '../../app/server.ts';
import { startTestApp } from '../helpers/app.ts';

let app: RunningApp;
before(async () => {
  app = await startTestApp();
});
after(async () => {
  await app?.close();
});

function get(agent: http.Agent, path: string): Promise<{ status: number; reused: boolean; keepAlive: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${app.url}${path}`, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket, keepAlive: res.headers['keep-alive'] as string | undefined }));
    });
    req.on('error', reject);
  });
}

test('a connection idle for longer than 5 s is kept open and reused for the next request', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const first = await get(agent, '/healthz');
    assert.equal(first.status, 200);
    assert.equal(first.reused, false);
    assert.match(first.keepAlive ?? '', /timeout=75/);
    let closedByServer = false;
    const socket = (Object.values(agent.freeSockets)[0] ?? [])[0];
    assert.ok(socket, 'the first connection is kept alive by the client');
    socket.once('close', () => (closedByServer = true));
    await delay(6_000); // past Node's default keepAliveTimeout
    assert.equal(closedByServer, false, 'the server closed an idle connection after less than 6 s');
    const second = await get(agent, '/healthz');
    assert.equal(second.status, 200);
    assert.equal(second.reused, true);
  } finally {
    agent.destroy();
  }
});

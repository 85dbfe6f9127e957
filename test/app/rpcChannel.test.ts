// The internal channel over a real WebSocket on loopback.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import WebSocket, { WebSocketServer } from 'ws';
import { DependencyError, InputError, silentLogger } from '../../common/index.ts';
import { RpcChannel } from '../../app/rpcChannel.ts';

let wss: WebSocketServer;
let url: string;
before(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
});
after(async () => {
  for (const c of wss.clients) c.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

async function pair(): Promise<{ client: RpcChannel; server: RpcChannel; raw: WebSocket }> {
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const raw = new WebSocket(url);
  await once(raw, 'open');
  const [serverWs] = await accepted;
  return { client: new RpcChannel(raw, silentLogger()), server: new RpcChannel(serverWs, silentLogger()), raw };
}

test('requests both ways by method name; events by name; an InputError keeps its code and status', async () => {
  const { client, server } = await pair();
  server.handle('add', (p) => (p as { a: number; b: number }).a + (p as { a: number; b: number }).b);
  server.handle('refuse', () => {
    throw new InputError('no-publisher', 'nobody publishes', 409);
  });
  client.handle('ping', () => 'pong');
  assert.equal(await client.request('add', { a: 2, b: 3 }), 5);
  assert.equal(await server.request('ping'), 'pong');
  await assert.rejects(client.request('refuse'), (err: unknown) => err instanceof InputError && err.code === 'no-publisher' && err.status === 409);
  await assert.rejects(client.request('nope'), (err: unknown) => err instanceof InputError && err.code === 'unknown-method' && err.status === 404);
  const got = server.waitFor('event');
  client.notify('stage', { name: 'producer', args: [1] });
  assert.deepEqual(await got, ['stage', { name: 'producer', args: [1] }]);
  client.close();
  await server.waitFor('close');
});

test('a request pending when the socket closes is rejected with channel-closed; later requests fail at once', async () => {
  const { client, server } = await pair();
  server.handle('slow', () => new Promise(() => {}));
  const pending = client.request('slow');
  await new Promise((r) => setImmediate(r));
  server.close(1001, 'going away');
  await assert.rejects(pending, (err: unknown) => err instanceof DependencyError && err.code === 'channel-closed');
  await assert.rejects(client.request('slow'), (err: unknown) => err instanceof DependencyError && err.code === 'channel-closed');
});

test('a request without an answer times out', { timeout: 10_000 }, async () => {
  const { client, server } = await pair();
  server.handle('slow', () => new Promise(() => {}));
  await assert.rejects(client.request('slow', {}, 50), (err: unknown) => err instanceof DependencyError && err.code === 'channel-timeout');
  client.close();
  await server.waitFor('close');
});

test('a malformed message closes the channel with 1007 (a misconfigured peer is hung up on)', { timeout: 10_000 }, async () => {
  const { client, server, raw } = await pair();
  const closed = server.waitFor('close');
  raw.send(JSON.stringify({ t: 'res', id: 'not-a-number', ok: true }));
  const [code] = await closed;
  assert.equal(code, 1007);
  if (!client.closed) await client.waitFor('close');
  assert.equal(client.closed, true, 'the other side sees the close');
});

// Secrets never reach the logs, and log lines about a stage or broadcast carry
// its id as a field. The app runs with known secrets at trace level, its log
// captured; the API, signalling, the origin and uploads to S3 are exercised with
// good and bad credentials; then every line is searched.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { appConfigSchema } from '../../app/config.ts';
import { startApp, type RunningApp } from '../../app/server.ts';
import { createLogger } from '../../common/index.ts';
import { signViewerToken } from '../../packager/index.ts';
import { S3Server, credentials } from '../helpers/s3.ts';
import { SignalClient } from '../helpers/signalClient.ts';
import { pushInProcess, until, type FfmpegRun } from '../packager/helpers.ts';

const ADMIN = 'admin-SECRET-a1b2c3d4e5f6a7b8';
const HOST_SECRET = 'hostsecret-SECRET-f00dfeed0123';
const VIEWER_SECRET = 'viewersecret-SECRET-0badc0de99';
const METRICS_TOKEN = 'metrics-SECRET-1234567890abcd';
const STAGE = 'logstage1';

const lines: Record<string, unknown>[] = [];
const raw: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, cb) {
    for (const l of chunk.toString().split('\n')) {
      if (!l) continue;
      raw.push(l);
      lines.push(JSON.parse(l) as Record<string, unknown>);
    }
    cb();
  },
});

let app: RunningApp;
let s3: S3Server;
let run: FfmpegRun | undefined;
const issued: string[] = [];

before(async () => {
  s3 = new S3Server();
  await s3.start();
  const m = /^(\d+)-(\d+)$/.exec(process.env.STAGECAST_TEST_RTP_PORTS ?? '');
  const config = appConfigSchema.parse({
    http: { host: '127.0.0.1', port: 0 },
    adminToken: ADMIN,
    log: { level: 'trace' },
    initialStage: '',
    ingest: { numWorkers: 1, listenIp: '127.0.0.1', hostTokenSecret: HOST_SECRET },
    store: { kind: 's3', bucket: 'media', endpoint: s3.endpoint, forcePathStyle: true, credentials },
    viewerAuth: { secret: VIEWER_SECRET, required: true },
    metrics: { token: METRICS_TOKEN },
    packager: { uploadRetry: { maxRetries: 1, delayMs: 50 } },
    ...(m ? { rtp: { address: '127.0.0.1', ports: { min: Number(m[1]), max: Number(m[2]) } } } : {}),
  });
  app = await startApp(config, createLogger({ level: 'trace', destination: sink }));
});

after(async () => {
  await run?.stop();
  await app?.close();
  await s3?.destroy();
});

async function call(method: string, path: string, auth: string | undefined, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${app.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

test('the API, signalling, the origin and S3 uploads with known secrets: no secret in any log line; stage lines carry the id', async () => {
  const admin = `Bearer ${ADMIN}`;
  // Control API: good and bad tokens, bad bodies.
  const created = await call('POST', '/api/stages', admin, { id: STAGE, hostName: 'Ann' });
  assert.equal(created.status, 201);
  issued.push(created.body.hostToken as string);
  const more = await call('POST', `/api/stages/${STAGE}/host-tokens`, admin, { role: 'host-audio' });
  issued.push(more.body.hostToken as string);
  const viewer = await call('POST', `/api/stages/${STAGE}/viewer-tokens`, admin, { ttlSeconds: 600 });
  assert.equal(viewer.status, 201);
  issued.push(viewer.body.token as string);
  assert.equal((await call('GET', '/api/stages', `Bearer ${ADMIN}x`)).status, 401);
  assert.equal((await call('GET', '/api/stages', `Basic ${Buffer.from(`admin:${ADMIN}`).toString('base64')}`)).status, 401);
  assert.equal((await call('POST', '/api/stages', admin, `{"id": "${ADMIN}`)).status, 400, 'malformed JSON that holds a secret');
  assert.equal((await call('POST', `/api/stages/${STAGE}/live`, admin)).status, 409, 'no publisher yet');
  assert.equal((await call('GET', `/api/stages/${STAGE}`, admin)).status, 200);

  // Signalling: a good join, a token for the stage with a forged signature, a join with the admin token, garbage around a token.
  const host = await SignalClient.connect(`${app.url.replace('http', 'ws')}/host/ws`);
  assert.equal((await host.request('join', { stageId: STAGE, token: issued[0] })).ok, true);
  assert.equal((await host.request('createTransport')).ok, true);
  const bad = await SignalClient.connect(`${app.url.replace('http', 'ws')}/host/ws`);
  bad.sendRaw(JSON.stringify({ id: 'x', method: 'join', data: { stageId: STAGE, token: `${issued[0]!.slice(0, -4)}AAAA` } }));
  await bad.waitClosed();
  const bad2 = await SignalClient.connect(`${app.url.replace('http', 'ws')}/host/ws`);
  bad2.sendRaw(JSON.stringify({ id: 'y', method: 'nope', data: { token: ADMIN, secret: HOST_SECRET } }));
  bad2.sendRaw(`{"id":"z","method":"join","data":{"stageId":"${STAGE}","token":"${ADMIN}"}}`);
  await bad2.waitClosed();
  host.close();
  await host.waitClosed();

  // Media through the packager and to S3 (which then goes away, so uploads fail and
  // their errors are logged), then the origin with good, forged and missing viewer tokens.
  const b = app.packager.createBroadcast(STAGE);
  run = pushInProcess(app.packager, STAGE, 8);
  await until(app.packager, STAGE, () => b.tracks.length === 3 && b.tracks.every((t) => (t.current?.msn ?? 0) >= 3), 20_000, "three complete segments (playlists are served from then on)");
  await s3.stop();
  await until(app.packager, STAGE, () => b.tracks.every((t) => (t.current?.msn ?? 0) >= 3), 20_000, 'segments while S3 is away');
  const signed = `/live/t/${viewer.body.token as string}/${STAGE}/master.m3u8`;
  assert.equal((await call('GET', signed, undefined)).status, 200);
  const forged = signViewerToken({ broadcastId: STAGE, exp: Math.floor(Date.now() / 1000) + 60 }, `${VIEWER_SECRET}-not`);
  assert.equal((await call('GET', `/live/t/${forged}/${STAGE}/master.m3u8`, admin)).status, 403);
  assert.equal((await call('GET', `/live/${STAGE}/master.m3u8`, admin)).status, 403);
  assert.equal((await call('GET', '/metrics', `Bearer ${ADMIN}`)).status, 401);
  assert.equal((await call('GET', '/metrics', `Bearer ${METRICS_TOKEN}`)).status, 200);
  await run.stop();
  run = undefined;
  // The go-live without a publisher left no broadcast behind: nothing to stop.
  assert.equal((await call('POST', `/api/stages/${STAGE}/stop`, admin)).status, 404, 'a go-live that never went live leaves nothing');
  assert.equal((await call('DELETE', `/api/stages/${STAGE}`, admin)).status, 204);
  await app.packager.publisher?.drain();

  const secrets: Record<string, string> = { ADMIN, HOST_SECRET, VIEWER_SECRET, METRICS_TOKEN, s3Secret: credentials.secretAccessKey, ...Object.fromEntries(issued.map((t, i) => [`issued${i}`, t])) };
  // The signature half of each issued token is the secret part; look for it alone too.
  for (const [i, t] of issued.entries()) secrets[`issuedSig${i}`] = t.slice(t.lastIndexOf('.') + 1);
  assert.ok(lines.length > 10, `the app logged (${lines.length} lines)\n${raw.join('\n')}`);
  assert.ok(lines.some((l) => l.msg === 'stage created'), 'the capture holds the app log');
  assert.ok(lines.some((l) => l.level === 50 && /upload/i.test(String(l.msg))), 'failed uploads were logged with their errors');
  for (const [name, value] of Object.entries(secrets)) {
    const hit = raw.find((l) => l.includes(value));
    assert.equal(hit, undefined, `${name} appears in the log: ${hit}`);
  }

  // A line that names the stage must carry it as a field (stage or broadcast), so logs can be filtered by id.
  const untagged = lines.filter((l) => JSON.stringify(l).includes(STAGE) && l.stage !== STAGE && l.broadcast !== STAGE);
  assert.deepEqual(untagged, []);
  const tagged = lines.filter((l) => l.stage === STAGE || l.broadcast === STAGE);
  assert.ok(tagged.length >= 5, `${tagged.length} lines carry the stage id`);
});

// No request leaves a broadcast's namespace: raw HTTP paths with `..`, encoded
// dots and slashes, backslashes, absolute paths, NUL and overlong names against
// the origin (the filesystem store behind it), and the same keys against the
// store itself. Nothing outside the store directory is read or written.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunningApp } from '../../app/server.ts';
import { FsObjectStore, signViewerToken } from '../../packager/index.ts';
import { startTestApp } from '../helpers/app.ts';

const SECRET_TEXT = 'TOP-SECRET-OUTSIDE-THE-STORE';
const SECRET = 'viewer-secret-0123456789abcdef';

/** A GET with the path sent byte for byte as given (fetch and URL would normalise it). */
function rawGet(base: string, rawPath: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path: rawPath, method: 'GET', insecureHTTPParser: false }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(5000, () => req.destroy(new Error(`no answer for ${rawPath.slice(0, 80)}`)));
    req.on('error', reject);
    req.end();
  });
}

/** Every file under dir (relative paths) with its size and mtime: a fingerprint of what is there. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(`${path.relative(dir, p)} ${statSync(p).size} ${statSync(p).mtimeMs}`);
    }
  };
  walk(dir);
  return out.sort();
}

let root: string;
let storeDir: string;
let app: RunningApp;

before(async () => {
  // root/secret.m3u8 and root/vod1-secret/master.m3u8 sit beside the store; root/store is the store.
  root = mkdtempSync(path.join(os.tmpdir(), 'stagecast-escape-'));
  storeDir = path.join(root, 'store');
  mkdirSync(path.join(root, 'outside', 'video'), { recursive: true });
  for (const f of ['secret.m3u8', 'master.m3u8', 'outside/master.m3u8', 'outside/video/index.m3u8', 'outside/master.m3u8.meta.json']) {
    writeFileSync(path.join(root, f), f.endsWith('.json') ? JSON.stringify({ contentType: 'text/plain', cacheControl: SECRET_TEXT }) : SECRET_TEXT);
  }
  app = await startTestApp({ store: { kind: 'fs', dir: storeDir }, viewerAuth: { secret: SECRET, required: false } });
  // A finished broadcast in the store, so the normal path is shown to work.
  await app.store.put('vod1/master.m3u8', Buffer.from('#EXTM3U\n'), { contentType: 'application/vnd.apple.mpegurl', cacheControl: 'max-age=1' });
  await app.store.put('vod1/video/index.m3u8', Buffer.from('#EXTM3U\n#EXT-X-ENDLIST\n'), { contentType: 'application/vnd.apple.mpegurl', cacheControl: 'max-age=1' });
});
after(async () => {
  await app?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('the origin', () => {
  test('serves what is in the namespace (the control case)', async () => {
    assert.equal((await rawGet(app.url, '/live/vod1/master.m3u8')).status, 200);
    assert.equal((await rawGet(app.url, '/live/vod1/video/index.m3u8')).status, 200);
  });

  test('no escaping path reads anything outside a broadcast namespace: 400/403/404, never the file, never 5xx', async () => {
    const token = signViewerToken({ broadcastId: 'vod1', exp: Math.floor(Date.now() / 1000) + 600 }, SECRET);
    const paths = [
      '/live/../secret.m3u8',
      '/live/../../secret.m3u8',
      '/live/vod1/../../secret.m3u8',
      '/live/vod1/../../master.m3u8',
      '/live/../outside/master.m3u8',
      '/live/%2e%2e/master.m3u8',
      '/live/%2E%2E/outside/master.m3u8',
      '/live/%2e%2e%2f%2e%2e%2fsecret.m3u8',
      '/live/vod1/%2e%2e%2f%2e%2e%2fsecret.m3u8',
      '/live/..%2foutside/master.m3u8',
      '/live/..%2Foutside/video/index.m3u8',
      '/live/vod1/..%2f..%2foutside/index.m3u8',
      '/live/%252e%252e/master.m3u8',
      '/live/..\\outside/master.m3u8',
      '/live/vod1\\..\\..\\secret.m3u8',
      '/live/%5c..%5coutside/master.m3u8',
      '/live/vod1/%5c..%5c..%5csecret.m3u8',
      `/live/${encodeURIComponent(path.join(root, 'outside'))}/master.m3u8`,
      `/live/vod1/${encodeURIComponent(path.join(root, 'secret.m3u8'))}`,
      `/live//${root}/master.m3u8`,
      '/live/vod1/master.m3u8%00',
      '/live/vod1%00/master.m3u8',
      '/live/vod1/video%00/index.m3u8',
      '/live/vod1/video/index.m3u8%00.txt',
      '/live/vod1/master.m3u8.meta.json',
      '/live/vod1/video/index.m3u8.meta.json',
      '/live/vod1/master.m3u8.1-1.tmp',
      `/live/${'a'.repeat(4000)}/master.m3u8`,
      `/live/vod1/${'v'.repeat(4000)}/index.m3u8`,
      `/live/vod1/video/seg-${'9'.repeat(400)}.m4s`,
      '/live/./vod1/master.m3u8/..',
      `/live/t/${token}/vod1/../../secret.m3u8`,
      `/live/t/${token}/vod1/..%2f..%2fsecret.m3u8`,
      `/live/t/${token}/vod1/%2e%2e/outside/master.m3u8`,
      `/live/t/${token}/../outside/master.m3u8`,
    ];
    for (const p of paths) {
      const r = await rawGet(app.url, p);
      assert.ok([400, 403, 404].includes(r.status), `${p.slice(0, 100)} → ${r.status}`);
      assert.ok(!r.body.includes(SECRET_TEXT), `${p.slice(0, 100)} leaked a file outside the store`);
      assert.ok(!r.body.includes('#EXTM3U'), `${p.slice(0, 100)} was served a playlist`);
    }
  });
});

describe('the filesystem store', () => {
  test('refuses keys that could leave its root, and writes nothing anywhere for them', async () => {
    const store = new FsObjectStore(storeDir);
    const before = snapshot(root);
    const keys = [
      '../x.m3u8',
      'vod1/../../x.m3u8',
      'vod1/../vod2/master.m3u8',
      '/etc/passwd',
      path.join(root, 'x.m3u8'),
      'vod1\\..\\..\\x.m3u8',
      'vod1/%2e%2e/%2e%2e/x.m3u8',
      'vod1/..%2fx.m3u8',
      'vod1/x\0.m3u8',
      'vod1\0/x.m3u8',
      `vod1/${'a'.repeat(600)}`,
      'vod1/master.m3u8.meta.json',
      'vod1/x.tmp',
      '',
      '.',
      '..',
      'vod1//x',
      'vod1/./x',
      'vod1/',
      'C:\\x',
    ];
    for (const key of keys) {
      await assert.rejects(store.put(key, Buffer.from(SECRET_TEXT), { contentType: 'text/plain', cacheControl: 'no-store' }), TypeError, `put ${JSON.stringify(key.slice(0, 60))}`);
      await assert.rejects(store.get(key), TypeError, `get ${JSON.stringify(key.slice(0, 60))}`);
    }
    assert.deepEqual(snapshot(root), before, 'no file was created or changed');
  });
});

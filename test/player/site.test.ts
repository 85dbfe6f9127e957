// What the server shows a newcomer and an embedding site: the index page at `/`
// (every link on it resolves), the documentation under /docs/, and the
// embeddable modules under /watch/ with the headers cross-origin loading needs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningApp } from '../../app/server.ts';
import { startTestApp } from '../helpers/app.ts';

let app: RunningApp;

before(async () => {
  app = await startTestApp({ initialStage: 'main' });
});
after(async () => {
  await app?.close();
});

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${app.url}${path}`, { headers });

describe('the index page', () => {
  test('is served at / as HTML', async () => {
    const res = await get('/');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const html = await res.text();
    assert.match(html, /<title>stagecast<\/title>/);
  });

  test('links the host page, both viewer pages, the embeddable modules and the docs, and every link resolves', async () => {
    const html = await (await get('/')).text();
    const hrefs = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
    for (const expected of ['/host/?stage=main', '/watch/?stage=main', '/watch/dash.html?stage=main', '/watch/stagecast.js', '/watch/stagecast-player.js', '/docs/README.md', '/docs/embedding.md']) {
      assert.ok(hrefs.includes(expected), `the index links ${expected}: ${hrefs.join(' ')}`);
    }
    // README sections are linked by anchor: each must exist on the page it points at.
    assert.ok(hrefs.some((h) => h.startsWith('/docs/README.md#')), 'README sections are linked');
    const pages = new Map<string, string>();
    for (const href of hrefs) {
      const [path, fragment] = href.split('#') as [string, string | undefined];
      let body = pages.get(path);
      if (body === undefined) {
        const res = await get(path);
        assert.equal(res.status, 200, `${href} answers 200`);
        body = await res.text();
        pages.set(path, body);
      }
      if (fragment) assert.ok(body.includes(`id="${fragment}"`), `${href}: the anchor exists`);
    }
  });

  test('shows both embed snippets with this server’s URLs', async () => {
    const html = await (await get('/')).text();
    assert.ok(html.includes(`from &#39;${app.url}/watch/stagecast.js&#39;`), 'the hls.js snippet imports our module');
    assert.ok(html.includes(`&#60;stagecast-player src=&#34;${app.url}/live/main/master.m3u8&#34;`), 'the element snippet names the playlist');
  });
});

describe('the docs', () => {
  test('are HTML with anchored headings, and paths of other docs are links', async () => {
    const res = await get('/docs/README.md');
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /<strong id="quick-start">## Quick start<\/strong>/);
    assert.match(html, /<a href="\/docs\/packager\/README.md">packager\/README.md<\/a>/);
  });

  test('only the documents listed are served', async () => {
    for (const path of ['/docs/nope.md', '/docs/%2e%2e/package.json', '/docs/../main.ts', '/docs/ingest/index.ts']) {
      assert.equal((await get(path)).status, 404, path);
    }
  });
});

describe('the embeddable modules', () => {
  for (const path of ['/watch/stagecast.js', '/watch/stagecast-player.js']) {
    test(`${path}: JavaScript, open to every origin, cacheable and revalidated by ETag`, async () => {
      const res = await get(path, { origin: 'https://some-site.example' });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/javascript; charset=utf-8$/);
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      assert.equal(res.headers.get('cross-origin-resource-policy'), 'cross-origin');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('cache-control'), 'public, max-age=300');
      const etag = res.headers.get('etag');
      assert.ok(etag, 'an ETag');
      // As a browser or CDN revalidates: fetch() itself would add `Cache-Control: no-cache` (the Fetch standard), which forbids a 304.
      assert.equal((await get(path, { 'if-none-match': etag, 'cache-control': 'max-age=0' })).status, 304);
    });
  }

  test('stagecast.js is an ES module exporting the controller, without hls.js inside', async () => {
    const source = await (await get('/watch/stagecast.js')).text();
    assert.ok(source.length < 10_000, `small: ${source.length} bytes`);
    const mod = (await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`)) as Record<string, unknown>;
    assert.equal(typeof mod.attachLatencyController, 'function');
    assert.equal(typeof mod.stagecastHlsConfig, 'function');
    assert.deepEqual(mod.DEFAULT_CATCH_UP, { maxPlaybackRate: 1.5, minBufferAhead: 0.3, seekWhenBehind: 2 });
    assert.equal((mod.stagecastHlsConfig as () => { lowLatencyMode: boolean })().lowLatencyMode, true);
  });

  test('the viewer pages are not opened to other origins', async () => {
    const res = await get('/watch/viewer.js');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
  });
});

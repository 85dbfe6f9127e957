import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';
import { bundleForBrowser } from '../common/index.ts';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

export interface PlayerAssets {
  files: Map<string, { type: string; body: string }>;
}

/** Bundles the viewer (hls.js) and DASH check (dash.js) pages in memory. */
export async function buildPlayerPages(): Promise<PlayerAssets> {
  const [viewerHtml, dashHtml, bundles] = await Promise.all([
    readFile(here('./public/viewer.html'), 'utf8'),
    readFile(here('./public/dash.html'), 'utf8'),
    bundleForBrowser({ viewer: here('./client/viewer.ts'), dash: here('./client/dash.ts') }),
  ]);
  const js = (name: string) => bundles.get(name)!;
  return {
    files: new Map([
      ['/', { type: 'html', body: viewerHtml }],
      ['/dash.html', { type: 'html', body: dashHtml }],
      ['/viewer.js', { type: 'application/javascript', body: js('viewer') }],
      ['/dash.js', { type: 'application/javascript', body: js('dash') }],
    ]),
  };
}

/**
 * Serves the player pages (mount at `/watch`). Every URL they use is relative,
 * so the same files work from a CDN path. Cached briefly: they change only with
 * a release.
 */
export function createPlayerRouter(assets: PlayerAssets): Router {
  const router = express.Router();
  router.get(/.*/, (req, res, next) => {
    const file = assets.files.get(req.path);
    if (!file) return next();
    res.type(file.type).set('Cache-Control', 'public, max-age=60').send(file.body);
  });
  return router;
}

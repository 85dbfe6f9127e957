import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';
import { bundleForBrowser } from '../common/index.ts';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

export interface PlayerFile {
  type: string;
  body: string;
  /** Loaded by other sites' pages: served with CORS and a cache time of its own. */
  embed?: boolean;
}

export interface PlayerAssets {
  files: Map<string, PlayerFile>;
}

/** The module other sites import (`/watch/stagecast.js`: the latency controller, no hls.js). */
export const EMBED_MODULE_PATH = '/stagecast.js';
/** The <stagecast-player> element, hls.js included. */
export const PLAYER_ELEMENT_PATH = '/stagecast-player.js';

/** Bundles the viewer (hls.js), DASH check (dash.js) and embeddable modules in memory. */
export async function buildPlayerPages(): Promise<PlayerAssets> {
  const [viewerHtml, dashHtml, whepHtml, bundles] = await Promise.all([
    readFile(here('./public/viewer.html'), 'utf8'),
    readFile(here('./public/dash.html'), 'utf8'),
    readFile(here('./public/whep.html'), 'utf8'),
    bundleForBrowser({
      viewer: here('./client/viewer.ts'),
      dash: here('./client/dash.ts'),
      whep: here('./client/whep.ts'),
      stagecast: here('./client/stagecast.ts'),
      'stagecast-player': here('./client/stagecastPlayer.ts'),
    }),
  ]);
  const js = (name: string) => bundles.get(name)!;
  const script = 'text/javascript; charset=utf-8';
  return {
    files: new Map<string, PlayerFile>([
      ['/', { type: 'html', body: viewerHtml }],
      ['/dash.html', { type: 'html', body: dashHtml }],
      ['/viewer.js', { type: 'application/javascript', body: js('viewer') }],
      ['/dash.js', { type: 'application/javascript', body: js('dash') }],
      ['/whep.html', { type: 'html', body: whepHtml }],
      ['/whep.js', { type: 'application/javascript', body: js('whep') }],
      [EMBED_MODULE_PATH, { type: script, body: js('stagecast'), embed: true }],
      [PLAYER_ELEMENT_PATH, { type: script, body: js('stagecast-player'), embed: true }],
    ]),
  };
}

/**
 * Headers of the embeddable modules. Module scripts are fetched in CORS mode,
 * so another site's page needs Access-Control-Allow-Origin (no credentials, so
 * `*` and no Vary); Cross-Origin-Resource-Policy lets pages with COEP load them
 * too. The URLs carry no version: 5 minutes bounds how long a release takes to
 * reach embedders and CDNs, and the ETag makes the revalidation a 304.
 */
const EMBED_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Cross-Origin-Resource-Policy': 'cross-origin',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'public, max-age=300',
};

/**
 * Serves the player pages and embeddable modules (mount at `/watch`, the path
 * the CDN and broadcast nodes route). Every URL the pages use is relative, so
 * the same files work from a CDN path. Pages are cached briefly: they change
 * only with a release.
 */
export function createPlayerRouter(assets: PlayerAssets): Router {
  const router = express.Router();
  router.get(/.*/, (req, res, next) => {
    const file = assets.files.get(req.path);
    if (!file) return next();
    if (file.embed) res.set(EMBED_HEADERS);
    else res.set('Cache-Control', 'public, max-age=60');
    res.type(file.type).send(file.body);
  });
  return router;
}

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import express, { type Router } from 'express';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

export interface PlayerAssets {
  files: Map<string, { type: string; body: string }>;
}

/** Bundles the viewer (hls.js) and DASH check (dash.js) pages in memory. */
export async function buildPlayerPages(): Promise<PlayerAssets> {
  const [viewerHtml, dashHtml, result] = await Promise.all([
    readFile(here('./public/viewer.html'), 'utf8'),
    readFile(here('./public/dash.html'), 'utf8'),
    esbuild.build({
      entryPoints: { viewer: here('./client/viewer.ts'), dash: here('./client/dash.ts') },
      bundle: true,
      write: false,
      outdir: '/out',
      format: 'esm',
      platform: 'browser',
      target: ['chrome100', 'firefox100', 'safari15'],
      minify: true,
      legalComments: 'none',
      logLevel: 'silent',
    }),
  ]);
  const js = (name: string) => {
    const f = result.outputFiles.find((o) => o.path.endsWith(`/${name}.js`));
    if (!f) throw new Error(`esbuild produced no ${name}.js`);
    return f.text;
  };
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

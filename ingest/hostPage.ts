import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';
import { bundleForBrowser } from '../common/index.ts';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

export interface HostPageAssets {
  html: string;
  js: string;
}

/** Bundles the host page (mediasoup-client and our code) in memory; nothing is written to disk. */
export async function buildHostPage(): Promise<HostPageAssets> {
  const [html, bundles] = await Promise.all([
    readFile(here('./public/host.html'), 'utf8'),
    bundleForBrowser({ host: here('./client/host.ts') }),
  ]);
  const js = bundles.get('host')!;
  return { html, js };
}

/** Serves the host page at `/` and its script at `/host.js` (mount it at `/host/`). */
export function createHostPageRouter(assets: HostPageAssets): Router {
  const router = express.Router();
  router.get('/', (_req, res) => {
    res.type('html').set('Cache-Control', 'no-cache').send(assets.html);
  });
  router.get('/host.js', (_req, res) => {
    res.type('application/javascript').set('Cache-Control', 'no-cache').send(assets.js);
  });
  return router;
}

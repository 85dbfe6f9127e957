import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import express, { type Router } from 'express';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

export interface HostPageAssets {
  html: string;
  js: string;
}

/** Bundles the host page (mediasoup-client and our code) in memory; nothing is written to disk. */
export async function buildHostPage(): Promise<HostPageAssets> {
  const [html, result] = await Promise.all([
    readFile(here('./public/host.html'), 'utf8'),
    esbuild.build({
      entryPoints: [here('./client/host.ts')],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: ['chrome100', 'firefox100', 'safari15'],
      minify: true,
      legalComments: 'none',
      logLevel: 'silent',
    }),
  ]);
  const js = result.outputFiles[0]?.text;
  if (!js) throw new Error('esbuild produced no host page bundle');
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

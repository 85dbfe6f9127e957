import express, { type Router } from 'express';
import { renderDoc } from './docs.ts';
import { renderIndexPage, type IndexPageOptions } from './indexPage.ts';

export interface SiteRouterOptions extends Omit<IndexPageOptions, 'viewerBase'> {
  /** Read per request: the server's own URL is known only once it listens. */
  viewerBase: () => string;
}

/** Serves the index page at `/` and the documentation under `/docs/` (mount at the root). */
export function createSiteRouter(options: SiteRouterOptions): Router {
  const router = express.Router();
  const docs = new Map(options.docs.map((d) => [d.url, renderDoc(d, options.docs)]));
  router.get('/', (_req, res) => {
    // no-cache: the page carries this run's base URL and stage.
    res.type('html').set('Cache-Control', 'no-cache').send(renderIndexPage({ ...options, viewerBase: options.viewerBase() }));
  });
  router.get(/^\/docs\/.+\.md$/, (req, res, next) => {
    const page = docs.get(req.path);
    if (!page) return next();
    res.type('html').set('Cache-Control', 'public, max-age=60').send(page);
  });
  return router;
}

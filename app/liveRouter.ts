import express, { type Router } from 'express';
import type { Logger } from '../common/index.ts';
import { createOriginRouter, viewerAuthMiddleware, type AliasTarget, type ObjectStore, type Packager } from '../packager/index.ts';
import type { AppConfig } from './config.ts';
import type { AppMetrics } from './metrics.ts';
import type { ViewerEstimator } from './viewers.ts';

export interface LiveRouterDeps {
  packager: Packager;
  store: ObjectStore | undefined;
  viewerAuth: AppConfig['viewerAuth'];
  metrics: AppMetrics;
  viewers: ViewerEstimator;
  /** Stable stage links (app/stageLinks.ts `stageAliasResolver`). */
  resolveAlias?: (name: string) => AliasTarget | undefined;
  logger: Logger;
}

/**
 * What serves `/live/` wherever media is served (role `all`, a broadcast node):
 * signed viewer URLs are verified and unwrapped first, so the origin metrics and
 * the viewer count see `/live/<broadcast>/`; then the origin itself.
 */
export function createLiveRouter(deps: LiveRouterDeps): Router {
  const router = express.Router();
  const { secret, required } = deps.viewerAuth;
  if (secret) router.use(viewerAuthMiddleware({ secret, required }));
  router.use(deps.metrics.originMiddleware);
  router.use(deps.viewers.middleware);
  router.use(createOriginRouter(deps.packager, deps.store, { logger: deps.logger, ...(deps.resolveAlias ? { resolveAlias: deps.resolveAlias } : {}) }));
  return router;
}

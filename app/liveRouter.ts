import type http from 'node:http';
import express, { type Router } from 'express';
import type { Logger } from '../common/index.ts';
import { createOriginHotPath, createOriginRouter, viewerAuthMiddleware, type AliasTarget, type ObjectStore, type Packager } from '../packager/index.ts';
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

/**
 * The origin's hot path (packager/originHotPath.ts) with this app's counting:
 * origin metrics and viewer estimates as the Express middleware above keeps
 * them. None when every viewer URL must be signed: the signed form is checked
 * on the Express way only.
 */
export function createLiveHotPath(deps: Pick<LiveRouterDeps, 'packager' | 'viewerAuth' | 'metrics' | 'viewers' | 'logger'>, prefix?: string) {
  if (deps.viewerAuth.required) return undefined;
  return createOriginHotPath(deps.packager, {
    logger: deps.logger,
    ...(prefix ? { prefix } : {}),
    reserved: new Set(['t']),
    onTake: (req, res, route, broadcastId) => {
      deps.metrics.observeOrigin(route, res);
      if (route === 'playlist' || route === 'playlist_blocking') deps.viewers.seeRequest(broadcastId, req);
    },
  });
}

/** The request listener of a server whose app serves the origin: the hot path first, then Express. */
export function withHotPath(app: express.Express, hot: ReturnType<typeof createLiveHotPath>): http.RequestListener {
  if (!hot) return app;
  return (req, res) => {
    if (!hot(req, res)) app(req, res);
  };
}

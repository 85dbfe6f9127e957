import type http from 'node:http';
import express, { type Router } from 'express';
import type { Logger } from '../common/index.ts';
import { createOriginHotPath, createOriginRouter, signedUrlChecker, viewerAuthMiddleware, type AliasTarget, type ObjectStore, type OriginHotPath, type Packager } from '../packager/index.ts';
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
 * The origin's hot path (packager/originHotPath.ts) with this app's counting
 * (origin metrics and viewer estimates as the Express middleware above keeps
 * them) and its viewer URL check: signed URLs verified and unwrapped by the
 * same checker as the middleware, refusals left to the Express way.
 */
export function createLiveHotPath(deps: Pick<LiveRouterDeps, 'packager' | 'viewerAuth' | 'metrics' | 'viewers' | 'logger'>, prefix?: string): OriginHotPath {
  const { secret, required } = deps.viewerAuth;
  const check = secret ? signedUrlChecker({ secret, required }) : undefined;
  return createOriginHotPath(deps.packager, {
    logger: deps.logger,
    ...(prefix ? { prefix } : {}),
    ...(check
      ? {
          unwrap: (url: string) => {
            const c = check(url, Date.now() / 1000);
            return c.kind === 'refused' ? undefined : c.url;
          },
        }
      : {}),
    onTake: (req, res, route, broadcastId) => {
      deps.metrics.observeOrigin(route, res);
      if (route === 'playlist' || route === 'playlist_blocking') deps.viewers.seeRequest(broadcastId, req);
    },
  });
}

/** The request listener of a server whose app serves the origin: the hot path first, then Express. */
export function withHotPath(app: express.Express, hot: OriginHotPath): http.RequestListener {
  return (req, res) => {
    if (!hot(req, res)) app(req, res);
  };
}

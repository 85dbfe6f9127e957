// The two halves of the app when it runs on separate machines (docs/scaling.md):
// `sfu` (ingest and control) and `broadcast` (transcode, packager, origin, store).
// Role `all` is app/server.ts's startApp, unchanged.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { UdpPortPool, type Logger } from '../common/index.ts';
import { Sfu, SignallingServer, buildHostPage, createHostPageRouter, createWhepEgress, createWhipIngest } from '../ingest/index.ts';
import { createPackager, originServerOptions, type ObjectStore, type Packager } from '../packager/index.ts';
import { buildPlayerPages, createPlayerRouter } from '../player/index.ts';
import { Broadcasts } from './broadcasts.ts';
import type { AppConfig } from './config.ts';
import { createControlApi } from './controlApi.ts';
import { CaptionSocketServer } from './captionIngest.ts';
import { InternalApi } from './internalApi.ts';
import { createLiveHotPath, createLiveRouter, withHotPath } from './liveRouter.ts';
import { stageAliasResolver } from './stageLinks.ts';
import { AppMetrics, metricsRouter } from './metrics.ts';
import { rankNodes } from './placement.ts';
import { RemoteBroadcasts } from './remoteBroadcasts.ts';
import type { StageFeed } from './stageFeed.ts';
import { ViewerEstimator } from './viewers.ts';

/** A running process of role `sfu` or `broadcast`. */
export interface RunningNode {
  readonly role: 'sfu' | 'broadcast';
  readonly url: string;
  /** Role `sfu`. */
  readonly sfu?: Sfu;
  readonly remoteBroadcasts?: RemoteBroadcasts;
  /** Role `broadcast`. */
  readonly packager?: Packager;
  readonly broadcasts?: Broadcasts;
  close(): Promise<void>;
}

/** The path prefix under which a broadcast node serves its origin and viewer pages, and the CDN routes to it. */
export const nodePathPrefix = (nodeId: string): string => `/b/${nodeId}`;

type Closer = () => Promise<void> | void;

function closerChain(logger: Logger): { push(c: Closer): void; close(): Promise<void> } {
  const closers: Closer[] = [];
  return {
    push: (c) => void closers.push(c),
    close: async () => {
      for (const c of closers.splice(0).reverse()) {
        try {
          await c();
        } catch (err) {
          logger.error({ err }, 'shutdown step failed');
        }
      }
    },
  };
}

async function listen(
  app: express.Express,
  config: AppConfig,
  closers: { push(c: Closer): void },
  listener: http.RequestListener = app,
): Promise<{ server: http.Server; url: string }> {
  // The broadcast node is what the CDN pulls: same keep-alive as role `all` (packager/httpServer.ts).
  const server = http.createServer(originServerOptions, listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.http.port, config.http.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  const { port } = server.address() as AddressInfo;
  const shownHost = config.http.host === '0.0.0.0' || config.http.host === '::' ? 'localhost' : config.http.host;
  return { server, url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}` };
}

function baseApp(): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  return app;
}

/**
 * Role `sfu`: mediasoup, the host page and signalling, the control API. A
 * go-live places the stage on a broadcast node and serves it RTP; the answer's
 * viewer links point at that node's path (/b/<node>/) on the CDN.
 */
export async function startSfuNode(config: AppConfig, logger: Logger): Promise<RunningNode> {
  const log = logger.child({ process: 'sfu' });
  const closers = closerChain(log);
  const sfu = await Sfu.create(config.ingest, log);
  closers.push(() => sfu.close());
  try {
    const remote = new RemoteBroadcasts({ sfu, nodes: config.broadcastNodes, internalToken: config.internalToken!, defaultLayout: config.compose.layout, logger: log });
    closers.push(() => remote.stopAll());
    const hostAssets = await buildHostPage();
    const app = baseApp();
    let url = '';
    const publicUrl = () => config.http.publicUrl?.replace(/\/$/, '') ?? url;
    // Before go-live the link names the stage's home node (first in rendezvous order); after, the node it runs on.
    const nodeFor = (stageId: string) => {
      const placed = remote.placement(stageId);
      return placed ? config.broadcastNodes.find((n) => n.id === placed.nodeId)! : rankNodes(stageId, config.broadcastNodes)[0]!;
    };
    const viewerBase = (stageId: string) => {
      const node = nodeFor(stageId);
      return `${(config.cdnBaseUrl ?? node.url).replace(/\/$/, '')}${nodePathPrefix(node.id)}`;
    };
    app.use('/host', createHostPageRouter(hostAssets));
    app.use(
      '/api',
      createControlApi({
        sfu,
        broadcasts: remote,
        viewers: { count: (id) => remote.viewers(id) },
        adminToken: config.adminToken,
        publicUrl,
        viewerBase,
        placement: (id) => remote.placement(id),
        logger: log,
        rateLimit: config.api.rateLimit,
        viewerAuth: config.viewerAuth,
      }),
    );
    app.get('/healthz', (_req, res) => {
      res.json({ ok: true, role: 'sfu', workers: sfu.workers.size, stages: sfu.stages.length });
    });
    // Ready while a mediasoup worker runs (a dead one is replaced or the pod restarts).
    app.get('/readyz', (_req, res) => {
      res.status(sfu.workers.size > 0 ? 200 : 503).json({ ready: sfu.workers.size > 0, role: 'sfu' });
    });
    // WHIP ingest (OBS and other encoders) belongs to the SFU, as in role all.
    const whip = createWhipIngest(sfu, config.ingest.whip, log);
    closers.push(() => whip.sessions.close());
    app.use('/whip', whip.router);
    // WHEP playback belongs to the SFU too: the broadcast node sends the program back to it
    // (the stage's program input), and the front row's watch page is served beside it.
    if (config.ingest.whep.enabled) {
      const whep = createWhepEgress(sfu, config.ingest.whep, log);
      closers.push(() => whep.sessions.close());
      app.use('/whep', whep.router);
      app.use('/watch', createPlayerRouter(await buildPlayerPages()));
    }
    const metrics = new AppMetrics({ sfu });
    if (config.metrics.enabled) app.use(metricsRouter(metrics, config.metrics.token));
    const signalling = new SignallingServer(sfu, log, '/host/ws');
    closers.push(() => signalling.close());
    const captioners = new CaptionSocketServer((stageId, cue) => remote.addCaption(stageId, cue), config.adminToken, log);
    closers.push(() => captioners.close());
    const { server, url: listening } = await listen(app, config, closers);
    signalling.attach(server);
    captioners.attach(server);
    url = listening;
    log.info({ url, broadcastNodes: config.broadcastNodes.map((n) => n.id) }, 'SFU node listening');
    return { role: 'sfu', url, sfu, remoteBroadcasts: remote, close: closers.close };
  } catch (err) {
    await closers.close();
    throw err;
  }
}

/**
 * Role `broadcast`: FFmpeg, the packager, the origin and the store for the
 * stages SFUs place here. The origin and viewer pages are served at `/` and
 * under `/b/<nodeId>/`, the path the CDN routes to this node; the internal API
 * (placement readiness, one channel per broadcast) under `/internal/`.
 */
export async function startBroadcastNode(config: AppConfig, logger: Logger, store: ObjectStore): Promise<RunningNode> {
  const nodeId = config.nodeId!;
  const log = logger.child({ process: 'broadcast', node: nodeId });
  const closers = closerChain(log);
  try {
    const packager = createPackager(config.packager, { logger: log, store });
    closers.push(() => packager.close());
    const viewers = new ViewerEstimator();
    const broadcasts: Broadcasts = new Broadcasts({
      // Stages arrive as feeds SFUs open on the internal API (created below; called only after start-up).
      sfu: { getStage: (id): StageFeed | undefined => internal.getStage(id) },
      packager,
      transcode: config.transcode,
      compose: config.compose,
      portPool: new UdpPortPool({ host: config.rtp.address, min: config.rtp.ports.min, max: config.rtp.ports.max }),
      rtpAddress: config.rtp.address,
      endedGraceMs: config.endedGraceMs,
      logger: log,
    });
    closers.push(() => broadcasts.stopAll());
    const internal: InternalApi = new InternalApi({ nodeId, token: config.internalToken!, broadcasts, viewers, logger: log });
    closers.push(() => internal.close());
    const metrics = new AppMetrics({ broadcasts, packager, viewers });

    const playerAssets = await buildPlayerPages();
    const media = express.Router();
    media.use('/watch', createPlayerRouter(playerAssets));
    // Signed viewer URLs are verified where the media is served: on the broadcast node.
    media.use(createLiveRouter({ packager, store, viewerAuth: config.viewerAuth, metrics, viewers, resolveAlias: stageAliasResolver({ broadcasts, packager }), logger: log }));
    const app = baseApp();
    app.use('/internal', internal.router);
    // Scraped at the node itself; the CDN routes only /b/<node>/ (media and pages) here.
    if (config.metrics.enabled) app.use(metricsRouter(metrics, config.metrics.token));
    app.use(nodePathPrefix(nodeId), media);
    app.use(media);
    app.get('/healthz', (_req, res) => {
      res.json({ ok: true, role: 'broadcast', nodeId });
    });
    // Not ready while draining: the edge and SFUs send nothing new; running broadcasts go on.
    app.get('/readyz', (_req, res) => {
      res.status(internal.draining ? 503 : 200).json({ ready: !internal.draining, role: 'broadcast', nodeId, broadcasts: internal.liveFeeds });
    });
    const hot = createLiveHotPath({ packager, viewerAuth: config.viewerAuth, metrics, viewers, logger: log }, nodePathPrefix(nodeId));
    const { server, url } = await listen(app, config, closers, withHotPath(app, hot));
    internal.attach(server);
    log.info({ url, rtpAddress: config.rtp.address, store: config.store.kind }, 'broadcast node listening');
    return { role: 'broadcast', url, packager, broadcasts, close: closers.close };
  } catch (err) {
    await closers.close();
    throw err;
  }
}

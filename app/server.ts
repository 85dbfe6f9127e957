/**
 * The app's entry: app/ wires the stages (ingest → transcode → packager →
 * origin/store → player). It takes the config (app/config.ts) and gives the
 * running HTTP app (`startApp`, or `startNode` for a process's role).
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import express from 'express';
import { UdpPortPool, type Logger } from '../common/index.ts';
import { Sfu, SignallingServer, buildHostPage, createHostPageRouter, createWhepEgress, createWhipIngest, type RtpTargetHook, type WhepSessions, type WhipSessions } from '../ingest/index.ts';
import {
  FsObjectStore,
  S3ObjectStore,
  createPackager,
  originServerOptions,
  type ObjectStore,
  type Packager,
} from '../packager/index.ts';
import { buildPlayerPages, createPlayerRouter, createSiteRouter, loadDocs } from '../player/index.ts';
import { verifyFfmpeg } from '../transcode/index.ts';
import { Broadcasts } from './broadcasts.ts';
import type { AppConfig } from './config.ts';
import { createControlApi } from './controlApi.ts';
import { CaptionSocketServer } from './captionIngest.ts';
import { Recordings } from './recordings.ts';
import { Health } from './health.ts';
import { createLiveHotPath, createLiveRouter, withHotPath } from './liveRouter.ts';
import { stageAliasResolver } from './stageLinks.ts';
import { AppMetrics, metricsRouter } from './metrics.ts';
import { startBroadcastNode, startSfuNode, type RunningNode } from './roles.ts';
import { ViewerEstimator } from './viewers.ts';

export interface RunningApp {
  /** Base URL of the HTTP server. */
  readonly url: string;
  readonly sfu: Sfu;
  readonly packager: Packager;
  readonly store: ObjectStore;
  readonly broadcasts: Broadcasts;
  readonly metrics: AppMetrics;
  readonly health: Health;
  readonly whip: WhipSessions;
  /** WHEP viewers, when `ingest.whep.enabled`. */
  readonly whep?: WhepSessions;
  /** Finished broadcasts whose VODs the store holds (read at start-up, kept up to date). */
  readonly recordings: Recordings;
  /**
   * Graceful shutdown: ends every broadcast (FFmpeg flushed and stopped, RTP
   * ports released, ENDLIST and static MPD), drains the uploads (bounded by
   * packager.closeDrainTimeoutMs), then closes signalling, the HTTP server and
   * the mediasoup workers (awaiting their exit). Safe twice.
   */
  close(): Promise<void>;
}

export function createStore(config: AppConfig['store']): ObjectStore {
  if (config.kind === 'fs') return new FsObjectStore(path.resolve(config.dir));
  return new S3ObjectStore({
    bucket: config.bucket,
    prefix: config.prefix,
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(config.credentials ? { credentials: config.credentials } : {}),
  });
}

/** Starts the process's role (`config.role`): everything (startApp), an SFU node or a broadcast node. */
export async function startNode(config: AppConfig, logger: Logger): Promise<RunningApp | RunningNode> {
  if (config.role === 'sfu') return startSfuNode(config, logger);
  if (config.role === 'broadcast') return startBroadcastNode(config, logger, createStore(config.store));
  return startApp(config, logger);
}

/**
 * Wires every stage into one process (the embedded default) and serves them:
 * the host page at /host/ (signalling at /host/ws), the viewer pages at /watch/,
 * the origin at /live/, the control API at /api, WHIP ingest at /whip/.
 */
/** Seams for tests, never set from config. */
export interface AppHooks {
  /** Where RTP toward FFmpeg goes first (the RTP impairment test's proxy). */
  rtpTarget?: RtpTargetHook;
}

export async function startApp(config: AppConfig, logger: Logger, hooks: AppHooks = {}): Promise<RunningApp> {
  const sfu = await Sfu.create(config.ingest, logger);
  // Undone in reverse order; on a normal shutdown `finish` runs first (see below).
  const closers: (() => Promise<void> | void)[] = [() => sfu.close()];
  let health: Health | undefined;
  let finish: (() => Promise<void>) | undefined;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      health?.setShuttingDown(); // readiness fails first, so a load balancer stops sending while we drain
      if (finish) await finish().catch((err: unknown) => logger.error({ err }, 'shutdown step failed'));
      await unwind();
    })());
  const unwind = async () => {
    for (const c of closers.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        logger.error({ err }, 'shutdown step failed');
      }
    }
  };
  try {
    // Checked now, in the background, so the first go-live does not pay for it; a failure
    // is only logged here (go-live reports it as a 503 and checks again).
    verifyFfmpeg(config.transcode.ffmpegPath).then(
      (version) => logger.info({ version }, 'FFmpeg found'),
      (err: unknown) => logger.warn({ err }, 'FFmpeg check failed'),
    );
    const store = createStore(config.store);
    const packager = createPackager(config.packager, { logger, store });
    closers.push(() => packager.close());
    const recordings = new Recordings({ store, publisher: packager.publisher, logger });
    closers.push(() => recordings.close());
    await recordings.load();
    const broadcasts = new Broadcasts({
      sfu,
      packager,
      transcode: config.transcode,
      compose: config.compose,
      portPool: new UdpPortPool({ host: config.rtp.address, min: config.rtp.ports.min, max: config.rtp.ports.max }),
      rtpAddress: config.rtp.address,
      whep: config.ingest.whep.enabled,
      ...(hooks.rtpTarget ? { rtpTarget: hooks.rtpTarget } : {}),
      endedGraceMs: config.endedGraceMs,
      recordings,
      logger,
    });
    closers.push(() => broadcasts.stopAll());
    // A normal shutdown finishes the media first, while everything it needs is up:
    // broadcasts end (FFmpeg, RTP ports), then the final playlists and the
    // recordings index reach the store; only then do the listeners and workers go.
    finish = async () => {
      logger.info('shutdown: ending broadcasts');
      await broadcasts.stopAll();
      logger.info({ queued: packager.publisher?.queued ?? 0 }, 'shutdown: draining uploads');
      await packager.close();
    };

    const [hostAssets, playerAssets] = await Promise.all([buildHostPage(), buildPlayerPages()]);
    const viewers = new ViewerEstimator();
    const metrics = new AppMetrics({ sfu, packager, broadcasts, viewers });
    health = new Health({ sfu, store, publisher: packager.publisher });
    const app = express();
    app.disable('x-powered-by');
    app.set('trust proxy', 'loopback');
    let url = '';
    const publicUrl = () => config.http.publicUrl?.replace(/\/$/, '') ?? url;
    const viewerBase = () => config.cdnBaseUrl?.replace(/\/$/, '') ?? publicUrl();
    app.use('/host', createHostPageRouter(hostAssets));
    // WHIP ingest belongs to the SFU: it needs nothing but the Sfu and its config.
    const { sessions: whip, router: whipRouter } = createWhipIngest(sfu, config.ingest.whip, logger);
    closers.push(() => whip.close());
    app.use('/whip', whipRouter);
    // WHEP playback, beside WHIP: the SFU serves the program the broadcast sends back to it.
    const whep = config.ingest.whep.enabled ? createWhepEgress(sfu, config.ingest.whep, logger) : undefined;
    if (whep) {
      closers.push(() => whep.sessions.close());
      app.use('/whep', whep.router);
    }
    app.use('/watch', createPlayerRouter(playerAssets));
    app.use(createSiteRouter({ docs: await loadDocs(), viewerBase, stageId: config.initialStage, signedViewerUrls: config.viewerAuth.required }));
    app.use(health.router());
    if (config.metrics.enabled) app.use(metricsRouter(metrics, config.metrics.token));
    app.use(createLiveRouter({ packager, store, viewerAuth: config.viewerAuth, metrics, viewers, resolveAlias: stageAliasResolver({ broadcasts, packager, recordings }), logger }));
    app.use(
      '/api',
      createControlApi({
        sfu,
        broadcasts,
        recordings,
        viewers,
        adminToken: config.adminToken,
        publicUrl,
        viewerBase,
        logger,
        rateLimit: config.api.rateLimit,
        viewerAuth: config.viewerAuth,
      }),
    );

    // Keep-alive longer than players' and CDNs' idle connections (packager/httpServer.ts).
    const server = http.createServer(originServerOptions, withHotPath(app, createLiveHotPath({ packager, viewerAuth: config.viewerAuth, metrics, viewers, logger })));
    // Every socket, upgraded ones (signalling WebSockets) included: closeAllConnections()
    // knows only HTTP connections, and one left open keeps server.close() from finishing.
    const sockets = new Set<Socket>();
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    const signalling = new SignallingServer(sfu, logger, '/host/ws');
    signalling.attach(server);
    const captioners = new CaptionSocketServer((stageId, cue) => broadcasts.addCaption(stageId, cue), config.adminToken, logger);
    captioners.attach(server);
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
          for (const socket of sockets) socket.destroy();
        }),
    );
    // Undone before the HTTP server: hosts are told the server is going away (1001).
    closers.push(() => signalling.close());
    closers.push(() => captioners.close());
    const { port } = server.address() as AddressInfo;
    const shownHost = config.http.host === '0.0.0.0' || config.http.host === '::' ? 'localhost' : config.http.host;
    url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
    logger.info({ url, store: config.store.kind }, 'HTTP server listening');
    return { url, sfu, packager, store, broadcasts, recordings, metrics, health, whip, ...(whep ? { whep: whep.sessions } : {}), close };
  } catch (err) {
    await unwind();
    throw err;
  }
}

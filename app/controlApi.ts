import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { InputError, STAGE_ID_PATTERN, bearerMatches, type Logger } from '../common/index.ts';
import { signWhepToken, type Sfu } from '../ingest/index.ts';
import { signViewerToken, signedLivePath } from '../packager/index.ts';
import type { BroadcastControl } from './broadcasts.ts';
import { parseCue } from './captionIngest.ts';
import { stageOf, type Recording, type Recordings } from './recordings.ts';
import { broadcastLinks, stageLinks } from './stageLinks.ts';
import { rateLimitPerClient } from './rateLimit.ts';
import type { ViewerEstimator } from './viewers.ts';

const createStageBody = z
  .object({
    id: z.string().regex(STAGE_ID_PATTERN).optional(),
    hostName: z.string().max(128).optional(),
    role: z.enum(['host', 'host-audio']).optional(),
  })
  .strict();

const layoutBody = z.object({ mode: z.enum(['grid', 'speaker']) }).strict();
const muteBody = z
  .object({ audio: z.boolean().optional(), video: z.boolean().optional() })
  .strict()
  .refine((b) => b.audio !== undefined || b.video !== undefined, { message: 'give audio and/or video' });

const invalid = (error: z.ZodError, expected: string) =>
  new InputError('invalid-request', `${expected}: ${error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);

export interface ControlApiOptions {
  sfu: Sfu;
  broadcasts: BroadcastControl;
  /** Finished broadcasts in the store (VODs), listed at GET /recordings. */
  recordings?: Recordings;
  viewers: Pick<ViewerEstimator, 'count'>;
  adminToken: string;
  /** Base URL of this server (host page links). */
  publicUrl: () => string;
  /** Base URL viewers use for a stage: the CDN when there is one (role `sfu`: with the owning node's path prefix). */
  viewerBase: (stageId: string) => string;
  /** Where a stage's broadcast runs (role `sfu`), reported in the stage status. */
  placement?: (stageId: string) => object | undefined;
  logger: Logger;
  /** Requests per client address (before the token check, so guessing tokens is slow too). */
  rateLimit: { perSecond: number; burst: number };
  /** Signed viewer URLs; without a secret the viewer-tokens request is 404. */
  viewerAuth: { secret?: string | undefined; expiryGranularitySeconds: number; maxTtlSeconds: number };
}

const viewerTokenBody = z.object({ ttlSeconds: z.number().int().min(1).optional() }).strict();

/**
 * The control API (JSON over HTTP, admin bearer token): create, list, inspect
 * and close stages, issue host tokens, go live and stop.
 */
export function createControlApi(opts: ControlApiOptions): Router {
  const { sfu, broadcasts } = opts;
  const router = express.Router();
  router.use(rateLimitPerClient(opts.rateLimit));
  router.use(express.json({ limit: '16kb' }));
  router.use((req, _res, next) => {
    if (!bearerMatches(req.get('authorization'), opts.adminToken)) {
      next(new InputError('unauthorized', 'admin bearer token required', 401));
      return;
    }
    next();
  });

  /** The stage's stable links (they follow its current broadcast, then its latest recording). */
  const links = (stageId: string) => stageLinks(opts.viewerBase(stageId), stageId);
  const recordingEntry = (r: Recording) => ({ ...r, stageId: stageOf(r), ...broadcastLinks(opts.viewerBase(stageOf(r)), r.id) });
  /** The stage's broadcasts, newest first: the one in memory (live, or ended and not yet in the index), then its recordings. */
  const stageBroadcasts = async (stageId: string) => {
    const recorded = (opts.recordings?.ofStage(stageId) ?? []).map(recordingEntry).reverse();
    const current = await broadcasts.status(stageId);
    const inMemory =
      current && !recorded.some((r) => r.id === current.id)
        ? [{ id: current.id, stageId, state: current.state, ...(current.startedAt ? { startedAt: current.startedAt } : {}), ...(current.endedAt ? { endedAt: current.endedAt } : {}), ...broadcastLinks(opts.viewerBase(stageId), current.id) }]
        : [];
    return [...inMemory, ...recorded.map((r) => ({ ...r, state: 'recorded' as const }))];
  };
  const describe = (id: string) => {
    const stage = sfu.getStage(id);
    if (!stage) throw new InputError('unknown-stage', `no stage ${id}`, 404);
    const placement = opts.placement?.(id);
    return { id: stage.id, hosts: stage.hostCount, producers: stage.producers, ...links(id), ...(placement ? { placement } : {}) };
  };
  const hostOf = (stageId: string, hostId: string) => {
    const stage = sfu.getStage(stageId);
    if (!stage) throw new InputError('unknown-stage', `no stage ${stageId}`, 404);
    const host = stage.getHost(hostId);
    if (!host) throw new InputError('unknown-host', `no host ${hostId} on stage ${stageId}`, 404);
    return host;
  };
  /** The hosts of a stage as the owner sees them. */
  const hostList = (stageId: string) => {
    const speaker = broadcasts.get(stageId)?.speaker;
    return (sfu.getStage(stageId)?.hosts ?? []).map((h) => ({
      id: h.id,
      ...(h.name ? { name: h.name } : {}),
      role: h.role,
      joinedAt: new Date(h.joinedAt).toISOString(),
      producers: h.producers,
      muted: { ...h.muted },
      speaking: h.id === speaker,
    }));
  };
  const broadcastStatus = async (stageId: string) => {
    const status = await broadcasts.status(stageId);
    return status ? { ...status, viewers: opts.viewers.count(status.id), links: broadcastLinks(opts.viewerBase(stageId), status.id) } : null;
  };
  const hostUrl = (stageId: string, token: string) =>
    `${opts.publicUrl()}/host/?stage=${encodeURIComponent(stageId)}#token=${encodeURIComponent(token)}`;

  router.post('/stages', async (req, res) => {
    const body = createStageBody.safeParse(req.body ?? {});
    if (!body.success) throw new InputError('invalid-request', body.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    const stage = await sfu.createStage(body.data.id);
    const hostToken = sfu.issueHostToken(stage.id, { role: body.data.role ?? 'host', ...(body.data.hostName ? { name: body.data.hostName } : {}) });
    res.status(201).json({ ...describe(stage.id), hostToken, hostUrl: hostUrl(stage.id, hostToken) });
  });
  router.get('/stages', (_req, res) => {
    res.json({ stages: sfu.stages.map((s) => describe(s.id)) });
  });
  router.get('/stages/:id', async (req, res) => {
    const stage = describe(req.params.id);
    res.json({
      ...stage,
      hostList: hostList(req.params.id),
      layout: broadcasts.layoutOf(req.params.id),
      broadcast: await broadcastStatus(req.params.id),
      broadcasts: await stageBroadcasts(req.params.id),
    });
  });
  router.put('/stages/:id/layout', async (req, res) => {
    const body = layoutBody.safeParse(req.body ?? {});
    if (!body.success) throw invalid(body.error, 'expected { mode: "grid" | "speaker" }');
    res.json({ layout: await broadcasts.setLayout(req.params.id, body.data.mode) });
  });
  router.post('/stages/:id/hosts/:hostId/mute', async (req, res) => {
    const host = hostOf(req.params.id, req.params.hostId);
    const body = muteBody.safeParse(req.body ?? {});
    if (!body.success) throw invalid(body.error, 'expected { audio?: boolean, video?: boolean }');
    if (body.data.audio !== undefined) await host.setMuted('audio', body.data.audio);
    if (body.data.video !== undefined) await host.setMuted('video', body.data.video);
    res.json(hostList(req.params.id).find((h) => h.id === host.id));
  });
  router.delete('/stages/:id/hosts/:hostId', (req, res) => {
    hostOf(req.params.id, req.params.hostId).remove('removed by the stage owner');
    res.status(204).end();
  });
  /** Every recording (oldest first), and the same grouped by stage with each stage's stable links. */
  router.get('/recordings', (_req, res) => {
    // The list leaves each timeline out (an event's worth of speaker turns): GET /recordings/:id has it.
    const all = (opts.recordings?.list() ?? []).map(({ timeline: _timeline, ...r }) => recordingEntry(r));
    const byStage = new Map<string, typeof all>();
    for (const r of all) byStage.set(r.stageId, [...(byStage.get(r.stageId) ?? []), r]);
    res.json({ recordings: all, stages: [...byStage].map(([stageId, recordings]) => ({ stageId, ...links(stageId), recordings })) });
  });
  /** One recording with its timeline (speaker turns, hosts, layouts) and its chapters' URL. */
  router.get('/recordings/:id', (req, res) => {
    const r = opts.recordings?.get(req.params.id);
    if (!r) throw new InputError('unknown-recording', `no recording ${req.params.id}`, 404);
    const entry = recordingEntry(r);
    res.json({ ...entry, timeline: r.timeline ?? [], chaptersUrl: `${entry.hlsUrl.slice(0, entry.hlsUrl.lastIndexOf('/'))}/chapters.vtt` });
  });
  router.post('/stages/:id/live', async (req, res) => {
    describe(req.params.id);
    await broadcasts.goLive(req.params.id);
    res.status(201).json({ ...links(req.params.id), broadcast: await broadcastStatus(req.params.id) });
  });
  /** One caption cue for the stage's live broadcast (app/captionIngest.ts; the WebSocket form takes the same cues). */
  router.post('/stages/:id/captions', async (req, res) => {
    describe(req.params.id);
    res.status(201).json(await broadcasts.addCaption(req.params.id, parseCue(req.body ?? {})));
  });
  router.post('/stages/:id/stop', async (req, res) => {
    await broadcasts.stop(req.params.id);
    res.json({ ...links(req.params.id), broadcast: await broadcastStatus(req.params.id) });
  });
  router.post('/stages/:id/host-tokens', (req, res) => {
    const body = createStageBody.omit({ id: true }).safeParse(req.body ?? {});
    if (!body.success) throw new InputError('invalid-request', 'expected { hostName?, role? }');
    describe(req.params.id);
    const hostToken = sfu.issueHostToken(req.params.id, { role: body.data.role ?? 'host', ...(body.data.hostName ? { name: body.data.hostName } : {}) });
    res.status(201).json({ hostToken, hostUrl: hostUrl(req.params.id, hostToken) });
  });
  /**
   * A signed, expiring viewer URL for the stage's broadcast. The expiry is
   * rounded up to expiryGranularitySeconds so viewers in one window share URLs
   * (one CDN object for all of them); `expiresAt` says the real expiry.
   */
  router.post('/stages/:id/viewer-tokens', (req, res) => {
    const { secret, expiryGranularitySeconds: g, maxTtlSeconds } = opts.viewerAuth;
    if (!secret) throw new InputError('viewer-auth-off', 'viewer tokens are not configured (viewerAuth.secret)', 404);
    const body = viewerTokenBody.safeParse(req.body ?? {});
    if (!body.success) throw new InputError('invalid-request', 'expected { ttlSeconds?: positive integer }');
    const ttl = body.data.ttlSeconds ?? 3600;
    if (ttl > maxTtlSeconds) throw new InputError('invalid-request', `ttlSeconds must be at most ${maxTtlSeconds}`);
    describe(req.params.id);
    const now = Math.floor(Date.now() / 1000);
    const exp = Math.ceil((now + ttl) / g) * g;
    const token = signViewerToken({ broadcastId: req.params.id, exp }, secret);
    const base = `${opts.viewerBase(req.params.id)}${signedLivePath(req.params.id, token)}`;
    const hlsUrl = `${base}/master.m3u8`;
    res.status(201).json({
      token,
      expiresAt: new Date(exp * 1000).toISOString(),
      hlsUrl,
      dashUrl: `${base}/manifest.mpd`,
      viewerUrl: `${opts.viewerBase(req.params.id)}/watch/?src=${encodeURIComponent(hlsUrl)}`,
    });
  });
  /**
   * A WHEP seat link for the stage (the front row: producers, moderators,
   * guests who may be invited on stage). Any number of viewers may hold the
   * token; the stage's seat limit (`ingest.whep.maxViewersPerStage`) is
   * enforced when they connect. The watch page takes it in the fragment, so
   * it reaches no server log or Referer.
   */
  router.post('/stages/:id/whep-tokens', (req, res) => {
    if (!sfu.config.whep.enabled) throw new InputError('whep-off', 'WHEP playback is not enabled (STAGECAST_WHEP=1)', 404);
    const body = viewerTokenBody.safeParse(req.body ?? {});
    if (!body.success) throw new InputError('invalid-request', 'expected { ttlSeconds?: positive integer }');
    const ttl = body.data.ttlSeconds ?? 3600;
    if (ttl > opts.viewerAuth.maxTtlSeconds) throw new InputError('invalid-request', `ttlSeconds must be at most ${opts.viewerAuth.maxTtlSeconds}`);
    describe(req.params.id);
    const exp = Math.floor(Date.now() / 1000) + ttl;
    const token = signWhepToken({ stageId: req.params.id, exp }, sfu.config.hostTokenSecret);
    const whepUrl = `${opts.publicUrl()}/whep/${encodeURIComponent(req.params.id)}`;
    res.status(201).json({
      token,
      expiresAt: new Date(exp * 1000).toISOString(),
      whepUrl,
      watchUrl: `${opts.publicUrl()}/watch/whep.html?stage=${encodeURIComponent(req.params.id)}#token=${encodeURIComponent(token)}`,
    });
  });
  router.delete('/stages/:id', async (req, res) => {
    sfu.closeStage(req.params.id);
    broadcasts.forget(req.params.id);
    await broadcasts.get(req.params.id)?.stop('stage closed');
    res.status(204).end();
  });

  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof InputError) {
      res.status(err.status).json({ error: { code: err.code, message: err.message } });
      return;
    }
    const status = (err as { status?: number; type?: string }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      // express.json's own errors: bad JSON, too large.
      res.status(status).json({ error: { code: 'invalid-request', message: (err as Error).message } });
      return;
    }
    if (err instanceof Error && (err.name === 'DependencyError' || err.name === 'InvalidStateError')) {
      // FFmpeg missing, ports exhausted, a start that timed out: say what, as a 503.
      res.status(503).json({ error: { code: (err as { code?: string }).code ?? 'unavailable', message: err.message } });
      return;
    }
    opts.logger.error({ err }, 'control API request failed');
    res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
  });
  return router;
}

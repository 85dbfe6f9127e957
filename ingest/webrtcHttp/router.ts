import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { ClientRateLimiter, InputError, InvalidStateError, bearerToken, type Logger } from '../../common/index.ts';

/** What the HTTP side needs of WHIP's or WHEP's sessions: both are an SDP offer in, an answer and a session URL out. */
export interface SdpSessionEndpoint<A> {
  /** Checks the bearer token before the body is read (401/403/404). */
  authorize(stageId: string, token: string | undefined): A;
  create(auth: A, token: string, sdp: unknown, remote?: string): Promise<{ id: string; etag: string; answer: string }>;
  get(stageId: string, sessionId: string): unknown;
  delete(stageId: string, sessionId: string, token: string | undefined): void;
}

export interface SessionRouterOptions {
  /** Largest body read (413 beyond). */
  maxOfferBytes: number;
  /** Requests per second per client IP, and the burst above it (429 beyond). */
  ratePerSecond: number;
  rateBurst: number;
  logger: Logger;
  /** The protocol's name in messages and logs (default WHIP). */
  label?: 'WHIP' | 'WHEP';
}

const ENDPOINT_METHODS = 'OPTIONS, POST';
const SESSION_METHODS = 'OPTIONS, DELETE';

/** The authorization a POST passed, kept from the check before the body to the handler after it. */
const authOf = new WeakMap<Request, unknown>();

const bearer = (req: Request): string | undefined => bearerToken(req.get('authorization'));

/**
 * The WHIP endpoint (RFC 9725), to mount at `/whip`, or with `label: 'WHEP'`
 * the WHEP one (the same exchange, session URL, CORS, rate limit and errors):
 * - `POST /:stageId` with `Content-Type: application/sdp` and a host token as
 *   `Authorization: Bearer` → `201` with the SDP answer, `Location` and `ETag`;
 * - `DELETE /:stageId/:sessionId` ends the session;
 * - `OPTIONS` answers CORS preflights; `PATCH` is `405`: this ICE-lite server
 *   gives every candidate in the answer and needs none of the client's, and it
 *   does no ICE restart (a client reconnects with a new POST).
 * Errors are `{ error: { code, message } }` with the RFC's statuses.
 */
export function createSessionRouter<A>(sessions: SdpSessionEndpoint<A>, opts: SessionRouterOptions): Router {
  const label = opts.label ?? 'WHIP';
  const router = express.Router();
  // Per client IP (`req.ip`: honours `trust proxy`), in bounded memory.
  const limiter = new ClientRateLimiter({ perSecond: opts.ratePerSecond, burst: opts.rateBurst });
  const readSdp = express.text({ type: () => true, limit: opts.maxOfferBytes });

  // CORS: browsers publish from other origins; bearer tokens, not cookies, so any origin may.
  router.use((req, res, next) => {
    res.set({
      'Access-Control-Allow-Origin': '*',
      'Access-Control-Expose-Headers': 'Location, ETag, Link, Accept-Post, Allow',
    });
    if (!limiter.take(req.ip ?? req.socket.remoteAddress ?? 'unknown')) {
      res.set('Retry-After', '1');
      next(new InputError('rate-limited', `too many ${label} requests from this address; retry later`, 429));
      return;
    }
    next();
  });

  const preflight = (methods: string) => (_req: Request, res: Response) => {
    res
      .status(204)
      .set({
        Allow: methods,
        'Access-Control-Allow-Methods': methods,
        'Access-Control-Allow-Headers': 'Authorization, Content-Type, If-Match',
        'Access-Control-Max-Age': '600',
        ...(methods === ENDPOINT_METHODS ? { 'Accept-Post': 'application/sdp' } : {}),
      })
      .end();
  };

  router.options('/:stageId', preflight(ENDPOINT_METHODS));
  router.post(
    '/:stageId',
    (req, _res, next) => {
      // Refuse before reading the body: wrong type, no right to publish, or too large.
      if (!req.is('application/sdp')) {
        throw new InputError('unsupported-media-type', `the offer must be sent as Content-Type: application/sdp (got ${req.get('content-type')?.slice(0, 100) ?? 'none'})`, 415);
      }
      authOf.set(req, sessions.authorize(req.params.stageId!, bearer(req)));
      const length = Number(req.get('content-length'));
      if (length > opts.maxOfferBytes) throw new InputError('offer-too-large', `the offer is ${length} bytes; at most ${opts.maxOfferBytes} are accepted`, 413);
      next();
    },
    readSdp,
    async (req, res) => {
      const session = await sessions.create(authOf.get(req) as A, bearer(req)!, req.body, req.ip);
      // Exactly `application/sdp` (res.send would add a charset, which some WHIP clients refuse).
      res
        .status(201)
        .set({
          'Content-Type': 'application/sdp',
          Location: `${req.baseUrl}/${encodeURIComponent(req.params.stageId!)}/${session.id}`,
          ETag: session.etag,
        })
        .end(session.answer);
    },
  );
  router.all('/:stageId', (_req, res) => {
    res.set('Allow', ENDPOINT_METHODS);
    throw new InputError('method-not-allowed', `a ${label} endpoint takes ${ENDPOINT_METHODS}`, 405);
  });

  const session = (req: Request) => {
    const { stageId, sessionId } = req.params as { stageId: string; sessionId: string };
    const s = sessions.get(stageId, sessionId);
    if (!s) throw new InputError('unknown-session', `no ${label} session ${sessionId} on stage ${stageId}`, 404);
    return s;
  };
  router.options('/:stageId/:sessionId', preflight(SESSION_METHODS));
  router.delete('/:stageId/:sessionId', (req, res) => {
    sessions.delete(req.params.stageId!, req.params.sessionId!, bearer(req));
    res.status(200).end();
  });
  router.patch('/:stageId/:sessionId', (req, res) => {
    session(req);
    res.set('Allow', SESSION_METHODS);
    throw new InputError(
      'method-not-allowed',
      'trickle ICE and ICE restarts are not supported: the answer carries every candidate of this ICE-lite server; to reconnect, POST a new offer',
      405,
    );
  });
  router.all('/:stageId/:sessionId', (req, res) => {
    session(req);
    res.set('Allow', SESSION_METHODS);
    throw new InputError('method-not-allowed', `a ${label} session takes ${SESSION_METHODS}`, 405);
  });

  router.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const { status, code, message } = classify(err);
    if (status >= 500 && status !== 503) opts.logger.error({ err, path: req.path }, `${label} request failed`);
    else opts.logger.debug({ status, code, message, path: req.path, remote: req.ip }, `${label} request refused`);
    if (status === 401) res.set('WWW-Authenticate', 'Bearer');
    if (status === 503) res.set('Retry-After', '10');
    if (status === 415) res.set('Accept-Post', 'application/sdp');
    res.status(status).json({ error: { code, message } });
  });
  return router;
}

function classify(err: unknown): { status: number; code: string; message: string } {
  if (err instanceof InputError) return { status: err.status, code: err.code, message: err.message };
  if (err instanceof InvalidStateError) return { status: 409, code: 'invalid-state', message: err.message };
  const e = err as { status?: number; type?: string; message?: string };
  // body-parser's own errors: too large, bad charset, aborted upload.
  if (e?.type === 'entity.too.large') return { status: 413, code: 'offer-too-large', message: 'the offer is too large' };
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return { status: e.status, code: 'invalid-request', message: e.message ?? 'bad request' };
  return { status: 500, code: 'internal', message: 'internal error' };
}

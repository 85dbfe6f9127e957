import { createHmac, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { InputError, stageOfBroadcast } from '../common/index.ts';
import { ID_PATTERN } from './broadcast.ts';
import { cacheControl } from './naming.ts';

/**
 * Signed, expiring viewer URLs, verified at the origin.
 *
 * The token sits in the path, before the broadcast id:
 * `/live/t/<broadcast>.<exp>.<sig>/<broadcast>/master.m3u8`, with
 * `sig = base64url(HMAC-SHA256(secret, "stagecast-viewer/v1/<broadcast>/<exp>"))`.
 * Why the path and not `?token=`:
 * - every URI in our playlists and MPD is relative, so the player resolves
 *   child URIs against the signed path and they carry the token unchanged: no
 *   playlist rewriting, and the bodies stay identical for every token;
 * - a CDN caches by URL without special configuration. Tokens are per broadcast
 *   and expiry (not per viewer), and the API rounds the expiry up to
 *   `expiryGranularitySeconds`, so every viewer given a URL in the same window
 *   shares one URL prefix and so one cached object per playlist version/part.
 *   (A query token would either be in the CDN cache key, which splits the cache
 *   per token just the same, or be left out of it, and then the playlist's
 *   child URIs could not carry it without per-viewer rewriting that a cache
 *   would then serve to everyone.)
 */
export interface ViewerTokenClaims {
  broadcastId: string;
  /** Expiry, Unix seconds. */
  exp: number;
}

const TOKEN_PATTERN = /^([A-Za-z0-9_-]{1,96})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

const signature = (broadcastId: string, exp: number, secret: string): Buffer =>
  createHmac('sha256', secret).update(`stagecast-viewer/v1/${broadcastId}/${exp}`).digest();

export function signViewerToken(claims: ViewerTokenClaims, secret: string): string {
  if (secret.length < 16) throw new TypeError('viewer token secret must be at least 16 characters');
  if (!ID_PATTERN.test(claims.broadcastId)) throw new TypeError(`invalid broadcast id ${JSON.stringify(claims.broadcastId)}`);
  if (!Number.isSafeInteger(claims.exp) || claims.exp < 0) throw new TypeError('exp must be a non-negative integer');
  return `${claims.broadcastId}.${claims.exp}.${signature(claims.broadcastId, claims.exp, secret).toString('base64url')}`;
}

/**
 * Checks a viewer token for a broadcast: malformed, forged (bad signature),
 * expired, or for another broadcast → a 403 InputError whose code says which.
 */
export function verifyViewerToken(token: string, secret: string, expect: { broadcastId: string; nowSeconds: number }): ViewerTokenClaims {
  const m = TOKEN_PATTERN.exec(token);
  if (!m) throw new InputError('token-malformed', 'viewer token is malformed', 403);
  const [, broadcastId, expText, sig] = m as unknown as [string, string, string, string];
  const exp = Number(expText);
  const given = Buffer.from(sig, 'base64url');
  const wanted = signature(broadcastId, exp, secret);
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) throw new InputError('token-invalid', 'viewer token signature is invalid', 403);
  if (exp <= expect.nowSeconds) throw new InputError('token-expired', 'viewer token has expired', 403);
  // A token for a stage covers the stage's stable link and every broadcast of that stage.
  if (broadcastId !== expect.broadcastId && broadcastId !== stageOfBroadcast(expect.broadcastId)) {
    throw new InputError('token-wrong-broadcast', 'viewer token is for another broadcast', 403);
  }
  return { broadcastId, exp };
}

export interface ViewerAuthOptions {
  secret: string;
  /** Refuse `/live/<broadcast>/…` without a token (else both forms are served). */
  required: boolean;
  now?: () => number;
}

/**
 * Express middleware, mounted at the app's root before the origin: a
 * `/live/t/<token>/<broadcast>/…` request is verified and rewritten to
 * `/live/<broadcast>/…` for the origin; a tokenless `/live/…` request is 403
 * when tokens are required. Refusals are `no-store` (a CDN must not cache them)
 * and carry CORS so a player sees the status.
 */
export function viewerAuthMiddleware(opts: ViewerAuthOptions): (req: Request, res: Response, next: NextFunction) => void {
  const now = opts.now ?? (() => Date.now() / 1000);
  const refuse = (res: Response, code: string, message: string) => {
    res
      .status(403)
      .setHeader('Cache-Control', cacheControl.error)
      .setHeader('Access-Control-Allow-Origin', '*')
      .type('text/plain')
      .send(`${code}: ${message}`);
  };
  const check = signedUrlChecker(opts);
  return (req, res, next) => {
    const url = req.url;
    if (!url.startsWith('/live/')) return next();
    if (req.method === 'OPTIONS') return next(); // CORS preflight carries no credentials
    const c = check(url, now());
    if (c.kind === 'refused') return refuse(res, c.code, c.message);
    req.url = c.url;
    next();
  };
}

export type SignedUrlCheck = { kind: 'signed' | 'unsigned'; url: string } | { kind: 'refused'; code: string; message: string };

/**
 * The check behind the middleware, framework-free (the origin's hot path asks
 * it too): a signed `/live/t/<token>/<broadcast>/…` verified and unwrapped to
 * `/live/<broadcast>/…`, an unsigned URL passed when tokens are not required,
 * anything else refused with the reason. Tokens verified once are remembered
 * until they expire (a crowd shares one URL per window: one HMAC, not one per
 * request); at most 10,000 are kept.
 */
export function signedUrlChecker(opts: ViewerAuthOptions): (url: string, nowSeconds: number) => SignedUrlCheck {
  const verified = new Map<string, number>();
  return (url, nowSeconds) => {
    const m = /^\/live\/t\/([^/?]*)(\/[^?]*)?(\?.*)?$/.exec(url);
    if (!m) {
      if (opts.required) return { kind: 'refused', code: 'token-required', message: 'this origin serves signed viewer URLs only' };
      return { kind: 'unsigned', url };
    }
    const [, token = '', rest = '', query = ''] = m;
    const broadcastId = /^\/([^/]+)\//.exec(rest)?.[1] ?? '';
    const key = `${token}|${broadcastId}`;
    const exp = verified.get(key);
    if (exp === undefined || exp <= nowSeconds) {
      try {
        const claims = verifyViewerToken(decodeURIComponent(token), opts.secret, { broadcastId, nowSeconds: Math.floor(nowSeconds) });
        if (verified.size >= 10_000) verified.clear();
        verified.set(key, claims.exp);
      } catch (err) {
        verified.delete(key);
        if (err instanceof InputError) return { kind: 'refused', code: err.code, message: err.message };
        if (err instanceof URIError) return { kind: 'refused', code: 'token-malformed', message: 'viewer token is malformed' };
        throw err;
      }
    }
    return { kind: 'signed', url: `/live${rest}${query}` };
  };
}

export function signedLivePath(broadcastId: string, token: string): string {
  return `/live/t/${token}/${broadcastId}`;
}

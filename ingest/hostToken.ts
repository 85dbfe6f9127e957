import { createHmac, timingSafeEqual } from 'node:crypto';
import { InputError } from '../common/index.ts';

/** What a host may publish on a stage. */
export type HostRole = 'host' | 'host-audio';

export interface HostTokenClaims {
  /** The stage the token admits to. */
  stageId: string;
  role: HostRole;
  /** Display name of the host, shown to the stage owner. */
  name?: string;
  /** Expiry, Unix seconds. */
  exp: number;
}

const encode = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/**
 * Signs host token claims: base64url(JSON claims) "." base64url(HMAC-SHA256).
 * Stateless, so any node holding the secret can verify it.
 */
export function signHostToken(claims: HostTokenClaims, secret: string): string {
  if (secret.length < 16) throw new TypeError('host token secret must be at least 16 characters');
  const body = encode(JSON.stringify({ stg: claims.stageId, role: claims.role, name: claims.name, exp: claims.exp }));
  return `${body}.${encode(createHmac('sha256', secret).update(body).digest())}`;
}

/**
 * Verifies a host token for a stage. A token that is malformed, forged or
 * expired is a 401; a valid token for another stage or a role that may not do
 * this is a 403.
 */
export function verifyHostToken(
  token: unknown,
  secret: string,
  expect: { stageId: string; nowSeconds: number },
): HostTokenClaims {
  if (typeof token !== 'string' || token.length === 0 || token.length > 2048) {
    throw new InputError('unauthorized', 'missing or malformed host token', 401);
  }
  const dot = token.indexOf('.');
  if (dot <= 0 || dot !== token.lastIndexOf('.')) {
    throw new InputError('unauthorized', 'malformed host token', 401);
  }
  const body = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  const wanted = createHmac('sha256', secret).update(body).digest();
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
    throw new InputError('unauthorized', 'host token signature is invalid', 401);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    throw new InputError('unauthorized', 'malformed host token', 401);
  }
  const c = raw as { stg?: unknown; role?: unknown; name?: unknown; exp?: unknown };
  if (typeof c.stg !== 'string' || (c.role !== 'host' && c.role !== 'host-audio') || typeof c.exp !== 'number') {
    throw new InputError('unauthorized', 'host token claims are incomplete', 401);
  }
  if (c.exp <= expect.nowSeconds) {
    throw new InputError('token-expired', 'host token has expired', 401);
  }
  if (c.stg !== expect.stageId) {
    throw new InputError('forbidden', 'host token is for another stage', 403);
  }
  return { stageId: c.stg, role: c.role, exp: c.exp, ...(typeof c.name === 'string' ? { name: c.name } : {}) };
}

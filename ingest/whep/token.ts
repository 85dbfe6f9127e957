import { createHmac, timingSafeEqual } from 'node:crypto';
import { InputError } from '../../common/index.ts';

/**
 * A WHEP viewer token: the right to one WebRTC seat on a stage's program until
 * `exp`. Signed with the SFU's host-token secret under its own domain
 * ("stagecast-whep/v1"), so a host token is never a viewer token, nor the
 * reverse. Format: `<stage>.<exp>.<base64url HMAC-SHA256>`.
 */
export interface WhepTokenClaims {
  stageId: string;
  /** Expiry, Unix seconds. */
  exp: number;
}

const TOKEN = /^([A-Za-z0-9_-]{1,64})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

const mac = (stageId: string, exp: number, secret: string): Buffer => createHmac('sha256', secret).update(`stagecast-whep/v1/${stageId}/${exp}`).digest();

export function signWhepToken(claims: WhepTokenClaims, secret: string): string {
  if (secret.length < 16) throw new TypeError('the token secret must be at least 16 characters');
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(claims.stageId)) throw new TypeError(`invalid stage id ${JSON.stringify(claims.stageId)}`);
  if (!Number.isSafeInteger(claims.exp) || claims.exp < 0) throw new TypeError('exp must be a non-negative integer');
  return `${claims.stageId}.${claims.exp}.${mac(claims.stageId, claims.exp, secret).toString('base64url')}`;
}

/** Checks a WHEP token for a stage: missing, malformed, forged or expired → 401; another stage's → 403. */
export function verifyWhepToken(token: unknown, secret: string, expect: { stageId: string; nowSeconds: number }): WhepTokenClaims {
  if (typeof token !== 'string' || token.length === 0) throw new InputError('unauthorized', 'a WHEP viewer token is required: Authorization: Bearer <token>', 401);
  const m = TOKEN.exec(token);
  if (!m) throw new InputError('unauthorized', 'malformed WHEP viewer token', 401);
  const [, stageId, expText, sig] = m as unknown as [string, string, string, string];
  const exp = Number(expText);
  const given = Buffer.from(sig, 'base64url');
  const wanted = mac(stageId, exp, secret);
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) throw new InputError('unauthorized', 'WHEP viewer token signature is invalid', 401);
  if (exp <= expect.nowSeconds) throw new InputError('token-expired', 'WHEP viewer token has expired', 401);
  if (stageId !== expect.stageId) throw new InputError('forbidden', 'WHEP viewer token is for another stage', 403);
  return { stageId, exp };
}

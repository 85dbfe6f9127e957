import { createHash, timingSafeEqual } from 'node:crypto';

/** `Bearer`, one or more spaces, one token68-ish word (RFC 6750 §2.1; the scheme is case-insensitive, RFC 9110 §11.1). */
const BEARER = /^Bearer +(\S+)$/i;

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** The token of an `Authorization: Bearer <token>` header; undefined for no header, another scheme or a bare token. */
export function bearerToken(header: string | undefined): string | undefined {
  return BEARER.exec(header?.trim() ?? '')?.[1];
}

/**
 * Whether `header` is `Bearer <token>`. Both sides are hashed and the digests
 * compared in constant time, so neither the token's length nor where a guess
 * goes wrong leaks. An empty expected token never matches.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const given = bearerToken(header);
  const same = timingSafeEqual(digest(given ?? ''), digest(token));
  return same && given !== undefined;
}

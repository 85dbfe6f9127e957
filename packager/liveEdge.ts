/**
 * What the origin holds a request for at the live edge, decided apart from
 * HTTP: the LL-HLS delivery directives of a media playlist request (RFC
 * 8216bis §6.2.5) and the wait they mean, and the wait for a preload-hinted
 * part. The Express routes (origin.ts) and the hot path (originHotPath.ts)
 * both ask here, so they hold and refuse exactly alike.
 */
import { InputError } from '../common/index.ts';
import type { Broadcast } from './broadcast.ts';
import type { Track } from './track.ts';
import type { Part } from './types.ts';

export interface Directives {
  msn: number | undefined;
  part: number | undefined;
  skip: 'NO' | 'YES' | 'v2';
}

const INT = /^\d{1,12}$/;

/**
 * The directives from the query's values (`get` returns undefined when absent).
 * 400 rules (as gohlslib and OvenMediaEngine answer): `_HLS_part` without
 * `_HLS_msn`; `_HLS_msn`/`_HLS_part` not a non-negative integer; `_HLS_skip`
 * other than YES or v2.
 */
export function parseDirectives(get: (name: string) => unknown): Directives {
  const int = (name: string): number | undefined => {
    const v = get(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !INT.test(v)) throw new InputError('bad-directive', `${name} must be a non-negative integer`);
    return Number(v);
  };
  const msn = int('_HLS_msn');
  const part = int('_HLS_part');
  const skip = get('_HLS_skip');
  if (part !== undefined && msn === undefined) throw new InputError('bad-directive', '_HLS_part requires _HLS_msn');
  if (skip !== undefined && skip !== 'YES' && skip !== 'v2') throw new InputError('bad-directive', '_HLS_skip must be YES or v2');
  return { msn, part, skip: (skip ?? 'NO') as Directives['skip'] };
}

/** 400 when `_HLS_msn` is more than one beyond the last segment the playlist lists. */
export function checkReach(b: Broadcast, track: Track, d: Directives): void {
  if (d.msn === undefined || b.ended) return;
  const last = track.current ? track.current.msn : -1; // the segment whose parts are last in the playlist
  if (d.msn > last + 1) throw new InputError('bad-directive', `_HLS_msn=${d.msn} is beyond the next segment (${last + 1})`);
}

/**
 * Waits until the playlist holds what the directives ask for (blocking reload,
 * bounded by `timeoutMs`): true when it does (or nothing to wait for), false
 * on timeout (answer 503) or when the client went away.
 */
export async function awaitDirectives(b: Broadcast, track: Track, d: Directives, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
  if (d.msn === undefined || b.ended) return true;
  const ok = await track.waitForPart(d.msn, d.part, timeoutMs, signal);
  return ok || b.ended;
}

/** A part that is not there yet but will be soon: the one the preload hint names (or the one after). */
export function partIsComing(b: Broadcast, track: Track, msn: number, index: number): boolean {
  const cur = track.current;
  return cur !== undefined && !b.ended && msn >= cur.msn && msn <= cur.msn + 1 && index <= 64;
}

/** The part, held until it lands when it is coming (bounded by `timeoutMs`); undefined when it is not there. */
export async function livePart(
  b: Broadcast,
  track: Track,
  msn: number,
  index: number,
  timeoutMs: number,
  hold: () => { signal: AbortSignal; release: () => void },
): Promise<Part | undefined> {
  const find = () => track.segment(msn)?.parts[index];
  const part = find();
  if (part || !partIsComing(b, track, msn, index)) return part;
  const h = hold();
  await track.waitForPart(msn, index, timeoutMs, h.signal);
  h.release();
  return find();
}

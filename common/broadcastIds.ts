/**
 * Broadcast ids: each go-live of a stage is its own broadcast with its own
 * objects, `<stageId>-<UTC start, YYYYMMDDTHHMMSSZ>` (and `-<n>` should two
 * start in one second), so nothing of an earlier broadcast is ever rewritten.
 * The stage's name stays the stable link (`/live/<stageId>/master.m3u8`
 * redirects to its current broadcast). Ids are at most 96 characters: a
 * 64-character stage id and the stamp fit.
 */
export const BROADCAST_ID_PATTERN = /^[A-Za-z0-9_-]{1,96}$/;
/** Stage ids: what a stage is named in URLs, the store and the control API. */
export const STAGE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const STAMP_SUFFIX = /-(\d{8}T\d{6}Z)(?:-(\d{1,4}))?$/;

/** The id of a broadcast of `stageId` started at `at`; `n` > 1 tells apart broadcasts started in the same second. */
export function broadcastIdFor(stageId: string, at: Date, n = 1): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return `${stageId}-${stamp}${n > 1 ? `-${n}` : ''}`;
}

/** The stage a broadcast id belongs to (undefined when it carries no start stamp: a stage's own name, or an old id). */
export function stageOfBroadcast(broadcastId: string): string | undefined {
  const m = STAMP_SUFFIX.exec(broadcastId);
  return m && m.index > 0 ? broadcastId.slice(0, m.index) : undefined;
}

/** Whether a name has the shape of a broadcast id (a stage may not be named so: its links would be ambiguous). */
export function looksLikeBroadcastId(name: string): boolean {
  return stageOfBroadcast(name) !== undefined;
}

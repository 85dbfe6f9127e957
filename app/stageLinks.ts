import type { AliasTarget, Packager } from '../packager/index.ts';
import type { Recordings } from './recordings.ts';

export interface ViewerLinks {
  viewerUrl: string;
  dashViewerUrl: string;
  hlsUrl: string;
  dashUrl: string;
}

/** The viewer pages and manifests of `id`, a stage (`?stage=`) or one broadcast (`?broadcast=`): the same paths, one query name. */
function linksOf(base: string, kind: 'stage' | 'broadcast', id: string): ViewerLinks {
  return {
    viewerUrl: `${base}/watch/?${kind}=${id}`,
    dashViewerUrl: `${base}/watch/dash.html?${kind}=${id}`,
    hlsUrl: `${base}/live/${id}/master.m3u8`,
    dashUrl: `${base}/live/${id}/manifest.mpd`,
  };
}

/** A stage's stable links: shareable before the event, they follow its current broadcast. */
export const stageLinks = (base: string, stageId: string): ViewerLinks => linksOf(base, 'stage', stageId);

/** One broadcast's own links (its recording's, once it has ended). */
export const broadcastLinks = (base: string, broadcastId: string): ViewerLinks => linksOf(base, 'broadcast', broadcastId);

/** What the alias needs of the broadcasts in this process: each stage's latest one. */
export interface StageBroadcastSource {
  get(stageId: string): { readonly id: string; readonly state: string } | undefined;
}

/**
 * Resolves `/live/<name>/master.m3u8` (and the MPD) when `name` is a stage:
 * 1. the stage's broadcast while it is starting or live (it has ended: step 3);
 * 2. a broadcast whose own id is `name` is served as itself (recordings made
 *    before broadcasts had their own ids are named after their stage);
 * 3. the stage's latest recording, in memory or in the store's index;
 * 4. nothing: the origin answers 404, the viewer page shows "not live yet".
 * A redirect, not an alias served in place: the playlists' relative URLs then
 * name the broadcast's own objects, which CDNs cache for good, and only the
 * small redirect changes when the stage goes live again.
 */
export function stageAliasResolver(deps: { broadcasts: StageBroadcastSource; packager: Packager; recordings?: Recordings | undefined }): (name: string) => AliasTarget | undefined {
  return (name) => {
    const current = deps.broadcasts.get(name);
    if (current && (current.state === 'starting' || current.state === 'live')) return { broadcastId: current.id, live: true };
    if (deps.packager.getBroadcast(name) || deps.recordings?.get(name)) return undefined;
    if (current && (current.state === 'stopping' || current.state === 'ended')) return { broadcastId: current.id, live: false };
    const latest = deps.recordings?.latestOf(name);
    return latest ? { broadcastId: latest.id, live: false } : undefined;
  };
}

/**
 * packager/: the stage between transcode and the audience. The only file other
 * folders import.
 *
 * Takes in: per track, CMAF byte streams from transcode (an init segment, then
 * fragments; each stream a source session, `Broadcast.openTrack`, or a PUT on
 * the ingest router), and for a broadcast its caption cues, timeline events
 * (speaker turns, hosts, layouts) and one thumbnail per segment.
 *
 * Gives out: `Broadcast` objects (created by the `Packager`) holding parts and
 * segments in memory; LL-HLS playlists and DASH MPDs built from them, served
 * with the media by the origin (router and hot path); init segments,
 * segments, thumbnails and manifests written to the object store, media first.
 */
export { Packager, createPackager, type PackagerDeps, type PackagerEvents } from './packager.ts';
export { Broadcast, type BroadcastEvents, type BroadcastOptions } from './broadcast.ts';
export { Track, type TrackEvents } from './track.ts';
export { createOriginRouter, createIngestRouter, type OriginConfig, type AliasTarget } from './origin.ts';
export { createOriginHotPath, type OriginHotPath, type OriginHotPathOptions, type HotRoute } from './originHotPath.ts';
export { originServerOptions } from './httpServer.ts';
export { packagerConfigSchema, parsePackagerConfig, retryPolicySchema, type PackagerConfig, type PackagerConfigInput, type RetryPolicy } from './config.ts';
export { FsObjectStore, S3ObjectStore, Publisher, type ObjectStore, type ObjectMeta, type StoredObject, type S3StoreOptions } from './store.ts';
export { serializeMediaPlaylist, serializeMultivariantPlaylist, deltaUpdate, type MediaPlaylist, type MultivariantPlaylist, type HlsSegment, type HlsPart } from './hls.ts';
export { serializeMpd, type Mpd, type DashPeriod } from './dash.ts';
export { names } from './naming.ts';
export { TIMELINE_CLASSES, TIMELINE_SCHEME, timelineChaptersVtt, type TimelineEvent, type TimelineKind } from './timeline.ts';
export { CAPTION_LIMITS, type Cue, type CueInput } from './captions.ts';
export type { Part, Segment, InitSegment, InitInfo, FragmentInfo, TrackKind } from './types.ts';
export { signViewerToken, verifyViewerToken, viewerAuthMiddleware, signedUrlChecker, signedLivePath, type ViewerTokenClaims, type ViewerAuthOptions, type SignedUrlCheck } from './viewerAuth.ts';

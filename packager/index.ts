/** packager/: CMAF segmenter, LL-HLS + DASH manifests, origin, object store. The only public surface. */
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
export { names, parseTrackObjectName } from './naming.ts';
export { TIMELINE_CLASSES, TIMELINE_SCHEME, timelineChaptersVtt, type TimelineEvent, type TimelineKind } from './timeline.ts';
export { CAPTION_LIMITS, type Cue, type CueInput } from './captions.ts';
export type { Part, Segment, InitSegment, InitInfo, FragmentInfo, TrackKind } from './types.ts';
export { signViewerToken, verifyViewerToken, viewerAuthMiddleware, signedUrlChecker, signedLivePath, type ViewerTokenClaims, type ViewerAuthOptions, type SignedUrlCheck } from './viewerAuth.ts';

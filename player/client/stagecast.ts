// /watch/stagecast.js: the embeddable piece for sites that play our streams in
// their own hls.js. No hls.js inside: the controller steers the site's instance.
// The whole player with hls.js inside is /watch/stagecast-player.js instead.
export {
  attachLatencyController,
  DEFAULT_CATCH_UP,
  type CatchUpSettings,
  type HlsLike,
  type LatencyController,
  type LatencyControllerOptions,
} from './latencyController.ts';
export { stagecastHlsConfig } from './hlsSettings.ts';
